/** The dashboard page, served by the real server, rendered in headless Chromium over loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { tune } from '../src/service/tune.js';
import { resolveTuneArgs } from '../src/service/tune-spec.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('dashboard: workloads in the PCA plane, search convergence, configurations and jobs render with no errors and no outside requests', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` }, async () => {
  const svc = await openService(loadSettings({ dataDir: mkdtempSync(path.join(tmpdir(), 'ssdtune-dash-')), port: 0 }), jobHandlers);
  const { app, url } = await startServer(svc);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  try {
    // Real content: a host-space tune of a real trace (fast: readahead model).
    await tune(svc, { tracePath: path.resolve('traces/mqsim_wsrch-small.trace'), spec: resolveTuneArgs({ space: 'host', evaluator: 'readahead-model', budget: 6 }, svc.settings).spec });
    const page = await browser.newPage();
    const errors: string[] = [];
    const outside: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => !r.url().startsWith(url) && outside.push(r.url()));
    await page.goto(url + '/');
    await page.waitForSelector('#pca svg', { timeout: 20_000 });
    await page.waitForSelector('#convergence svg');
    assert.match(await page.textContent('#health') ?? '', /schema 1/);
    assert.match(await page.textContent('#configs') ?? '', /host/);
    assert.match(await page.textContent('#configs') ?? '', /readahead-model/);
    assert.ok((await page.$$('#pca svg path, #pca svg .mark-symbol path')).length > 0, 'a point per workload');
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
    await page.screenshot({ path: path.join(tmpdir(), 'ssdtune-dashboard.png'), fullPage: true });
  } finally {
    await browser.close();
    await app.close();
    await svc.close();
  }
});
