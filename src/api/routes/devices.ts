/** Apply a stored host configuration to a block device, and revert it (token required). */
import type { FastifyInstance } from 'fastify';
import type { Service } from '../../service/context.js';
import { applyStoredConfig, revertDevice } from '../../service/devices.js';
import { errors } from '../schemas.js';

const deviceParams = { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', maxLength: 64 } }, required: ['name'] } as const;
const changeReply = {
  type: 'object',
  properties: {
    device: { type: 'string' },
    dryRun: { type: 'boolean' },
    changes: { type: 'array', items: { type: 'object', additionalProperties: true } },
    after: { type: 'object', additionalProperties: true },
    interrupted: { type: 'string', description: 'revert: the unfinished change the record carried (an interrupted apply or live evaluation)' },
  },
};

export function registerDeviceRoutes(app: FastifyInstance, svc: Service): void {
  app.post<{ Params: { name: string }; Body: { configId: string; dryRun?: boolean } }>(
    '/v1/devices/:name/apply',
    {
      schema: {
        tags: ['devices'],
        summary: 'Apply a stored host configuration through sysfs, all or nothing; previous values are recorded first',
        params: deviceParams,
        body: { type: 'object', additionalProperties: false, required: ['configId'], properties: { configId: { type: 'string', minLength: 1 }, dryRun: { type: 'boolean', default: false } } },
        response: { 200: changeReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const r = await applyStoredConfig(svc, req.params.name, req.body.configId, { dryRun: req.body.dryRun ?? false, actor: 'api' });
      return { device: r.device.disk.name, dryRun: r.dryRun, changes: r.changes, after: r.after };
    },
  );
  app.post<{ Params: { name: string }; Body: { dryRun?: boolean } | undefined }>(
    '/v1/devices/:name/revert',
    {
      schema: {
        tags: ['devices'],
        summary: 'Restore the values the device had before ssdtune first changed it',
        params: deviceParams,
        body: { type: 'object', additionalProperties: false, properties: { dryRun: { type: 'boolean', default: false } } },
        response: { 200: changeReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const r = await revertDevice(svc, req.params.name, { dryRun: req.body?.dryRun ?? false, actor: 'api' });
      return { device: r.device.disk.name, dryRun: r.dryRun, changes: r.changes, after: r.after, ...(r.interrupted ? { interrupted: r.interrupted } : {}) };
    },
  );
}
