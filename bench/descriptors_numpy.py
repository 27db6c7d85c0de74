"""
The numpy reference for ssdtune's window descriptors and per-I/O features.

Written from the definitions in src/features/descriptors.ts (the Descriptors
interface and DESCRIPTOR_VECTOR_NAMES) and src/features/perio.ts (windows and
per-I/O features), not from native/src/descriptors.cc: whole-window numpy
expressions (np.percentile, np.unique, stable sorts) where the addon uses
selection, hash tables and one loop. The bench (bench/features.bench.ts) and
the test (test/features-numpy.test.ts) both run this file, through
bench/descriptors-numpy.ts.

As a program:
    python3 descriptors_numpy.py PREFIX WINDOW [--split-by-device] [--per-io]
reads the trace's columns from PREFIX{time,sector,bytes,op,device}.bin (and
PREFIX complete.bin, completion times with NaN where unknown, when present):
float64 time (ns) and sector, uint32 bytes, uint16 op, uint32 device. It cuts
them into windows of WINDOW consecutive requests of one stream (the whole
trace, or each device with --split-by-device; the requests after a stream's
last full window are left out) and prints JSON: the descriptor and vector
names, and per window its stream (device, or -1), index within the stream,
descriptors and vector (and the per-I/O features with --per-io).
"""
import json
import sys

import numpy as np

SECTOR_BYTES = 512
NOMINAL_LATENCY_NS = 100_000.0
REUSE_PAGE_SECTORS = 8
NEAR_JUMP_BYTES = float(1 << 20)
JUMP_CLIP_BYTES = float(16 << 20)
REGION_BYTES = (64 << 10, 1 << 20, 16 << 20)
OP_READ = 1

# The Descriptors interface, in its order.
DESCRIPTORS = [
    "requests", "readRatio", "sizeP10", "sizeP50", "sizeP90", "sizeMode",
    "offsetP10", "offsetP50", "offsetP90", "iatP10", "iatP50", "iatP90", "iatMean", "iatCv",
    "sequentialFraction", "lbaSpanBytes", "reuseFraction", "reuseIntervalMedian",
    "queueDepth", "queueDepthMeasured", "devices",
    "meanLogIat", "stdLogIat", "meanLogOffset", "stdLogOffset", "meanLogSize", "stdLogSize",
    "nearFraction", "jumpMedianBytes", "regions64k", "regions1m", "regions16m",
    "readSizeP50", "writeSizeP50", "readSequentialFraction", "writeSequentialFraction",
    "alignedFraction", "sizeUpTo4k", "size4kTo16k", "size16kTo64k",
]

# The model's vector: a descriptor as it is, or ln(1 + descriptor) when written ln1p(name).
VECTOR = [
    "readRatio", "ln1p(sizeP10)", "ln1p(sizeP50)", "ln1p(sizeP90)", "ln1p(sizeMode)",
    "ln1p(iatP10)", "ln1p(iatP50)", "ln1p(iatP90)", "ln1p(iatMean)", "ln1p(iatCv)",
    "sequentialFraction", "reuseFraction", "ln1p(reuseIntervalMedian)", "ln1p(queueDepth)",
    "meanLogIat", "stdLogIat", "meanLogSize", "stdLogSize",
    "nearFraction", "ln1p(jumpMedianBytes)", "regions64k", "regions1m", "regions16m",
    "ln1p(readSizeP50)", "ln1p(writeSizeP50)", "readSequentialFraction", "writeSequentialFraction",
    "alignedFraction", "sizeUpTo4k", "size4kTo16k", "size16kTo64k",
]

PER_IO = ["logIat", "logOffset", "logSize", "isRead", "device"]


def median_or_zero(x):
    return float(np.median(x)) if x.size else 0.0


def share(mask, among):
    """Share of `among` where `mask` holds; 0 when `among` is empty."""
    k = np.count_nonzero(among)
    return np.count_nonzero(mask & among) / k if k else 0.0


def group_changes(*keys):
    """Sorts by the keys (the last is the primary one), then by position: (order, True where a new key starts)."""
    order = np.lexsort((np.arange(keys[0].size),) + keys)
    new = np.zeros(order.size, dtype=bool)
    new[:1] = True
    for k in keys:
        new[1:] |= k[order][1:] != k[order][:-1]
    return order, new


