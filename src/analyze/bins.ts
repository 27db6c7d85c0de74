/**
 * Fixed-size histograms over axes whose range is unknown until the end of a
 * one-pass scan. Each axis starts fine and doubles its bin width (merging bin
 * pairs) whenever a value falls past its last bin, so memory stays fixed and
 * the final resolution is between n/2 and n bins over the range seen.
 */

/** Merge adjacent bin pairs of a `bins`-long axis in place (stride = distance between bins). */
function halveAxis(a: Float64Array, bins: number, stride: number, count: number, off: number): void {
  for (let j = 0; j < bins / 2; j++) {
    for (let k = 0; k < count; k++) {
      a[off + j * stride + k] = a[off + 2 * j * stride + k] + a[off + (2 * j + 1) * stride + k];
    }
  }
  for (let j = bins / 2; j < bins; j++) for (let k = 0; k < count; k++) a[off + j * stride + k] = 0;
}

/** Several series over time (e.g. read IOPS, write bytes) sharing one adaptive time axis. */
export class TimeSeriesBins {
  /** ns per bin */
  width: number;
  /** bins [0, used) have been touched */
  used = 0;
  /** data[bin * nSeries + series] */
  readonly data: Float64Array;

  constructor(
    readonly bins = 256,
    readonly nSeries = 1,
    initialWidthNs = 1e6,
  ) {
    this.width = initialWidthNs;
    this.data = new Float64Array(bins * nSeries);
  }

  /** Bin index for time t (ns, >= 0), coarsening the axis as needed. */
  bin(t: number): number {
    let i = Math.floor(t / this.width);
    while (i >= this.bins) {
      halveAxis(this.data, this.bins, this.nSeries, this.nSeries, 0);
      this.width *= 2;
      this.used = Math.ceil(this.used / 2);
      i = Math.floor(t / this.width);
    }
    if (i < 0) i = 0;
    if (i >= this.used) this.used = i + 1;
    return i;
  }

  add(bin: number, series: number, v: number): void {
    this.data[bin * this.nSeries + series] += v;
  }

  get(bin: number, series: number): number {
    return this.data[bin * this.nSeries + series];
  }
}

/**
 * Request counts on a time x LBA grid. The LBA axis covers [0, top) sectors
 * with `top` a power of two doubled as larger sectors arrive.
 */
export class Heatmap {
  timeWidth: number;
  usedTime = 0;
  lbaTop: number;
  /** counts[time * lbaBins + lba] */
  readonly counts: Float64Array;

  constructor(
    readonly timeBins = 160,
    readonly lbaBins = 128,
    initialTimeWidthNs = 1e6,
    initialLbaTop = 2 ** 17,
  ) {
    this.timeWidth = initialTimeWidthNs;
    this.lbaTop = initialLbaTop;
    this.counts = new Float64Array(timeBins * lbaBins);
  }

  add(t: number, sector: number): void {
    let ti = Math.floor(t / this.timeWidth);
    while (ti >= this.timeBins) {
      halveAxis(this.counts, this.timeBins, this.lbaBins, this.lbaBins, 0);
      this.timeWidth *= 2;
      this.usedTime = Math.ceil(this.usedTime / 2);
      ti = Math.floor(t / this.timeWidth);
    }
    if (ti < 0) ti = 0;
    if (ti >= this.usedTime) this.usedTime = ti + 1;
    while (sector >= this.lbaTop) {
      for (let r = 0; r < this.timeBins; r++) halveAxis(this.counts, this.lbaBins, 1, 1, r * this.lbaBins);
      this.lbaTop *= 2;
    }
    const li = Math.floor((sector / this.lbaTop) * this.lbaBins);
    this.counts[ti * this.lbaBins + li]++;
  }
}
