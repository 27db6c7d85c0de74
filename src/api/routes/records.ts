/** Read routes for stored records (workloads, configs, evaluations, devices, traces, jobs, audit, pins, results, agents), and moving the whole ConfDB. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { PassThrough, type Readable } from 'node:stream';
import Type from 'typebox';
import { KINDS, ssdConfigXml } from '../../service/api.js';
import { errors, idParams, listOf, listQuery } from '../schemas.js';
import { streamedBody } from '../upload-limit.js';
import { capped } from '../../util/byte-cap.js';

/** The reply schema of each kind (schemas.ts). */
const SCHEMA: Record<(typeof KINDS)[number], string> = {
  workloads: 'Workload',
  configs: 'Config',
  evaluations: 'Evaluation',
  devices: 'Device',
  traces: 'Trace',
  jobs: 'Job',
  audit: 'Audit',
  pins: 'Pin',
  results: 'Result',
  agents: 'Agent',
};

const Counts = Type.Record(Type.String(), Type.Integer());

export default async function recordRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // List pages are cached (bounded: page-cache.ts) until the kind's generation moves; the generation
  // is the store's, so a write by another process sharing it is seen too.
  const pages = fastify.pageCache;
  for (const kind of KINDS) {
    app.get(
      `/${kind}`,
      {
        schema: {
          tags: [kind],
          summary: `List ${kind} (key order; page with ?after=<last id>)`,
          querystring: listQuery,
          response: { 200: listOf(SCHEMA[kind]), ...errors(400) },
        },
      },
      async (req, reply) => {
        const key = `${kind}|${req.query.limit}|${req.query.after ?? ''}`;
        const gen = await fastify.ssdtune.generation(kind);
        let body = pages.get(key, gen);
        if (body === undefined) {
          body = JSON.stringify(await req.api.list(kind, req.query));
          pages.set(key, gen, body);
        }
        // Already serialised: sent as is.
        return reply.type('application/json; charset=utf-8').send(body as never);
      },
    );
    app.get(
      `/${kind}/:id`,
      { schema: { tags: [kind], summary: `One ${kind.replace(/s$/, '')}`, params: idParams, response: { 200: { $ref: `${SCHEMA[kind]}#` }, ...errors(404) } } },
      // A record is sent as stored (the schema's serialiser would reorder its fields).
      async (req, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(await req.api.get(kind, req.params.id)) as never),
    );
  }

  app.get(
    '/configs/:id/ssdconfig.xml',
    {
      schema: {
        tags: ['configs'],
        summary: "An ssd configuration as MQSim's ssdconfig.xml (ssdtune db show configs ID --mqsim); a host one is a 400",
        params: idParams,
        produces: ['application/xml'],
        response: { 200: Type.String(), ...errors(400, 404) },
      },
    },
    async (req, reply) => reply.type('application/xml; charset=utf-8').send(ssdConfigXml(await req.api.get('configs', req.params.id))),
  );

  app.get('/export', { schema: { tags: ['confdb'], summary: 'The whole ConfDB as JSON lines (ssdtune db export)' } }, async (req, reply) => {
    const out = new PassThrough();
    void req.api.exportRecords(out).catch((e: Error) => out.destroy(e));
    return reply.type('application/x-ndjson').send(out);
  });
  // An import is one batch, all or nothing, so its records are held until the end: the body's size bounds that
  // memory (and readline's, for a line that never ends).
  const limit = fastify.ssdtune.svc.settings.maxUploadBytes;
  app.post(
    '/import',
    {
      ...streamedBody(app, 'application/x-ndjson', limit),
      schema: {
        tags: ['confdb'],
        summary: 'Add the records of an export (Content-Type: application/x-ndjson), all or nothing (ssdtune db import)',
        querystring: Type.Object({ name: Type.Optional(Type.String({ maxLength: 4096 })) }),
        response: { 200: Counts, ...errors(400, 401, 413, 415) },
      },
    },
    async (req) => {
      return req.api.importRecords(capped(req.body as Readable, limit), req.query.name ?? 'upload');
    },
  );
  app.post(
    '/compact',
    { schema: { tags: ['confdb'], summary: 'Compact the LevelDB files', response: { 200: Type.Object({}), ...errors(401) } } },
    async (req) => {
      await req.api.compact();
      return {};
    },
  );
}
