/**
 * A live tune whose search's best beats its baseline whatever the machine's load, so that its confirmation rounds
 * run: a filled device (a sparse file's holes cost nothing to read) with readahead off, sequential 4 KiB buffered
 * reads that then reach it one page at a time, and a seed whose first screening move (the readahead group) sets a
 * readahead of 128 KiB or more, a large, real gain (grade 1.8-3.3 measured at load 7): the search's second evaluation
 * is that move, whatever noise does to the rest.
 */
import { writeFileSync } from 'node:fs';
import { resolveDevice } from '../../src/blockdev/resolve.js';
import { writeAttr } from '../../src/blockdev/sysfs.js';
import { buildHostSpace } from '../../src/host/host-space.js';
import { AdaptiveSearch } from '../../src/search/adaptive.js';

/** Turns `devicePath`'s readahead off and returns a seed whose first screening move turns it on (>= 128 KiB). */
export function readaheadOffWithSeed(devicePath: string): number {
  writeAttr(resolveDevice(devicePath), 'read_ahead_kb', '0');
  const space = buildHostSpace(devicePath);
  const seed = Array.from({ length: 500 }, (_, i) => i).find((i) => Number(new AdaptiveSearch().screeningDesign(space, i)[0]!.config.read_ahead_kb) >= 128);
  if (seed === undefined) throw new Error('no seed in 0..499 whose first screening move sets readahead >= 128 KiB');
  return seed;
}

/** Writes a trace of `pages` sequential 4 KiB reads, 10 us apart, to `file`. */
export function writeSequentialReads(file: string, pages = 5000): void {
  const lines: string[] = [];
  for (let i = 0; i < pages; i++) lines.push(`${i * 10_000} 0 ${i * 8} 8 1`);
  writeFileSync(file, lines.join('\n') + '\n');
}
