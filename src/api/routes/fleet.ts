/**
 * Fleet routes: what `ssdtune retune --server URL` agents call, and the
 * operator's pins. Thin: every decision is in src/service/fleet.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { Service } from '../../service/context.js';
import { fleetSearchKey, pinConfig, report, startFleetSearch, unpin, type AgentReport } from '../../service/fleet.js';
import { storeUpload } from '../../service/traces.js';
import { errors } from '../schemas.js';

const deviceClass = {
  type: 'object',
  required: ['model', 'capacityBytes', 'rotational', 'queues', 'kernel'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', maxLength: 200 },
    capacityBytes: { type: 'number', minimum: 0 },
    rotational: { type: 'boolean' },
    queues: { type: 'integer', minimum: 0, maximum: 65536 },
    kernel: { type: 'string', maxLength: 200 },
  },
} as const;

const reportBody = {
  type: 'object',
  required: ['host', 'device', 'deviceClass', 'windowSize', 'descriptors', 'applied'],
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    device: { type: 'string', minLength: 1, maxLength: 64 },
    deviceClass,
    windowSize: { type: 'integer', minimum: 1 },
    descriptors: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'array', maxItems: 256, items: { type: 'number' } } },
    applied: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 64 },
  },
} as const;

export function registerFleetRoutes(app: FastifyInstance, svc: Service): void {
  app.post<{ Body: AgentReport }>(
    '/v1/fleet/reports',
    { schema: { tags: ['fleet'], summary: "An agent's capture window (descriptors only), device class and applied attributes; returns what to apply", body: reportBody, response: errors(400, 401) } },
    async (req) => report(svc, req.body),
  );
  app.post<{ Params: { id: string }; Querystring: { deviceClass: string; host?: string }; Body: Readable }>(
    '/v1/fleet/workloads/:id/capture',
    {
      bodyLimit: Number.MAX_SAFE_INTEGER, // enforced while streaming, against settings.maxUploadBytes
      schema: {
        tags: ['fleet'],
        summary: 'The capture of a workload with nothing learned on this device class (application/octet-stream): starts its one search',
        querystring: { type: 'object', required: ['deviceClass'], properties: { deviceClass: { type: 'string', minLength: 1, maxLength: 400 }, host: { type: 'string', maxLength: 255 } } },
        response: errors(400, 401, 404, 413),
      },
    },
    async (req, reply) => {
      const key = fleetSearchKey(req.params.id, req.query.deviceClass);
      const running = await svc.db.latestJobWithKey(key, ['queued', 'running', 'done']);
      if (running) {
        // Another agent's capture already started it: this one is not needed.
        req.body.resume();
        return reply.status(200).send({ job: running, deduplicated: true });
      }
      const trace = await storeUpload(svc, req.body, `capture-${req.params.id}`, `agent:${req.query.host ?? 'unknown'}`);
      const r = await startFleetSearch(svc, req.params.id, req.query.deviceClass, trace, `agent:${req.query.host ?? 'unknown'}`);
      return reply.status(r.deduplicated ? 200 : 202).send(r);
    },
  );
  app.put<{ Body: { workloadId: string; configId: string; deviceClass?: string; reason?: string } }>(
    '/v1/fleet/pins',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Pin a host configuration for a workload (on one device class, or all): it outranks every learned one',
        body: {
          type: 'object',
          required: ['workloadId', 'configId'],
          additionalProperties: false,
          properties: { workloadId: { type: 'string', maxLength: 64 }, configId: { type: 'string', maxLength: 64 }, deviceClass: { type: 'string', maxLength: 400 }, reason: { type: 'string', maxLength: 1000 } },
        },
        response: errors(400, 401, 404),
      },
    },
    async (req) => pinConfig(svc, req.body, 'api'),
  );
  app.delete<{ Querystring: { workloadId: string; deviceClass?: string } }>(
    '/v1/fleet/pins',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Remove a pin',
        querystring: { type: 'object', required: ['workloadId'], properties: { workloadId: { type: 'string', maxLength: 64 }, deviceClass: { type: 'string', maxLength: 400 } } },
        response: errors(400, 401, 404),
      },
    },
    async (req, reply) => {
      await unpin(svc, req.query.workloadId, req.query.deviceClass, 'api');
      return reply.status(204).send();
    },
  );
}
