/**
 * A tune's progress as text (what its job record keeps and the REST API
 * shows), and the parts back for front ends that draw it:
 *   "search: 7/30 evaluations, best grade 0.213"
 *   "search: 8/30 evaluations, best grade 0.213; held iosched.async_depth at 64 (writing nr_requests=16 made it 16)"
 *   "characterising"
 * The held part says what the evaluation just recorded measured beside its configuration (a live trial's holds,
 * blockdev/sysfs.ts: writeOrdered): the kernel changed an attribute nobody chose and ssdtune held it.
 */
import { describeHeld, type Held } from '../blockdev/sysfs.js';

export interface ProgressParts {
  phase?: string;
  best?: number;
  unit?: string;
  /** The holds of the evaluation just recorded, in words (describeHeld, comma-separated). */
  held?: string;
}

export function progressText(phase: string, done?: number, total?: number, best?: number, held?: readonly Held[]): string {
  let s = phase;
  if (done !== undefined && total !== undefined) s += `: ${done}/${total} evaluations`;
  if (best !== undefined && Number.isFinite(best)) s += `, best grade ${best.toFixed(3)}`;
  if (held?.length) s += `; held ${held.map(describeHeld).join(', ')}`;
  return s;
}

const PATTERN = /^(.*?)(?:: \d+\/\d+ (evaluations))?(?:, best grade (-?\d+(?:\.\d+)?))?(?:; held (.+))?$/;

export function parseProgressText(message: string | undefined): ProgressParts {
  if (!message) return {};
  const m = PATTERN.exec(message);
  if (!m) return { phase: message };
  return {
    phase: m[1],
    ...(m[2] ? { unit: m[2] } : {}),
    ...(m[3] !== undefined ? { best: Number(m[3]) } : {}),
    ...(m[4] !== undefined ? { held: m[4] } : {}),
  };
}
