import type { FastifyInstance } from 'fastify';
import type { Service } from '../../service/context.js';

export function registerHealthRoutes(app: FastifyInstance, svc: Service, version: string): void {
  const started = Date.now();
  app.get(
    '/v1/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness and ConfDB status',
        response: { 200: { type: 'object', properties: { status: { type: 'string' }, version: { type: 'string' }, schema: { type: 'integer' }, uptimeSeconds: { type: 'number' } } } },
      },
    },
    async () => ({ status: 'ok', version, schema: await svc.db.schemaVersion(), uptimeSeconds: (Date.now() - started) / 1000 }),
  );
}
