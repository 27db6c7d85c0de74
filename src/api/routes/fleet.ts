/**
 * Fleet routes: what `ssdtune retune --server URL` agents call, and the
 * operator's pins. Thin: every decision is in src/service/fleet.ts, reached
 * through the service API.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import Type from 'typebox';
import { errors } from '../schemas.js';
import { streamedBody } from '../upload-limit.js';

const DeviceClass = Type.Object(
  {
    model: Type.String({ maxLength: 200 }),
    capacityBytes: Type.Number({ minimum: 0 }),
    rotational: Type.Boolean(),
    queues: Type.Integer({ minimum: 0, maximum: 65536, description: 'hardware queues (blk-mq)' }),
    kernel: Type.String({ maxLength: 200, description: 'uname -r' }),
  },
  { additionalProperties: false },
);

const ReportBody = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    device: Type.String({ minLength: 1, maxLength: 64, description: 'kernel name of the whole disk' }),
    deviceClass: DeviceClass,
    windowSize: Type.Integer({ minimum: 1, description: "requests per window (the server's similarity model's)" }),
    descriptors: Type.Array(Type.Array(Type.Number(), { maxItems: 256 }), { minItems: 1, maxItems: 64, description: 'window descriptor vectors' }),
    applied: Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 4096 }), {
      maxProperties: 64,
      description: 'the attributes the device has now',
    }),
  },
  { additionalProperties: false },
);

const Recommendation = Type.Object(
  {
    workload: Type.Object({ id: Type.String(), name: Type.String(), known: Type.Boolean(), created: Type.Boolean() }),
    deviceClass: Type.String(),
    config: Type.Optional(
      Type.Object({
        id: Type.String(),
        values: Type.Object({}, { additionalProperties: true }),
        source: Type.Union([Type.Literal('pin'), Type.Literal('learned')]),
        grade: Type.Optional(Type.Number()),
      }),
    ),
    search: Type.Object({ state: Type.String(), jobId: Type.Optional(Type.String()) }),
    identification: Type.Object({}, { additionalProperties: true }),
  },
  { description: 'the workload and what to apply (absent while nothing is pinned or learned for it on this class)' },
);

const PinBody = Type.Object(
  {
    workloadId: Type.String({ minLength: 1, maxLength: 64 }),
    configId: Type.String({ minLength: 1, maxLength: 64 }),
    deviceClass: Type.Optional(Type.String({ minLength: 1, maxLength: 400, description: 'a device class key; without it, the pin holds on every class' })),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

const Accepted = { type: 'object', properties: { job: { $ref: 'Job#' }, deduplicated: { type: 'boolean' } } } as const;

export default async function fleetRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const limit = fastify.ssdtune.svc.settings.maxUploadBytes;
  app.post(
    '/fleet/reports',
    {
      schema: {
        tags: ['fleet'],
        summary: "An agent's capture window (descriptors only), device class and applied attributes; returns what to apply",
        body: ReportBody,
        response: { 200: Recommendation, ...errors(400, 401) },
      },
    },
    async (req) => req.api.fleetReport(req.body),
  );
  app.post(
    '/fleet/workloads/:id/capture',
    {
      ...streamedBody(app, 'application/octet-stream', limit),
      schema: {
        tags: ['fleet'],
        summary: 'The capture of a workload with nothing learned on this device class (application/octet-stream): starts its one search',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
        querystring: Type.Object({ deviceClass: Type.String({ minLength: 1, maxLength: 400 }), host: Type.Optional(Type.String({ maxLength: 255 })) }),
        response: { 200: Accepted, 202: Accepted, ...errors(400, 401, 404, 413, 415) },
      },
    },
    async (req, reply) => {
      const body = req.body as Readable;
      const r = await req.api.fleetCapture(req.params.id, req.query.deviceClass, body, req.query.host ? { host: req.query.host } : {});
      return reply.status(r.deduplicated ? 200 : 202).send(r);
    },
  );
  app.put(
    '/fleet/pins',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Pin a host configuration for a workload (on one device class, or all): it outranks every learned one',
        body: PinBody,
        response: { 200: { $ref: 'Pin#' }, ...errors(400, 401, 404) },
      },
    },
    async (req) => req.api.pin(req.body),
  );
  app.delete(
    '/fleet/pins',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Remove a pin',
        querystring: Type.Object({
          workloadId: Type.String({ minLength: 1, maxLength: 64 }),
          deviceClass: Type.Optional(Type.String({ minLength: 1, maxLength: 400 })),
        }),
        response: { 204: Type.Null(), ...errors(400, 401, 404) },
      },
    },
    async (req, reply) => {
      await req.api.unpin(req.query.workloadId, req.query.deviceClass ? { deviceClass: req.query.deviceClass } : {});
      return reply.status(204).send(null);
    },
  );
}
