/**
 * `npm run bench abuse` (issue 15, "Done when"): replays the attacks of the
 * issue against a real `ssdtune serve` on loopback and prints, per attack,
 * the server's peak RSS while it ran (sampled from /proc every 10 ms) and
 * the answer it got. Throughout, a prober asks GET /v1/health every 25 ms;
 * its p99 is printed per attack and overall. At the end the ConfDB is
 * counted again: nothing stored before the attacks may be gone.
 *
 * Goals: every bomb refused or bounded under 256 MiB, every answer a coded
 * error (or the documented success), nothing lost, health p99 < 50 ms.
 * Wall-clock figures need an idle machine: the load average is printed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../src/native.js';
import { killAtExit } from '../src/util/cleanup.js';
import { tempDir } from '../src/util/temp-dir.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');
const MiB = 1 << 20;
const RSS_GOAL = 256 * MiB;
const HEALTH_GOAL_MS = 50;

interface Server {
  child: ChildProcess;
  url: string;
  token: string;
  dataDir: string;
}

async function startServe(dataDir: string, extra: string[] = []): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', dataDir, '--port', '0', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SSDTUNE_SIM_PRECONDITION: '0' },
  });
  killAtExit(child); // should the bench die first (util/cleanup.ts)
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
  return { child, url, token: readFileSync(path.join(dataDir, 'api-token'), 'utf8').trim(), dataDir };
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Health latencies (ms), probed every 25 ms while `running`. */
class Prober {
  samples: number[] = [];
  failures = 0;
  private stop = false;
  private loop?: Promise<void>;
  constructor(private readonly url: string) {}
  start(): void {
    this.loop = (async () => {
      while (!this.stop) {
        const t = performance.now();
        try {
          const r = await fetch(`${this.url}/v1/health`, { signal: AbortSignal.timeout(10_000) });
          await r.text();
          if (r.status !== 200) this.failures++;
        } catch {
          this.failures++;
        }
        this.samples.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
  }
  async end(): Promise<void> {
    this.stop = true;
    await this.loop;
  }
}

function p99(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]!;
}

interface Answer {
  status: number;
  code?: string;
  message?: string;
}

async function answerOf(r: Response): Promise<Answer> {
  const text = await r.text();
  try {
    const j = JSON.parse(text) as { error?: { code: string; message: string } };
    return { status: r.status, ...(j.error ? { code: j.error.code, message: j.error.message } : {}) };
  } catch {
    return { status: r.status, message: text.slice(0, 80) };
  }
}

interface Row {
  attack: string;
  peakRss: number;
  answer: string;
  ok: boolean;
  healthP99: number;
}

export async function run(): Promise<void> {
  const work = tempDir('ssdtune-bench-abuse-');
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  const s = await startServe(path.join(work, 'data'));
  const pid = s.child.pid!;
  const auth = { authorization: `Bearer ${s.token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const all = new Prober(s.url);
  all.start();
  const rows: Row[] = [];

  /**
   * Run one attack, sampling the server's RSS and probing health while it runs. `rssBound`: the
   * 256 MiB goal applies (bombs, long lines, pinned pages); the other rows report the RSS only
   * (an ssd job's simulator needs its device mapping; RSS also carries over from the row before).
   */
  const attack = async (name: string, fn: () => Promise<{ answer: string; ok: boolean }>, rssBound = true): Promise<void> => {
    let peak = rssOf(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 10);
    const from = all.samples.length;
    let res: { answer: string; ok: boolean };
    try {
      res = await fn();
    } catch (e) {
      res = { answer: `bench error: ${(e as Error).message}`, ok: false };
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rssOf(pid));
    const h = p99(all.samples.slice(from));
    const ok = res.ok && (!rssBound || peak < RSS_GOAL);
    rows.push({ attack: name, peakRss: peak, answer: res.answer, ok, healthP99: h });
    console.log(
      `${name.padEnd(50)} ${(peak / MiB).toFixed(0).padStart(5)} MiB${rssBound ? ' ' : '*'} health p99 ${h.toFixed(1).padStart(7)} ms  ${ok ? 'ok  ' : 'FAIL'}  ${res.answer}`,
    );
  };

  const upload = async (file: string, name: string): Promise<Answer & { id?: string }> => {
    const r = await fetch(`${s.url}/v1/traces?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) },
      body: createReadStream(file) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit);
    const text = await r.text();
    const j = JSON.parse(text) as { id?: string; error?: { code: string; message: string } };
    return { status: r.status, ...(j.id ? { id: j.id } : {}), ...(j.error ? { code: j.error.code, message: j.error.message } : {}) };
  };

  /** Upload, then tune it as a job and wait for the job's end: the job's coded error is the answer. */
  const uploadAndTune = async (file: string, name: string): Promise<{ answer: string; ok: boolean }> => {
    const up = await upload(file, name);
    if (!up.id) return { answer: `upload ${up.status} ${up.code ?? ''}`, ok: !!up.code };
    const sub = await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ traceId: up.id, budget: 3, space: 'host' }) });
    const { job } = (await sub.json()) as { job: { id: string } };
    const until = Date.now() + 300_000;
    for (;;) {
      const j = (await (await fetch(`${s.url}/v1/jobs/${job.id}`)).json()) as { status: string; error?: string; errorCode?: string };
      if (!['queued', 'running'].includes(j.status)) {
        const code = j.errorCode ?? /\[?(SSDTUNE_[A-Z_]+)\]?/.exec(j.error ?? '')?.[1];
        return {
          answer: `job ${j.status}${code ? ` ${code}` : ''}: ${(j.error ?? '').slice(0, 90)}`,
          ok: j.status === 'failed' && /SSDTUNE_TRACE_LIMIT|limit/.test(`${code} ${j.error}`),
        };
      }
      if (Date.now() > until) return { answer: `job still ${j.status} after 300 s`, ok: false };
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  try {
    // What is stored before the attacks, to check nothing is lost.
    const seed = await upload(path.join(PROJECT_ROOT, 'traces', 'msr_hm_0_sample1000.csv'), 'seed.csv');
    const countKinds = async () => {
      const out: Record<string, number> = {};
      for (const k of ['traces', 'jobs', 'configs', 'workloads'])
        out[k] = ((await (await fetch(`${s.url}/v1/${k}?limit=10000`, { headers: auth })).json()) as { items: unknown[] }).items.length;
      return out;
    };
    const seedJob = (await (
      await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ traceId: seed.id, budget: 4 }) })
    ).json()) as { job: { id: string } };
    for (let i = 0; i < 600; i++) {
      const j = (await (await fetch(`${s.url}/v1/jobs/${seedJob.job.id}`)).json()) as { status: string };
      if (!['queued', 'running'].includes(j.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const before = await countKinds();
    console.log(
      `load average at start: ${load0}; server pid ${pid}, RSS ${(rssOf(pid) / MiB).toFixed(0)} MiB after a first tune; stored: ${JSON.stringify(before)}`,
    );
    console.log(
      `${'attack'.padEnd(50)} ${'peak RSS'.padStart(9)}  ${'health p99'.padStart(18)}  verdict / answer   (* RSS reported, not held to ${RSS_GOAL / MiB} MiB)`,
    );

    // 1. Decompression bombs: 1 GiB of zeros in each codec (item 1).
    const zeros = (codec: string, args: string[]): string => {
      const out = path.join(work, `zeros.${codec}`);
      execFileSync('bash', ['-c', `head -c 1G /dev/zero | ${[codec, ...args].join(' ')} > ${out}`]);
      return out;
    };
    for (const [codec, args, ext] of [
      ['bzip2', ['-9'], 'bz2'],
      ['xz', ['-0', '-T1'], 'xz'],
      ['zstd', ['-19', '-q'], 'zst'],
      ['gzip', ['-9'], 'gz'],
    ] as const) {
      let file: string;
      try {
        file = zeros(codec, [...args]);
      } catch {
        console.log(`${codec} bomb: ${codec} is not installed, skipped`);
        continue;
      }
      await attack(`${ext} bomb (${statSync(file).size} B -> 1 GiB) upload + tune`, () => uploadAndTune(file, `bomb.csv.${ext}`));
    }

    // 2. One 100 MB line, plain and gzipped (item 5, reader side).
    const line = path.join(work, 'line.csv');
    execFileSync('bash', ['-c', `head -c 100000000 /dev/zero | tr '\\0' 'a' > ${line}`]);
    await attack('one 100 MB line, upload + tune', () => uploadAndTune(line, 'line.csv'));
    execFileSync('bash', ['-c', `gzip -1 -c ${line} > ${line}.gz`]);
    await attack('one 100 MB line gzipped, upload + tune', () => uploadAndTune(`${line}.gz`, 'line.csv.gz'));

    // 3. Register a file outside the upload directory (item 6).
    await attack('register /etc/shadow', async () => {
      const a = await answerOf(await fetch(`${s.url}/v1/traces/register`, { method: 'POST', headers: json, body: JSON.stringify({ path: '/etc/shadow' }) }));
      const shadow = readFileSync('/etc/shadow', 'utf8').slice(0, 12);
      const leaked = !!a.message && shadow.length > 4 && a.message.includes(shadow.slice(0, 8));
      return { answer: `${a.status} ${a.code ?? ''}${leaked ? ' LEAKS CONTENT' : ''}`, ok: !!a.code && a.status >= 400 && !leaked };
    });
    await attack('register /etc/nonexistent (existence probe)', async () => {
      const a = await answerOf(
        await fetch(`${s.url}/v1/traces/register`, { method: 'POST', headers: json, body: JSON.stringify({ path: '/etc/ssdtune-nonexistent' }) }),
      );
      const b = await answerOf(await fetch(`${s.url}/v1/traces/register`, { method: 'POST', headers: json, body: JSON.stringify({ path: '/etc/hostname' }) }));
      const same = a.status === b.status && a.code === b.code;
      return { answer: `${a.status} ${a.code} vs ${b.status} ${b.code}${same ? '' : ' (tells them apart)'}`, ok: same && !!a.code };
    });

    // 4. Pin memory through the list-page cache without a token (item 7).
    await attack('256 list pages of 10,000 records, no token', async () => {
      const codes = new Map<number, number>();
      for (let i = 0; i < 256; i++) {
        const r = await fetch(`${s.url}/v1/audit?limit=10000&after=${String(i).padStart(4, '0')}`);
        await r.arrayBuffer();
        codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
      }
      return { answer: [...codes].map(([c, n]) => `${n}x ${c}`).join(', '), ok: true };
    });

    // 5. The token (item 4).
    await attack('POST with "Bearer \\xa0"', async () => {
      const a = await answerOf(
        await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: { authorization: 'Bearer \xa0', 'content-type': 'application/json' }, body: '{}' }),
      );
      return { answer: `${a.status} ${a.code}`, ok: a.status === 401 && a.code === 'SSDTUNE_UNAUTHORIZED' };
    });

    // 6. Job flooding (item 10).
    await attack(
      '20 identical concurrent job submissions',
      async () => {
        const rs = await Promise.all(
          Array.from({ length: 20 }, () =>
            fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ traceId: seed.id, budget: 7777 }) }).then(
              (r) => r.json() as Promise<{ job: { id: string } }>,
            ),
          ),
        );
        const ids = new Set(rs.map((r) => r.job.id));
        await fetch(`${s.url}/v1/jobs/${[...ids][0]}/cancel`, { method: 'POST', headers: auth });
        return { answer: `${ids.size} job(s)`, ok: ids.size === 1 };
      },
      false,
    );
    await attack(
      '1000 distinct job submissions',
      async () => {
        const codes = new Map<string, number>();
        const made: string[] = [];
        for (let b = 100; b < 1100; b++) {
          const r = await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ traceId: seed.id, budget: b }) });
          const a = (await r.json()) as { job?: { id: string }; error?: { code: string } };
          if (a.job) made.push(a.job.id);
          const k = `${r.status}${a.error ? ` ${a.error.code}` : ''}`;
          codes.set(k, (codes.get(k) ?? 0) + 1);
        }
        for (const id of made) await fetch(`${s.url}/v1/jobs/${id}/cancel`, { method: 'POST', headers: auth });
        return { answer: [...codes].map(([c, n]) => `${n}x ${c}`).join(', '), ok: [...codes.keys()].some((k) => k.startsWith('429 SSDTUNE_QUEUE_FULL')) };
      },
      false,
    );

    // 7. CPU-heavy work while health is probed (item 14): an ssd tune of a 4 MB trace (identification,
    //    characterisation and the search); the verdict is the health p99 while it ran.
    await attack(
      'ssd tune job (msnfs 4 MB, budget 8), health p99',
      async () => {
        const up = await upload(path.join(PROJECT_ROOT, 'traces', 'msps_msnfs_30s.trace'), 'msnfs.trace');
        const from = all.samples.length;
        const sub = await fetch(`${s.url}/v1/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ traceId: up.id, budget: 8 }) });
        const { job } = (await sub.json()) as { job: { id: string } };
        let j: { status: string; error?: string } = { status: 'queued' };
        while (['queued', 'running'].includes(j.status)) {
          await new Promise((r) => setTimeout(r, 250));
          j = (await (await fetch(`${s.url}/v1/jobs/${job.id}`)).json()) as typeof j;
        }
        const h = p99(all.samples.slice(from));
        return {
          answer: `job ${j.status}${j.error ? `: ${j.error.slice(0, 60)}` : ''}; health p99 ${h.toFixed(1)} ms`,
          ok: j.status === 'done' && h < HEALTH_GOAL_MS,
        };
      },
      false,
    );

    // 8. Exposure (item 8): a rebinding Host header; a non-loopback bind without --expose; reads of an exposed server.
    await attack(
      'GET /v1/audit with Host: rebind.attacker.example',
      async () => {
        const { request } = await import('node:http');
        const u = new URL(s.url);
        const a = await new Promise<Answer>((resolve, reject) => {
          const req = request({ host: u.hostname, port: u.port, path: '/v1/audit', headers: { host: 'rebind.attacker.example' } }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, code: (JSON.parse(body) as { error?: { code: string } }).error?.code }));
          });
          req.on('error', reject);
          req.end();
        });
        return { answer: `${a.status} ${a.code ?? ''}`, ok: a.status === 421 && a.code === 'SSDTUNE_HOST_NOT_ALLOWED' };
      },
      false,
    );
    await attack(
      'serve --host 0.0.0.0 without --expose; exposed reads',
      async () => {
        const other = path.join(work, 'exposed');
        const r = spawnSync(process.execPath, [CLI, 'serve', '--data-dir', other, '--port', '0', '--host', '0.0.0.0'], { encoding: 'utf8', timeout: 60_000 });
        const refused = /\[(SSDTUNE_[A-Z_]+)\]/.exec(r.stderr)?.[1];
        const e = await startServe(other, ['--host', '0.0.0.0', '--expose']);
        try {
          const codes = await Promise.all(
            ['/v1/audit', '/v1/traces', '/v1/devices', '/metrics'].map(async (route) => (await answerOf(await fetch(`${e.url}${route}`))).code),
          );
          const all401 = codes.every((c) => c === 'SSDTUNE_UNAUTHORIZED');
          return {
            answer: `plain: exit ${r.status} ${refused ?? ''}; --expose: 4 reads without token: ${all401 ? '401 SSDTUNE_UNAUTHORIZED' : codes.join(',')}`,
            ok: r.status === 2 && refused === 'SSDTUNE_SERVE_EXPOSED' && all401,
          };
        } finally {
          e.child.kill('SIGTERM');
          await new Promise((res) => e.child.once('exit', res));
        }
      },
      false,
    );

    const after = await countKinds();
    const lost = Object.keys(before).filter((k) => after[k]! < before[k]!);
    await all.end();
    const overall = p99(all.samples);
    console.log(`stored after: ${JSON.stringify(after)}; ${lost.length ? `LOST: ${lost.join(', ')}` : 'nothing lost'}`);
    console.log(
      `health: ${all.samples.length} probes, ${all.failures} failed, p99 ${overall.toFixed(1)} ms (goal < ${HEALTH_GOAL_MS} ms) ${overall < HEALTH_GOAL_MS && all.failures === 0 ? 'ok' : 'MISSED'}`,
    );
    console.log(`attacks ok: ${rows.filter((r) => r.ok).length}/${rows.length}; load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    await all.end();
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}
