/**
 * The shape of each kind's stored record (records.ts), as a JSON schema an import checks every record against. An
 * export comes from another host, an older version or a hand edit: a record whose fields have other types (a grade
 * "high", applied values that are objects) would be stored as it is and fail later, far from its cause (the tune
 * printing a stored grade: "toFixed is not a function"). Each field is typed where it is present; only the fields
 * the import has always required must be present, so exports of earlier versions, whose records lack fields added
 * since, still import. Fields this version does not know pass through.
 */
import { Ajv } from 'ajv';
import Type, { type TSchema } from 'typebox';
import type { Kind } from './kinds.js';

const Str = Type.String();
/** A record's key. */
const Key = Type.String({ minLength: 1 });
const Num = Type.Number();
const StrMap = Type.Record(Type.String(), Type.String());
// Plain types and enums, not unions of schemas: a violation then names what was expected, not a union's first branch.
const Values = Type.Record(Type.String(), Type.Unsafe<string | number | boolean>({ type: ['string', 'number', 'boolean'] }));
const Held = Type.Object({ key: Str, from: Str, to: Str, by: Str });
const Rate = Type.Number({ minimum: 0 });
const Metrics = Type.Object({
  iops: Rate,
  throughputBps: Rate,
  latencyMeanUs: Rate,
  latencyP99Us: Type.Optional(Num),
  // An evaluator's own figures: one it could not compute (MQSim's maximum latency with no flow, a percentile of no
  // request) was NaN or Infinity, which JSON stores as null. Such exports imported before, and still do.
  extra: Type.Optional(Type.Record(Type.String(), Type.Unsafe<number | null>({ type: ['number', 'null'] }))),
  held: Type.Optional(Type.Array(Held)),
});
const Replay = Type.Object({ mode: Type.Enum(['recorded', 'scaled', 'closed']), speedup: Type.Optional(Num), queueDepth: Type.Optional(Num) });
const Status = Type.Enum(['ok', 'failed']);

/** A record of `required` fields and typed optional ones; unknown fields pass. */
function record(required: Record<string, TSchema>, optional: Record<string, TSchema>): TSchema {
  const props: Record<string, TSchema> = { ...required };
  for (const [k, s] of Object.entries(optional)) props[k] = Type.Optional(s);
  return Type.Object(props, { additionalProperties: true });
}

export const RECORD_SCHEMAS: Record<Kind, TSchema> = {
  workloads: record(
    { id: Key, name: Str, descriptors: Type.Array(Num), descriptorNames: Type.Array(Str) },
    {
      createdAt: Str,
      source: Type.Object({ paths: Type.Array(Str), format: Str, requests: Num }),
      pcaCentre: Type.Array(Num),
      pcaBasis: Type.Object({ mean: Type.Array(Num), scale: Type.Array(Num), components: Type.Array(Type.Array(Num)) }),
      clusters: Type.Array(Num),
      embedding: Type.Array(Num),
      modes: Type.Array(Type.Array(Num)),
      embeddingSpread: Num,
      arrivalGapUs: Type.Tuple([Num, Num]),
      windowSize: Num,
      modelId: Str,
    },
  ),
  configs: record(
    { id: Key, space: Str, values: Values },
    {
      createdAt: Str,
      workloadId: Str,
      grade: Num,
      evaluator: Str,
      metrics: Metrics,
      baselineMetrics: Metrics,
      deviceClass: Str,
      replay: Replay,
      measuredOn: Type.Object({ key: Str, host: Str, disk: Str }),
      evaluatorOptions: Type.Record(Type.String(), Type.Unknown()),
      confirmation: Type.Object({
        rounds: Num,
        grades: Type.Array(Num),
        low: Num,
        holds: Type.Boolean(),
        searchGrade: Num,
        candidate: Type.Optional(Values),
      }),
    },
  ),
  evaluations: record(
    { id: Key, workloadId: Str, evaluator: Str, status: Status, values: Values },
    { configId: Str, metrics: Metrics, grade: Num, error: Str, errorCode: Str, at: Str, durationMs: Num, jobId: Str },
  ),
  devices: record(
    { device: Key, previous: StrMap, applied: StrMap },
    {
      devNumber: Str,
      medium: Str,
      recordedOn: Type.Object({ id: Key, name: Str }),
      appliedConfigId: Str,
      appliedAt: Str,
      by: Str,
      pending: Type.Object({
        op: Type.Enum(['apply', 'revert', 'trial']),
        pid: Num,
        startedAt: Str,
        before: StrMap,
        failed: Type.Optional(Type.Object({ at: Str, reason: Str, left: Type.Array(Str) })),
      }),
    },
  ),
  jobs: record(
    {
      id: Key,
      kind: Type.Enum(['tune']),
      status: Type.Enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']),
      key: Str,
    },
    {
      params: Type.Record(Type.String(), Type.Unknown()),
      progress: Type.Object({ done: Num, total: Num, message: Type.Optional(Str) }),
      pid: Num,
      result: Type.Record(Type.String(), Type.Unknown()),
      error: Str,
      errorCode: Str,
      attempts: Num,
      owner: Str,
      cancelRequested: Type.Boolean(),
      createdAt: Str,
      updatedAt: Str,
    },
  ),
  traces: record(
    { id: Key, name: Str, path: Str, bytes: Type.Integer({ minimum: 0 }) },
    { format: Str, sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }), uploadedAt: Str, by: Str },
  ),
  audit: record({ id: Key, at: Str, action: Str }, { actor: Str, details: Type.Record(Type.String(), Type.Unknown()) }),
  pins: record({ id: Key, workloadId: Str, space: Str, deviceClass: Str, configId: Str }, { by: Str, at: Str, reason: Str }),
  results: record({ id: Key, status: Status, worker: Str }, { metrics: Metrics, error: Str, errorCode: Str, at: Str, ms: Num }),
  agents: record({ id: Key, host: Str, device: Str, workloadId: Str }, { deviceClass: Str, configId: Str, applied: StrMap, at: Str }),
};

const ajv = new Ajv({ allErrors: false, strict: false });
const checks = new Map<Kind, ReturnType<typeof ajv.compile>>();

/** What is wrong with `value` as a `kind` record, in words naming the field; undefined when nothing is. */
export function recordViolation(kind: Kind, value: unknown): string | undefined {
  let check = checks.get(kind);
  if (!check) checks.set(kind, (check = ajv.compile(RECORD_SCHEMAS[kind])));
  if (check(value)) return undefined;
  const e = check.errors![0]!;
  const field = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'the record';
  if (e.keyword === 'required') return `a ${kind} record needs field "${(e.params as { missingProperty: string }).missingProperty}"`;
  const allowed = e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : '';
  return `the ${kind} record's ${field} ${e.message ?? 'is invalid'}${allowed}`;
}
