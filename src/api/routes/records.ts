/** Read routes for stored records: workloads, configs, evaluations, devices, traces, jobs. */
import type { FastifyInstance } from 'fastify';
import type { Kind } from '../../confdb/db.js';
import type { Service } from '../../service/context.js';
import { errors, idParams, listOf, listQuery } from '../schemas.js';

const ROUTES: { path: string; kind: Kind; schema: string; tag: string }[] = [
  { path: 'workloads', kind: 'workloads', schema: 'Workload', tag: 'workloads' },
  { path: 'configs', kind: 'configs', schema: 'Config', tag: 'configs' },
  { path: 'evaluations', kind: 'evaluations', schema: 'Evaluation', tag: 'evaluations' },
  { path: 'devices', kind: 'devices', schema: 'Device', tag: 'devices' },
  { path: 'traces', kind: 'traces', schema: 'Trace', tag: 'traces' },
  { path: 'jobs', kind: 'jobs', schema: 'Job', tag: 'jobs' },
];

export function registerRecordRoutes(app: FastifyInstance, svc: Service): void {
  for (const r of ROUTES) {
    app.get<{ Querystring: { limit: number; after?: string } }>(
      `/v1/${r.path}`,
      { schema: { tags: [r.tag], summary: `List ${r.path} (key order; page with ?after=<last id>)`, querystring: listQuery, response: { 200: listOf(r.schema), ...errors(400) } } },
      async (req) => {
        const items = await svc.db.list(r.kind, { limit: req.query.limit, ...(req.query.after ? { after: req.query.after } : {}) });
        const last = items.at(-1) as Record<string, unknown> | undefined;
        const next = items.length === req.query.limit && last ? String(last.id ?? last.device) : undefined;
        return next ? { items, next } : { items };
      },
    );
    app.get<{ Params: { id: string } }>(
      `/v1/${r.path}/:id`,
      { schema: { tags: [r.tag], summary: `One ${r.kind.replace(/s$/, '')}`, params: idParams, response: { 200: { $ref: `${r.schema}#` }, ...errors(404) } } },
      async (req) => svc.db.require(r.kind, req.params.id),
    );
  }
}
