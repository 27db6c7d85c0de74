/** JSON schemas shared by the routes (validation of bodies, serialisation of replies, OpenAPI). */
import Type from 'typebox';

export const errorReply = {
  $id: 'ErrorReply',
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string', description: 'the request field the error is about (`device`), when it is about one; the message then starts with it' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['statusCode', 'error'],
} as const;

/** A stored record: its known fields are typed, the rest passes through. */
const record = (id: string, required: string[], properties: Record<string, unknown>) => ({
  $id: id,
  type: 'object',
  additionalProperties: true,
  properties,
  required,
});

/** An attribute the kernel changed when another was written, held at the value it had (blockdev/sysfs.ts: Held). */
export const HeldItem = Type.Object({
  key: Type.String({ description: 'the attribute the kernel changed' }),
  from: Type.String({ description: 'its value before the write: the value it was held at' }),
  to: Type.String({ description: 'the value the write gave it' }),
  by: Type.String({ description: 'the write that changed it (max_sectors_kb=64)' }),
});

/** An evaluator's metrics (evaluators/types.ts: Metrics): typed where a front end reads a field, the rest passes through. */
const metrics = (what: string) => ({
  type: 'object',
  additionalProperties: true,
  properties: {
    held: Type.Array(HeldItem, {
      description: `what ${what} measured beside the configuration (the live evaluator): attributes the kernel changed when one the configuration names was written, held at their earlier values; absent when none`,
    }),
  },
});

export const workload = record('Workload', ['id', 'name'], { id: { type: 'string' }, name: { type: 'string' }, createdAt: { type: 'string' } });
export const config = record('Config', ['id', 'space', 'values'], {
  id: { type: 'string' },
  space: { type: 'string' },
  values: { type: 'object', additionalProperties: true },
  metrics: metrics("the configuration's grade"),
  baselineMetrics: metrics("the baseline's grade"),
});
export const evaluation = record('Evaluation', ['id', 'workloadId', 'evaluator', 'status'], {
  id: { type: 'string' },
  workloadId: { type: 'string' },
  evaluator: { type: 'string' },
  status: { type: 'string' },
  metrics: metrics('this evaluation'),
});
export const device = record('Device', ['device'], {
  device: { type: 'string' },
  applied: { type: 'object', additionalProperties: true },
  previous: { type: 'object', additionalProperties: true },
});
export const job = record('Job', ['id', 'kind', 'status'], {
  id: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string' },
  progress: { type: 'object', additionalProperties: true },
});
export const trace = record('Trace', ['id', 'name', 'bytes'], {
  id: { type: 'string' },
  name: { type: 'string' },
  bytes: { type: 'integer' },
  format: { type: 'string' },
});

export const audit = record('Audit', ['id', 'at', 'action'], {
  id: { type: 'string' },
  at: { type: 'string' },
  actor: { type: 'string' },
  action: { type: 'string' },
  details: { type: 'object', additionalProperties: true },
});

export const pin = record('Pin', ['id', 'workloadId', 'space', 'configId'], {
  id: { type: 'string' },
  workloadId: { type: 'string' },
  space: { type: 'string' },
  deviceClass: { type: 'string' },
  configId: { type: 'string' },
});

export const result = record('Result', ['id', 'status', 'worker'], {
  id: { type: 'string' },
  status: { type: 'string' },
  worker: { type: 'string' },
  at: { type: 'string' },
  ms: { type: 'number' },
});

export const agent = record('Agent', ['id', 'host', 'device', 'workloadId'], {
  id: { type: 'string' },
  host: { type: 'string' },
  device: { type: 'string' },
  deviceClass: { type: 'string' },
  workloadId: { type: 'string' },
  configId: { type: 'string' },
});

export const ALL_SCHEMAS = [errorReply, workload, config, evaluation, device, job, trace, audit, pin, result, agent];

export const idParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const listQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 10000, default: 100 }), after: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);

export const listOf = (ref: string) => ({
  type: 'object',
  properties: { items: { type: 'array', items: { $ref: `${ref}#` } }, next: { type: 'string' } },
  required: ['items'],
});

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { $ref: 'ErrorReply#' }]));

export { StringEnum } from '../service/tune-spec.js';
