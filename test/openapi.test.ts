/**
 * The OpenAPI document tells a client which routes need the token, and it
 * tells the truth: each documented operation is called without the token on
 * the real server, and it answers 401 exactly when the document marks it
 * secured (and every route that changes state is secured).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { tempDir } from '../src/util/temp-dir.js';

interface Operation {
  security?: Array<Record<string, string[]>>;
}

test('OpenAPI: only the routes that need the token are marked secured, and they are the ones that refuse a call without it', async () => {
  const dataDir = tempDir('ssdtune-openapi-');
  const svc = await openService(loadSettings({ dataDir, port: 0 }), jobHandlers);
  const { app, url } = await startServer(svc);
  try {
    const doc = (await (await fetch(url + '/docs/json')).json()) as {
      security?: unknown;
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    assert.equal(doc.security, undefined, 'no document-wide requirement: reading needs no token');
    assert.ok(doc.components.securitySchemes.bearer, 'the bearer scheme is described');
    const secured: string[] = [];
    const open: string[] = [];
    for (const [route, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${route}`;
        const marked = (op.security ?? []).some((s) => 'bearer' in s);
        (marked ? secured : open).push(name);
        if (method === 'get' || method === 'head') assert.equal(marked, false, `${name} reads: it must not be marked secured`);
        else assert.equal(marked, true, `${name} changes state: it must be marked secured`);
        // What the server does without the token agrees with the document.
        const res = await fetch(url + route.replace(/\{[^}]+\}/g, 'nosuch'), {
          method: method.toUpperCase(),
          ...(method === 'get' || method === 'head' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
        });
        await res.arrayBuffer();
        if (marked) assert.equal(res.status, 401, `${name} is marked secured but answered ${res.status} without the token`);
        else assert.notEqual(res.status, 401, `${name} is documented open but wants the token`);
      }
    }
    assert.ok(secured.includes('POST /v1/jobs') && open.includes('GET /v1/jobs'), `secured: ${secured.join(', ')}`);
  } finally {
    await app.close();
    await svc.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
