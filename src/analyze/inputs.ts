/**
 * What `analyze` accepts as a trace argument beyond a file: a blktrace
 * per-CPU set named the way `blkparse -i` names it, by its base name
 * (`sdb` for sdb.blktrace.0, sdb.blktrace.1, ...), or a directory holding
 * one or more such sets (each set becomes one trace, as `blkparse -D dir`).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface TraceInput {
  path: string;
  /** Set when the argument could only be a blktrace set (a base name or a set found in a directory). */
  format?: 'blktrace';
}

const PER_CPU = /^(.+)\.blktrace\.(\d+)$/;

/** Base names of the blktrace sets in `dir`, sorted. */
export function blktraceSetsIn(dir: string): string[] {
  const bases = new Set<string>();
  for (const f of readdirSync(dir)) {
    const m = PER_CPU.exec(f);
    if (m && statSync(path.join(dir, f), { throwIfNoEntry: false })?.isFile()) bases.add(m[1]!);
  }
  return [...bases].sort();
}

/** Expand base names and directories into the traces they hold; other arguments pass through untouched. */
export function expandTraceInputs(args: readonly string[]): TraceInput[] {
  const out: TraceInput[] = [];
  for (const a of args) {
    const st = statSync(a, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      const sets = blktraceSetsIn(a);
      if (sets.length) {
        for (const b of sets) out.push({ path: path.join(a, b), format: 'blktrace' });
        continue;
      }
    } else if (!st) {
      const dir = path.dirname(a);
      const base = path.basename(a);
      const inDir = statSync(dir, { throwIfNoEntry: false })?.isDirectory() ? blktraceSetsIn(dir) : [];
      if (inDir.includes(base)) {
        out.push({ path: a, format: 'blktrace' });
        continue;
      }
    }
    out.push({ path: a }); // a file, or something the readers will name the problem with
  }
  return out;
}
