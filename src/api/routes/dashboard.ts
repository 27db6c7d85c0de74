/** The dashboard: one static page plus the vega/vega-lite browser builds it draws with (no CDN). */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export default async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  // Beside this module: `npm run build` copies src/api/dashboard/ into dist/ (an installed package has no src/).
  const page = readFileSync(new URL('../dashboard/index.html', import.meta.url));
  const require = createRequire(import.meta.url);
  // The packages do not export package.json; find their folder from the main entry instead.
  const asset = (pkg: string, file: string) => {
    let dir = path.dirname(require.resolve(pkg));
    while (path.basename(dir) !== pkg && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return readFileSync(path.join(dir, 'build', file));
  };
  const assets: Record<string, Buffer> = { 'vega.min.js': asset('vega', 'vega.min.js'), 'vega-lite.min.js': asset('vega-lite', 'vega-lite.min.js') };
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get<{ Params: { file: string } }>('/assets/:file', { schema: { hide: true } }, async (req, reply) => {
    const body = assets[req.params.file];
    if (!body) return reply.callNotFound();
    return reply.type('application/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(body);
  });
}
