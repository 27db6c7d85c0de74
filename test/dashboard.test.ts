/** The dashboard page, served by the real server, rendered in headless Chromium over loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadSettings } from '../src/config.js';
import { openService } from '../src/service/context.js';
import { jobHandlers } from '../src/service/handlers.js';
import { startServer } from '../src/api/server.js';
import { InProcessApi } from '../src/service/api.js';
import { tempDir } from '../src/util/temp-dir.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

test(
  'dashboard: workloads in the PCA plane, search convergence, configurations and jobs render with no errors and no outside requests; a 1400 px window needs no horizontal scroll; legends name workloads',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` },
  async () => {
    const dataDir = tempDir('ssdtune-dash-');
    const svc = await openService(loadSettings({ dataDir, port: 0 }), jobHandlers);
    const { app, url } = await startServer(svc);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      // Real content: host-space tunes of a real trace (fast: readahead model), as jobs like the API runs them;
      // the second searches the same workload again, and the legend tells the two apart by name, not by job id.
      const api = new InProcessApi(svc, 'test');
      await api.tune(path.resolve('traces/mqsim_wsrch-small.trace'), { space: 'host', evaluator: 'readahead-model', budget: 6 });
      await api.tune(path.resolve('traces/mqsim_wsrch-small.trace'), { space: 'host', evaluator: 'readahead-model', budget: 4, forceSearch: true });
      // A live tune's configuration measured with an attribute held (live-held.test makes one on a loop device): as an
      // import from the host that ran it brings it in. The page says what it was measured with.
      const [best] = (await svc.db.list('configs')).filter((c) => c.space === 'host');
      assert.ok(best?.metrics);
      const hold = { key: 'iosched.async_depth', from: '16', to: '32', by: 'nr_requests=32' };
      await svc.db.put('configs', { ...best, id: 'live-held-config', evaluator: 'live', metrics: { ...best.metrics, held: [hold] } });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      const outside: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => !r.url().startsWith(url) && outside.push(r.url()));
      await page.goto(url + '/');
      await page.waitForSelector('#pca svg', { timeout: 20_000 });
      await page.waitForSelector('#convergence svg');
      assert.match((await page.textContent('#health')) ?? '', /schema 1/);
      assert.match((await page.textContent('#configs')) ?? '', /host/);
      assert.match((await page.textContent('#configs')) ?? '', /readahead-model/);
      assert.match((await page.textContent('#configs')) ?? '', /iosched\.async_depth at 16 \(writing nr_requests=32 made it 32\)/);
      // A job's progress reads as the CLI's progress line: its phase, evaluations and best grade.
      assert.match((await page.textContent('#jobs')) ?? '', /search: 6\/6 evaluations, best grade \d/);
      assert.ok((await page.$$('#pca svg path, #pca svg .mark-symbol path')).length > 0, 'a point per workload');
      // Legends: workload names, never a record id (18 characters of base-36 time and hex).
      const legends = async (sel: string) => page.$$eval(`${sel} svg .role-legend text`, (ts) => ts.map((t) => t.textContent ?? ''));
      const pcaLegend = await legends('#pca');
      const convLegend = await legends('#convergence');
      assert.ok(pcaLegend.includes('mqsim_wsrch-small.trace'), `PCA legend: ${pcaLegend.join(' | ')}`);
      assert.ok(
        convLegend.includes('mqsim_wsrch-small.trace') && convLegend.includes('mqsim_wsrch-small.trace (search 2)'),
        `convergence legend: ${convLegend.join(' | ')}`,
      );
      for (const t of [...pcaLegend, ...convLegend]) assert.doesNotMatch(t, /\b[0-9a-z]{12}[0-9a-f]{6}\b/, `an id in a legend: ${t}`);
      // No horizontal scroll at 1400 px: not the page, not a section.
      // (A string: it runs in the page, whose DOM types this Node project does not load.)
      const overflow = await page.evaluate(`({
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      sections: [...document.querySelectorAll('section')].map((s) => s.querySelector('h2').textContent + ': ' + (s.scrollWidth - s.clientWidth)).filter((x) => !x.endsWith(': 0')),
      columns: getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length,
    })`);
      assert.deepEqual(overflow, { page: 0, sections: [], columns: 2 });
      assert.deepEqual(errors, []);
      assert.deepEqual(outside, []);
    } finally {
      await browser.close();
      await app.close();
      await svc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