def distinct_pairs(a, b):
    """Number of distinct (a_i, b_i) pairs."""
    return np.count_nonzero(group_changes(b, a)[1])


def reuse_intervals(dev, page):
    """For each request whose (device, page) started an earlier request: requests since the latest one."""
    order, new = group_changes(page, dev)
    return np.diff(order)[~new[1:]].astype(np.float64)


def describe_window(t, s, b, op, dev, complete=None, prev_time=np.nan):
    """Descriptors (dict, DESCRIPTORS order) and per-I/O features of one window."""
    t = np.asarray(t, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    op = np.asarray(op, dtype=np.int64)
    dev = np.asarray(dev, dtype=np.int64)
    n = t.size
    read = (op & OP_READ) != 0

    # Inter-arrival gaps in µs; the first one to the stream's previous request, 0 at the stream start;
    # negative gaps (out-of-order arrivals) count as 0.
    before = np.concatenate([[prev_time], t[:-1]])
    gap = np.where(np.isnan(before), 0.0, np.clip(t - before, 0.0, None)) / 1000.0
    gap_mean = gap.mean()

    size_p = np.percentile(b, [10, 50, 90])
    sizes, counts = np.unique(b, return_counts=True)  # ascending: argmax takes the smallest of ties
    offset_p = np.percentile(s * SECTOR_BYTES, [10, 50, 90])
    gap_p = np.percentile(gap, [10, 50, 90])

    # Pairs (i-1, i): the jump from the previous request's end, clipped; a device change jumps the clip.
    end_prev = s[:-1] + b[:-1] / SECTOR_BYTES
    same_dev = dev[1:] == dev[:-1]
    jump = np.where(same_dev, np.abs(s[1:] - end_prev) * SECTOR_BYTES, JUMP_CLIP_BYTES)
    contiguous = same_dev & (s[1:] == end_prev)
    pairs = n - 1

    intervals = reuse_intervals(dev, np.floor(s / REUSE_PAGE_SECTORS))

    if complete is None:
        latency = np.full(n, NOMINAL_LATENCY_NS)
        measured = False
    else:
        c = np.asarray(complete, dtype=np.float64)
        ok = np.isfinite(c) & (c >= t)
        latency = np.where(ok, c - t, NOMINAL_LATENCY_NS)
        measured = bool(ok.all())
    horizon = (t + latency).max() - t.min()

    log_iat = np.log1p(gap)
    log_offset = np.log1p(s - s.min())
    log_size = np.log1p(b)

    d = {
        "requests": float(n),
        "readRatio": read.mean(),
        "sizeP10": size_p[0],
        "sizeP50": size_p[1],
        "sizeP90": size_p[2],
        "sizeMode": sizes[np.argmax(counts)],
        "offsetP10": offset_p[0],
        "offsetP50": offset_p[1],
        "offsetP90": offset_p[2],
        "iatP10": gap_p[0],
        "iatP50": gap_p[1],
        "iatP90": gap_p[2],
        "iatMean": gap_mean,
        "iatCv": gap.std() / gap_mean if gap_mean > 0 else 0.0,
        "sequentialFraction": np.count_nonzero(contiguous) / pairs if pairs else 0.0,
        "lbaSpanBytes": ((s + b / SECTOR_BYTES).max() - s.min()) * SECTOR_BYTES,
        "reuseFraction": intervals.size / n,
        "reuseIntervalMedian": median_or_zero(intervals),
        "queueDepth": latency.sum() / horizon if horizon > 0 else 0.0,
        "queueDepthMeasured": 1.0 if measured else 0.0,
        "devices": float(np.unique(dev).size),
        "meanLogIat": log_iat.mean(),
        "stdLogIat": log_iat.std(),
        "meanLogOffset": log_offset.mean(),
        "stdLogOffset": log_offset.std(),
        "meanLogSize": log_size.mean(),
        "stdLogSize": log_size.std(),
        "nearFraction": np.count_nonzero((jump > 0) & (jump <= NEAR_JUMP_BYTES)) / pairs if pairs else 0.0,
        "jumpMedianBytes": median_or_zero(np.minimum(jump, JUMP_CLIP_BYTES)),
        "regions64k": distinct_pairs(dev, np.floor(s * SECTOR_BYTES / REGION_BYTES[0])) / n,
        "regions1m": distinct_pairs(dev, np.floor(s * SECTOR_BYTES / REGION_BYTES[1])) / n,
        "regions16m": distinct_pairs(dev, np.floor(s * SECTOR_BYTES / REGION_BYTES[2])) / n,
        "readSizeP50": median_or_zero(b[read]),
        "writeSizeP50": median_or_zero(b[~read]),
        "readSequentialFraction": share(contiguous, read[1:]),
        "writeSequentialFraction": share(contiguous, ~read[1:]),
        "alignedFraction": np.mean(np.mod(s, REUSE_PAGE_SECTORS) == 0),
        "sizeUpTo4k": np.mean(b <= 4096),
        "size4kTo16k": np.mean((b > 4096) & (b <= 16384)),
        "size16kTo64k": np.mean((b > 16384) & (b <= 65536)),
    }
    assert list(d) == DESCRIPTORS
    # Device ordinals: 0, 1, ... in order of first appearance in the window.
    _, first, which = np.unique(dev, return_index=True, return_inverse=True)
    ordinal = np.argsort(np.argsort(first))[which.reshape(-1)]
    per_io = {"logIat": log_iat, "logOffset": log_offset, "logSize": log_size, "isRead": read.astype(np.float64), "device": ordinal.astype(np.float64)}
    return {k: float(v) for k, v in d.items()}, per_io


def vector(d):
    """The model's vector of one window's descriptors, in VECTOR order."""
    return [float(np.log1p(d[name[5:-1]])) if name.startswith("ln1p(") else d[name] for name in VECTOR]


def windows(cols, size, split_by_device=False):
    """(stream, index, request indices) of every full window: `size` consecutive requests of one stream."""
    dev = cols["device"]
    streams = [(int(x), np.flatnonzero(dev == x)) for x in np.unique(dev)] if split_by_device else [(-1, np.arange(dev.size))]
    for stream, rows in streams:
        for w in range(rows.size // size):
            yield stream, w, rows[w * size:(w + 1) * size], rows[w * size - 1] if w > 0 else None


def describe_trace(cols, size, split_by_device=False, per_io=False):
    """Every full window of a trace (columns as read by read_columns), described."""
    out = []
    t = cols["time"]
    for stream, index, rows, before in windows(cols, size, split_by_device):
        d, f = describe_window(t[rows], cols["sector"][rows], cols["bytes"][rows], cols["op"][rows], cols["device"][rows],
                               None if cols.get("complete") is None else cols["complete"][rows],
                               np.nan if before is None else t[before])
        w = {"stream": stream, "index": index, "descriptors": [d[k] for k in DESCRIPTORS], "vector": vector(d)}
        if per_io:
            w["perIo"] = {k: f[k].tolist() for k in PER_IO}
        out.append(w)
    return out


def read_columns(prefix):
    import os
    cols = {
        "time": np.fromfile(prefix + "time.bin", dtype=np.float64),
        "sector": np.fromfile(prefix + "sector.bin", dtype=np.float64),
        "bytes": np.fromfile(prefix + "bytes.bin", dtype=np.uint32),
        "op": np.fromfile(prefix + "op.bin", dtype=np.uint16),
        "device": np.fromfile(prefix + "device.bin", dtype=np.uint32),
    }
    if os.path.exists(prefix + "complete.bin"):
        cols["complete"] = np.fromfile(prefix + "complete.bin", dtype=np.float64)
    n = cols["time"].size
    for k, v in cols.items():
        if v.size != n:
            raise SystemExit(f"{prefix}{k}.bin holds {v.size} values, {prefix}time.bin {n}")
    return cols


def finite_or_none(x):
    """JSON has no NaN: a non-finite value goes out as null (the reader turns it back into NaN)."""
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite_or_none(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) != 2 or not flags <= {"--split-by-device", "--per-io"}:
        raise SystemExit("usage: descriptors_numpy.py PREFIX WINDOW [--split-by-device] [--per-io]")
    out = describe_trace(read_columns(args[0]), int(args[1]), "--split-by-device" in flags, "--per-io" in flags)
    json.dump(finite_or_none({"descriptors": DESCRIPTORS, "vector": VECTOR, "windows": out}), sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main(sys.argv[1:])
