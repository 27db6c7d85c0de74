/**
 * MODEL_CARD.md of the similarity model. The generated part prints only what
 * was measured in the run that wrote it; comparisons with earlier models and
 * settings tried live in a hand-written section after HAND_WRITTEN_MARKER,
 * which the generator reads back from the existing card and keeps verbatim.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DESCRIPTOR_VECTOR_NAMES } from '../features/descriptors.js';
import type { SourceFigures, Totals } from './evaluation.js';
import { intensityFactorOf, type TrainConfig } from './train-defaults.js';
import type { TrainResult } from './train-result.js';

export const HAND_WRITTEN_MARKER = '<!-- Hand-written below this line: `ssdtune model train` keeps it as it is. -->';

/** The hand-written part of an existing card (after the marker), or undefined. */
export function readHandWritten(cardFile: string): string | undefined {
  if (!existsSync(cardFile)) return undefined;
  const text = readFileSync(cardFile, 'utf8');
  const at = text.indexOf(HAND_WRITTEN_MARKER);
  return at < 0 ? undefined : text.slice(at + HAND_WRITTEN_MARKER.length).replace(/^\n+/, '');
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const ratio = (a: number, n: number) => (n ? `${a}/${n} (${pct(a / n)})` : 'n/a');

/** How intensity enters the decision, for the protocol section. */
function intensityNote(cfg: TrainConfig): string {
  const f = intensityFactorOf(cfg.timeScales);
  if (!(f > 0)) return 'No intensity test: no time-scaled copies were trained on.';
  return `A chunk's nearest is sought only among the workloads its rate allows: a chunk whose mean inter-arrival gap lies more than
${f}x outside a stored workload's range (5th to 95th percentile over its runs of ${cfg.queryWindows} windows) is not that workload,
${f}x being the largest time scale trained on as another workload (\`rateFits\` in \`src/ml/known-workloads.ts\`).`;
}

function sourceTable(rows: readonly SourceFigures[]): string {
  const out = [
    '| held-out source | threshold | new-workload queries answered "new" | false "known" (chunks) | whole streams answered "known" | whole trace | same-workload queries matched | another workload | "new" |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const whole =
      r.wholeTrace.chunks === 0
        ? 'not asked (no stream of a full query)'
        : r.wholeTrace.answer === 'new'
          ? `new (${pct(r.wholeTrace.share)} of chunks)`
          : `**known: ${r.wholeTrace.answer}** (${pct(r.wholeTrace.share)})`;
    const streams = r.wholeStreams.falseKnown.length
      ? `**${r.wholeStreams.falseKnown.length}/${r.wholeStreams.asked}**: ${r.wholeStreams.falseKnown
          .slice(0, 3)
          .map((s) => `\`${s}\``)
          .join(', ')}${r.wholeStreams.falseKnown.length > 3 ? ', ...' : ''}`
      : `0/${r.wholeStreams.asked}`;
    out.push(
      `| \`${r.source}\` | ${r.threshold.toFixed(4)} | ${ratio(r.detection.queries - r.detection.falseKnown, r.detection.queries)} | ${r.detection.falseKnown} | ${streams} | ${whole} | ${ratio(r.match.right, r.match.queries)} | ${r.match.wrongKnown} | ${r.match.missed} |`,
    );
  }
  return out.join('\n');
}

function totalsLine(t: Totals): string {
  return `new-workload detection ${pct(t.detection)} of ${t.detectionQueries} queries (${t.falseKnown} false "known"); whole held-out streams answered "known": ${t.wholeStreamsFalseKnown} of ${t.wholeStreams}; whole held-out traces answered "known": ${t.wholeTracesFalseKnown}; same-workload match ${pct(t.match)} of ${t.matchQueries} queries (${t.wrongKnown} answered another workload, ${t.missed} answered "new"); whole later captures answered with their workload: ${t.laterCapturesRight} of ${t.laterCaptures} (${t.laterCapturesWrongKnown} with another)`;
}

const verdict = (ok: boolean) => (ok ? 'met' : '**MISSED**');

