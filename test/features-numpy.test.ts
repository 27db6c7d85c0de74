/**
 * The addon's window descriptors and per-I/O features (native/src/descriptors.cc)
 * against an independent numpy computation of the definitions in
 * src/features/descriptors.ts and perio.ts, on windows of real traces:
 * Tencent CBS (thousands of volumes interleaved: many devices per window),
 * the Hadoop blkparse trace (measured completion times) and MQSim WebSearch
 * split per device (windows that continue a stream: prevTimeNs is set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers/tmp.js';
import { describeWindow, type Descriptors } from '../src/features/descriptors.js';
import { perIoFeatures, Windower, type RequestWindow, type WindowOptions } from '../src/features/perio.js';
import { openTrace } from '../src/readers/registry.js';

const PY = '/usr/bin/python3';
const probe = spawnSync(PY, ['-c', 'import numpy'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `${PY} has no numpy (${(probe.error?.message ?? probe.stderr).trim().split('\n').pop()}); install python3-numpy`;

// The definitions, written again with numpy (loops where numpy has no primitive).
const SCRIPT = String.raw`
import json, sys, numpy as np
out = []
for w in json.load(open(sys.argv[1])):
    nan = lambda xs: np.array([np.nan if x is None else x for x in xs], dtype=np.float64)
    t = np.array(w["t"], dtype=np.float64); s = np.array(w["s"], dtype=np.float64); b = np.array(w["b"], dtype=np.float64)
    op = np.array(w["op"], dtype=np.int64); dev = np.array(w["d"], dtype=np.int64)
    n = len(t)
    prev = np.concatenate([[np.nan if w["prev"] is None else w["prev"]], t[:-1]])
    g = np.where(np.isnan(prev), 0.0, np.maximum(t - prev, 0.0)) / 1000.0
    first = {}
    for x in dev.tolist(): first.setdefault(x, len(first))
    ords = np.array([first[x] for x in dev.tolist()], dtype=np.int64)
    last = {}; iv = []
    for i in range(n):
        key = (int(ords[i]), int(np.floor(s[i] / 8)))
        if key in last: iv.append(i - last[key])
        last[key] = i
    vals, counts = np.unique(b, return_counts=True)
    if w["c"] is None:
        lat = np.full(n, 1e5); measured = False
    else:
        c = nan(w["c"]); ok = np.isfinite(c) & (c >= t)
        lat = np.where(ok, c - t, 1e5); measured = bool(ok.all())
    end = (t + lat).max()
    lia = np.log1p(g); lof = np.log1p(s - s.min()); lsz = np.log1p(b)
    # Locality: jumps from the previous request's end (a device change jumps 16 MiB), distinct regions.
    same = dev[1:] == dev[:-1]
    jump = np.where(same, np.abs(s[1:] - (s[:-1] + b[:-1] / 512)) * 512, 16 * 2**20)
    contiguous = same & (jump == 0)
    rd = (op & 1) != 0
    regions = lambda sectors: len({(int(o), int(np.floor(x / sectors))) for o, x in zip(ords.tolist(), s.tolist())}) / n
    med = lambda xs: float(np.median(xs)) if len(xs) else 0.0
    share = lambda mask, among: float(np.count_nonzero(mask & among)) / np.count_nonzero(among) if np.count_nonzero(among) else 0.0
    sp = np.percentile(b, [10, 50, 90]); opc = np.percentile(s * 512, [10, 50, 90]); gp = np.percentile(g, [10, 50, 90])
    out.append({
        "requests": n, "readRatio": float(np.count_nonzero(op & 1)) / n,
        "sizeP10": sp[0], "sizeP50": sp[1], "sizeP90": sp[2], "sizeMode": float(vals[np.argmax(counts)]),
        "offsetP10": opc[0], "offsetP50": opc[1], "offsetP90": opc[2],
        "iatP10": gp[0], "iatP50": gp[1], "iatP90": gp[2], "iatMean": g.mean(), "iatCv": g.std() / g.mean() if g.mean() > 0 else 0.0,
        "sequentialFraction": float(np.count_nonzero((dev[1:] == dev[:-1]) & (s[1:] == s[:-1] + b[:-1] / 512))) / (n - 1),
        "lbaSpanBytes": ((s + b / 512).max() - s.min()) * 512,
        "reuseFraction": len(iv) / n, "reuseIntervalMedian": float(np.median(iv)) if iv else 0.0,
        "queueDepth": lat.sum() / (end - t.min()) if end > t.min() else 0.0, "queueDepthMeasured": measured,
        "devices": len(first),
        "meanLogIat": lia.mean(), "stdLogIat": lia.std(), "meanLogOffset": lof.mean(), "stdLogOffset": lof.std(),
        "meanLogSize": lsz.mean(), "stdLogSize": lsz.std(),
        "nearFraction": float(np.count_nonzero((jump > 0) & (jump <= 2**20))) / (n - 1), "jumpMedianBytes": med(np.minimum(jump, 16 * 2**20)),
        "regions64k": regions(128), "regions1m": regions(2048), "regions16m": regions(32768),
        "readSizeP50": med(b[rd]), "writeSizeP50": med(b[~rd]),
        "readSequentialFraction": share(contiguous, rd[1:]), "writeSequentialFraction": share(contiguous, ~rd[1:]),
        "alignedFraction": float(np.count_nonzero(np.mod(s, 8) == 0)) / n,
        "sizeUpTo4k": float(np.count_nonzero(b <= 4096)) / n, "size4kTo16k": float(np.count_nonzero((b > 4096) & (b <= 16384))) / n,
        "size16kTo64k": float(np.count_nonzero((b > 16384) & (b <= 65536))) / n,
        "perIo": {"logIat": lia.tolist(), "logOffset": lof.tolist(), "logSize": lsz.tolist(), "isRead": (op & 1 != 0).astype(int).tolist(), "device": ords.tolist()},
    })
json.dump(out, sys.stdout)
`;

/** Windows number `pick` (in push order, among those `keep` accepts) of a real trace. */
async function windowsOf(file: string, opts: WindowOptions, pick: number[], keep = (_: RequestWindow) => true): Promise<RequestWindow[]> {
  const w = new Windower(opts);
  const all: RequestWindow[] = [];
  for await (const b of await openTrace(path.resolve(file))) {
    all.push(...w.push(b).filter(keep));
    if (all.length > Math.max(...pick)) break;
  }
  return pick.map((i) => all[i]!);
}

