import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { analyzeTraces } from '../src/service/analyze.js';
import { renderReport } from '../src/analyze/report.js';
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

test('HTML report renders offline in Chromium with its SVG charts', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not installed`);
    return;
  }
  const dir = tempDir('ssdtune-report-');
  // MQSim has no completion times; the MSR sample has response times (latency CDF); plus their combination
  const report = await analyzeTraces([path.resolve('traces/mqsim_wsrch-small.trace'), path.resolve('traces/msr_hm_0_sample1000.csv')]);
  const file = path.join(dir, 'report.html');
  writeFileSync(file, await renderReport(report));

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const svgs = await page.locator('figure > svg').count();
    // MQSim: heat map, throughput (one SVG with two panels), size histogram, seek distance; MSR: the same +
    // queue depth over time + latency CDF; combined: MQSim's + latency CDF (queue depth is only per trace)
    assert.equal(svgs, 4 + 6 + 5);
    const titles = await page.locator('figure svg text').allTextContents();
    for (const title of [
      'Where and when: requests by LBA and time',
      'Throughput over time',
      'Request sizes',
      'Latency distribution (CDF)',
      'Queue depth over time',
      'Seek distance',
    ]) {
      assert.ok(titles.includes(title), `chart "${title}" present`);
    }
    assert.ok(titles.includes('LBA offset (GiB)') && titles.includes('time (s)'), 'axes carry units');
    const box = await page.locator('figure > svg').first().boundingBox();
    assert.ok(box && box.width > 500 && box.height > 300, 'heat map has a real size');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], 'the page fetches nothing');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