export function modelCard(r: TrainResult, cfg: TrainConfig, command: string, handWritten?: string): string {
  const net = r.figures.network;
  const t = net.totals;
  const files = r.data.files.map((f) => `\`${f.file}\` (${f.format}, ${f.requests} requests, ${f.streams} device stream(s))`).join(', ');
  const short = r.data.streams.filter((s) => s.windows.length < 2).length;
  const m = r.model.meta;
  return `# Workload similarity model

A Siamese embedding network (TensorFlow.js layers model, \`model.json\` + \`weights.bin\`) over the
${DESCRIPTOR_VECTOR_NAMES.length} standardised window descriptors of \`src/features/descriptors.ts\`, and the settings in
\`similarity.json\` (window size, standardisation, calibrated thresholds and confidence curves, PCA baseline).
Used by \`src/ml/identify.ts\` to answer "known workload (reuse its configuration)" or "new workload".
Everything above the hand-written section was measured by the run that wrote this card.

## Network
Dense(${cfg.hidden}, relu) -> Dense(${cfg.embedding}), output L2-normalised; batch-hard triplet loss, margin ${cfg.margin},
Adam lr ${cfg.learningRate}, ${cfg.steps} steps of ${cfg.classesPerBatch} workloads x ${cfg.samplesPerClass} samples, seed ${cfg.seed}; a sample is
the renormalised mean embedding of ${cfg.trainRun} consecutive windows of one stream (as a query is embedded). Backend: ${r.backend}. The shipped network trained in ${r.trainSeconds.toFixed(1)} s
(triplet loss ${r.losses[0]?.toFixed(3)} -> ${r.losses.at(-1)?.toFixed(3)}); the whole run (one network per held-out source, then the
shipped one) took ${r.cpuSeconds.toFixed(0)} CPU-seconds.

## Data
Every readable trace in \`${path.relative(process.cwd(), cfg.tracesDir) || '.'}\` (provenance in its README.md), windows of ${cfg.windowSize}
requests, one stream per device / volume (the same windowing \`tune\` and \`identify\` use). Each stream is a workload,
except the devices of ${cfg.mergeDevicesOf.map((f) => `\`${f}\``).join(', ') || 'none'}, which run one application and count as one.
${r.streams.length} streams of at least 2 windows from ${r.data.files.length} files: ${files}.
${short ? `${short} streams with a single window are only asked about, never trained on. ` : ''}Not read: ${r.data.skipped.map((s) => `\`${s.file}\` (${s.reason.split('\n')[0]!.slice(0, 160)})`).join('; ') || 'none'}.

## How it was evaluated: leave one source out
Each trace file (a source, all its devices / volumes) is held out in turn: a network is trained on every other
source, the other sources' workloads are stored (whole traces, as \`tune\` stores them), and the held-out source is asked:
- **new-workload detection**: every chunk of ${cfg.queryWindows} consecutive windows of every stream (at most 64 per stream, evenly
  spread), against the store without it: any answer but "new" is a false "known". Each whole stream, and the whole
  trace (all its streams, as \`identify\` and \`tune\` ask), are asked too;
- **same-workload match**: each stream of at least ${cfg.minWindows} windows is also stored from its first 60% and queried with
  chunks of its last 40%: the answer must be that workload (another workload is a false "known" too). Those
  chunks are also asked together, as one later capture of the workload (as \`tune\` asks again).
The threshold that judges a source is calibrated on the other sources' outcomes only (cross-fitted): among thresholds
answering "new" to at least ${pct(cfg.minRejection)} of their new-workload queries, the one matching the most same-workload queries.
A chunk votes for its nearest stored workload when within the threshold, else "new"; a whole query is "known" only with
at least two thirds of its chunks (and two) behind one workload (\`knownByVote\` in \`src/ml/identify.ts\`).
${intensityNote(cfg)}

## Figures (Siamese network, ${cfg.queryWindows}-window queries)

${sourceTable(net.sources)}

All sources: ${totalsLine(t)}.

PCA baseline (distance between centres in the 2-D PCA plane, same protocol): ${totalsLine(r.figures.pca.totals)}.

## Goals (leave one source out)
- New-workload detection >= 95% of queries: ${pct(t.detection)}, ${verdict(t.detection >= 0.95)}.
- No false "known" for any whole held-out source: ${t.wholeTracesFalseKnown} whole trace(s) and ${t.wholeStreamsFalseKnown} whole stream(s) of ${t.wholeStreams} answered "known", ${verdict(t.wholeTracesFalseKnown === 0 && t.wholeStreamsFalseKnown === 0)}.
- Same-workload match >= 95% of ${cfg.queryWindows}-window queries: ${pct(t.match)}, ${verdict(t.match >= 0.95)}.

## Shipped thresholds and confidence
Calibrated on the outcomes of every held-out source together: network ${m.threshold.toFixed(4)} (embedding distance, 0..2),
answering "new" to ${pct(net.shipped.rejection)} of the new-workload chunks and accepting ${pct(net.shipped.acceptance)} of the
same-workload chunks whose nearest workload was right; PCA baseline ${m.pcaThreshold.toFixed(4)}.
Confidence of a chunk: P(its nearest workload is its own) = 1 / (1 + exp(-(${m.confidence.intercept.toFixed(3)} + ${m.confidence.slope.toFixed(3)} ln d)))
(logistic in the log-distance, fitted on the same outcomes with both kinds weighted equally). Typical spread of a
training workload: ${m.typicalSpread.toFixed(4)} (a new workload's spread is reported in these units).

## Use
\`\`\`
ssdtune identify <trace> [--data-dir D]        # against the workloads stored in the ConfDB; stores nothing
ssdtune model identify <trace> --known <trace A> <trace B> ...
\`\`\`
A query of a stored workload's very windows (the same trace asked again) is known outright (\`exact\` in the answer).

## Retrain
\`\`\`
${command}
\`\`\`
Deterministic for a given seed, trace set and tfjs backend. Retrain whenever descriptors change
(\`similarity.json\` records their names; a mismatch is refused at load time).

${HAND_WRITTEN_MARKER}

${handWritten?.trim() ?? '## Notes\n(Comparisons with earlier models and settings tried go here, by hand.)'}
`;
}