type NumpySide = Record<keyof Descriptors, number | boolean> & { perIo: Record<'logIat' | 'logOffset' | 'logSize' | 'isRead' | 'device', number[]> };

test('native descriptors and per-I/O features equal numpy on real trace windows', { skip }, async () => {
  const windows = [
    ...(await windowsOf('traces/tencent_cbs_sample50k.csv.bz2', { size: 3000 }, [0, 7])),
    ...(await windowsOf('traces/blkparse_hadoop_writeback_apress.txt', { size: 3000 }, [0, 3])),
    ...(await windowsOf('traces/mqsim_wsrch-small.trace', { size: 2000, splitByDevice: true }, [0, 5], (w) => w.index > 0)),
  ];
  const dir = tempDir('ssdtune-desc-');
  let py: NumpySide[];
  try {
    const f = path.join(dir, 'windows.json');
    const col = (a: ArrayLike<number>) => Array.from(a, (x) => (Number.isNaN(x) ? null : x));
    writeFileSync(
      f,
      JSON.stringify(
        windows.map((w) => ({
          t: col(w.timeNs),
          s: col(w.sector),
          b: col(w.bytes),
          op: col(w.op),
          d: col(w.device),
          c: w.completeNs ? col(w.completeNs) : null,
          prev: Number.isNaN(w.prevTimeNs) ? null : w.prevTimeNs,
        })),
      ),
    );
    const r = spawnSync(PY, ['-c', SCRIPT, f], { encoding: 'utf8', maxBuffer: 256 << 20 });
    assert.equal(r.status, 0, r.stderr);
    py = JSON.parse(r.stdout) as NumpySide[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-10 * Math.max(1, Math.abs(b)), `${what}: ${a} (native) vs ${b} (numpy)`);
  windows.forEach((w, k) => {
    const d = describeWindow(w);
    const ref = py[k]!;
    for (const [name, want] of Object.entries(ref)) {
      if (name === 'perIo') continue;
      const got = d[name as keyof Descriptors];
      if (typeof want === 'boolean') assert.equal(got, want, `window ${k} ${name}`);
      else near(got as number, want as number, `window ${k} ${name}`);
    }
    assert.equal(Object.keys(ref).length - 1, Object.keys(d).length, 'numpy computes every descriptor');
    const f = perIoFeatures(w);
    for (const name of ['logIat', 'logOffset', 'logSize', 'isRead', 'device'] as const) {
      const want = ref.perIo[name];
      assert.equal(f[name].length, want.length);
      for (let i = 0; i < want.length; i++) near(f[name][i]!, want[i]!, `window ${k} ${name}[${i}]`);
    }
  });
  // The windows exercise what they are here for.
  const described = windows.map((w) => describeWindow(w));
  assert.ok(
    described.slice(0, 2).every((d) => d.devices > 10),
    'Tencent windows hold many volumes',
  );
  assert.ok(
    described.slice(2, 4).some((d) => d.queueDepthMeasured),
    'Hadoop windows use measured latencies',
  );
  assert.ok(
    windows.slice(4).every((w) => !Number.isNaN(w.prevTimeNs)),
    'WebSearch windows continue their stream',
  );
  assert.ok(described.some((d) => d.reuseFraction > 0 && d.sequentialFraction > 0));
});
