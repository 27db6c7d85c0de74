/** Prometheus text exposition at GET /metrics: request counts and latency, jobs, stored records. */
import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export function registerMetrics(app: FastifyInstance): void {
  const requests = new Map<string, number>();
  let durationSum = 0;
  let durationCount = 0;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    const key = `method="${req.method}",route="${route}",status="${reply.statusCode}"`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    durationSum += reply.elapsedTime / 1000;
    durationCount++;
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const lines: string[] = [];
    lines.push('# HELP ssdtune_http_requests_total HTTP requests served.', '# TYPE ssdtune_http_requests_total counter');
    for (const [k, v] of requests) lines.push(`ssdtune_http_requests_total{${k}} ${v}`);
    lines.push('# HELP ssdtune_http_request_duration_seconds Time spent serving requests.', '# TYPE ssdtune_http_request_duration_seconds summary');
    lines.push(`ssdtune_http_request_duration_seconds_sum ${durationSum}`, `ssdtune_http_request_duration_seconds_count ${durationCount}`);
    const stats = await app.ssdtune.stats();
    lines.push('# HELP ssdtune_records Records in the ConfDB.', '# TYPE ssdtune_records gauge');
    for (const [k, n] of Object.entries(stats.records)) lines.push(`ssdtune_records{kind="${k}"} ${n}`);
    lines.push('# HELP ssdtune_jobs Tune jobs by status.', '# TYPE ssdtune_jobs gauge');
    for (const [s, n] of Object.entries(stats.jobs)) lines.push(`ssdtune_jobs{status="${s}"} ${n}`);
    lines.push(
      '# HELP ssdtune_page_cache_bytes Bytes of list pages kept for reuse (bounded).',
      '# TYPE ssdtune_page_cache_bytes gauge',
      `ssdtune_page_cache_bytes ${app.pageCache.bytes}`,
    );
    const mem = process.memoryUsage();
    lines.push('# TYPE process_resident_memory_bytes gauge', `process_resident_memory_bytes ${mem.rss}`);
    void reply.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  });
}
