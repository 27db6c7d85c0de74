/**
 * Fixed-size histograms over axes whose range is unknown until the end of a
 * one-pass scan. Each axis starts fine and doubles its bin width (merging bin
 * pairs) whenever a value falls past its last bin, so memory stays fixed and
 * the final resolution is between n/2 and n bins over the range seen.
 */
import { bump, col } from '../util/at.js';

/** Merge adjacent bin pairs of a `bins`-long axis in place (stride = distance between bins). */
function halveAxis(a: Float64Array, bins: number, stride: number, count: number, off: number): void {
  for (let j = 0; j < bins / 2; j++) {
    for (let k = 0; k < count; k++) {
      a[off + j * stride + k] = col(a, off + 2 * j * stride + k, 'bins') + col(a, off + (2 * j + 1) * stride + k, 'bins');
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
    bump(this.data, bin * this.nSeries + series, v, 'bins');
  }

  get(bin: number, series: number): number {
    return col(this.data, bin * this.nSeries + series, 'bins');
  }
}

/**
 * Request counts on a time x LBA grid: a TimeSeriesBins with one series per
 * LBA bin. The LBA axis covers [0, top) sectors with `top` a power of two
 * doubled as larger sectors arrive.
 */
export class Heatmap {
  readonly time: TimeSeriesBins;
  lbaTop: number;

  constructor(
    timeBins = 160,
    readonly lbaBins = 128,
    initialTimeWidthNs = 1e6,
    initialLbaTop = 2 ** 17,
  ) {
    this.time = new TimeSeriesBins(timeBins, lbaBins, initialTimeWidthNs);
    this.lbaTop = initialLbaTop;
  }

  add(t: number, sector: number): void {
    const ti = this.time.bin(t);
    while (sector >= this.lbaTop) {
      for (let r = 0; r < this.time.bins; r++) halveAxis(this.time.data, this.lbaBins, 1, 1, r * this.lbaBins);
      this.lbaTop *= 2;
    }
    this.time.add(ti, Math.floor((sector / this.lbaTop) * this.lbaBins), 1);
  }
}
