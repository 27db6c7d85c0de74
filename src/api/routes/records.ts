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
  { path: 'audit', kind: 'audit', schema: 'Audit', tag: 'audit' },
];

/**
 * List pages are cached as serialised JSON until the kind is written again:
 * reads vastly outnumber writes here (dashboards, pollers), and a LevelDB
 * scan plus serialisation per request would cap throughput. The generation
 * is the store's, so a write by another process sharing it is seen too.
 */
const PAGE_CACHE_MAX = 256;

export function registerRecordRoutes(app: FastifyInstance, svc: Service): void {
  const pages = new Map<string, { gen: number; body: string }>();
  for (const r of ROUTES) {
    app.get<{ Querystring: { limit: number; after?: string } }>(
      `/v1/${r.path}`,
      { schema: { tags: [r.tag], summary: `List ${r.path} (key order; page with ?after=<last id>)`, querystring: listQuery, response: { 200: listOf(r.schema), ...errors(400) } } },
      async (req, reply) => {
        const key = `${r.kind}|${req.query.limit}|${req.query.after ?? ''}`;
        const gen = await svc.db.generation(r.kind);
        let page = pages.get(key);
        if (!page || page.gen !== gen) {
          const items = await svc.db.list(r.kind, { limit: req.query.limit, ...(req.query.after ? { after: req.query.after } : {}) });
          const last = items.at(-1) as Record<string, unknown> | undefined;
          const next = items.length === req.query.limit && last ? String(last.id ?? last.device) : undefined;
          page = { gen, body: JSON.stringify(next ? { items, next } : { items }) };
          if (pages.size >= PAGE_CACHE_MAX) pages.delete(pages.keys().next().value!);
          pages.set(key, page);
        }
        return reply.type('application/json; charset=utf-8').send(page.body);
      },
    );
    app.get<{ Params: { id: string } }>(
      `/v1/${r.path}/:id`,
      { schema: { tags: [r.tag], summary: `One ${r.kind.replace(/s$/, '')}`, params: idParams, response: { 200: { $ref: `${r.schema}#` }, ...errors(404) } } },
      async (req) => svc.db.require(r.kind, req.params.id),
    );
  }
}
