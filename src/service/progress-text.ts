/**
 * A tune's progress as text (what its job record keeps and the REST API
 * shows), and the parts back for front ends that draw it:
 *   "search: 7/30 evaluations, best grade 0.213"
 *   "characterising"
 */
export interface ProgressParts {
  phase?: string;
  best?: number;
  unit?: string;
}

export function progressText(phase: string, done?: number, total?: number, best?: number): string {
  let s = phase;
  if (done !== undefined && total !== undefined) s += `: ${done}/${total} evaluations`;
  if (best !== undefined && Number.isFinite(best)) s += `, best grade ${best.toFixed(3)}`;
  return s;
}

const PATTERN = /^(.*?)(?:: \d+\/\d+ (evaluations))?(?:, best grade (-?\d+(?:\.\d+)?))?$/;

export function parseProgressText(message: string | undefined): ProgressParts {
  if (!message) return {};
  const m = PATTERN.exec(message);
  if (!m) return { phase: message };
  return { phase: m[1], ...(m[2] ? { unit: m[2] } : {}), ...(m[3] !== undefined ? { best: Number(m[3]) } : {}) };
}
