/**
 * "-" as a trace argument, through the real CLI with a real pipe: `zcat x.gz | ssdtune analyze -` said
 * "-: no such file". Standard input is spooled once to a private temporary file (cli/standard-input.ts): read with
 * the same sniffing and decompression as a file, bounded (stdinMaxBytes), named "standard input" in errors, and
 * removed however the command ends (success, a refusal, SIGTERM).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir } from '../src/util/temp-dir.js';
import { killAtExit } from '../src/util/cleanup.js';

const CLI = path.resolve('dist/src/cli/main.js');
const MSR = path.resolve('traces/msr_hm_0_sample1000.csv');
const XZ = path.resolve('traces/fio_log-append.trace.xz');
const BZ2 = path.resolve('traces/tencent_cbs_sample50k.csv.bz2');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI with `input` written into its standard input through a pipe (in pieces, as a producer writes). */
async function piped(args: string[], input: Buffer, env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SSDTUNE_SERVER: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  killAtExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.on('error', () => undefined); // a command that stops reading (a refusal) closes the pipe
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  void (async () => {
    for (let at = 0; at < input.length; at += 65536) if (!child.stdin.write(input.subarray(at, at + 65536))) await once(child.stdin, 'drain');
    child.stdin.end();
  })().catch(() => undefined);
  const [code, signal] = await exited;
  return { code, signal, stdout, stderr };
}

function analyzeFile(file: string, tmp: string): { traces: { stats: unknown; format: string; source: string }[] } {
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--json', file], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { traces: { stats: unknown; format: string; source: string }[] };
}

test('analyze - reads standard input as it reads a file: plain, gzip, xz and bzip2, sniffed; nothing left in $TMPDIR', { timeout: 300_000 }, async () => {
  const tmp = tempDir('ssdtune-stdin-tmp-');
  try {
    for (const [file, bytes] of [
      [MSR, readFileSync(MSR)],
      [MSR, gzipSync(readFileSync(MSR))],
      [XZ, readFileSync(XZ)],
      [BZ2, readFileSync(BZ2)],
    ] as const) {
      const r = await piped(['analyze', '--json', '-'], bytes, { TMPDIR: tmp });
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
      const got = JSON.parse(r.stdout) as { traces: { stats: unknown; format: string; source: string }[] };
      const want = analyzeFile(file, tmp);
      assert.equal(got.traces[0]!.source, 'standard input');
      assert.equal(got.traces[0]!.format, want.traces[0]!.format, file);
      assert.deepEqual(got.traces[0]!.stats, want.traces[0]!.stats, `${file}: the same statistics as the file's`);
      assert.deepEqual(readdirSync(tmp), [], 'the spooled copy is removed');
    }
    // Beside files, in the text report too.
    const both = await piped(['analyze', MSR, '-'], readFileSync(MSR), { TMPDIR: tmp });
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /standard input/);
    const twice = await piped(['analyze', '-', '-'], readFileSync(MSR), { TMPDIR: tmp });
    assert.equal(twice.code, 2, twice.stderr);
    assert.match(twice.stderr, /"-" \(standard input\) can be given once/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('standard input: errors name it with the line, the bound is kept (SSDTUNE_STDIN_MAX_BYTES), SIGTERM removes the spool', { timeout: 300_000 }, async () => {
  const tmp = tempDir('ssdtune-stdin-tmp-');
  try {
    const good = readFileSync(MSR, 'latin1').split('\n').slice(0, 20).join('\n');
    const bad = await piped(['analyze', '-'], Buffer.from(`${good}\n128166385295999999,hm,0,Sideways,1,2,3\n`), { TMPDIR: tmp });
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /^ssdtune: standard input: line 21: .*\[SSDTUNE_TRACE_FORMAT\]$/m);
    assert.doesNotMatch(bad.stderr, /ssdtune-stdin-|\/stdin/, 'the spool is not named');
    assert.deepEqual(readdirSync(tmp), []);

    const big = await piped(['analyze', '-'], Buffer.alloc(4 << 20, 'x'), { TMPDIR: tmp, SSDTUNE_STDIN_MAX_BYTES: '100000' });
    assert.equal(big.code, 3, big.stderr);
    assert.match(big.stderr, /standard input: byte 100000: more than the limit of 100000 bytes .*stdinMaxBytes.*\[SSDTUNE_TRACE_LIMIT\]/);
    assert.deepEqual(readdirSync(tmp), []);

    // Nothing piped in: said of standard input, not of "the file".
    const empty = await piped(['analyze', '-'], Buffer.alloc(0), { TMPDIR: tmp });
    assert.equal(empty.code, 3, empty.stderr);
    assert.match(empty.stderr, /^ssdtune: standard input: cannot tell the trace format \(it is empty\); pass --format \[SSDTUNE_TRACE_UNKNOWN_FORMAT\]$/m);

    const zero = await piped(['analyze', '-'], Buffer.alloc(0), { TMPDIR: tmp, SSDTUNE_STDIN_MAX_BYTES: '0' });
    assert.equal(zero.code, 2, 'a bad bound is a usage error naming it');
    assert.match(zero.stderr, /SSDTUNE_STDIN_MAX_BYTES=0/);

    // A producer that never ends: SIGTERM while spooling leaves nothing behind.
    const child = spawn(process.execPath, [CLI, 'analyze', '-'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'ignore', 'pipe'] });
    killAtExit(child);
    child.stdin.on('error', () => undefined);
    child.stdin.write(readFileSync(MSR));
    const deadline = Date.now() + 30_000;
    while (!readdirSync(tmp).some((d) => d.startsWith('ssdtune-stdin-') && readdirSync(path.join(tmp, d)).includes('stdin'))) {
      assert.ok(Date.now() < deadline, 'the spool appears');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGTERM');
    assert.deepEqual(readdirSync(tmp), [], 'the spool is removed at the signal');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('tune - and identify - register standard input as a trace named stdin, read as often as the search needs', { timeout: 300_000 }, async () => {
  const tmp = tempDir('ssdtune-stdin-tmp-');
  const data = path.join(tmp, 'data');
  try {
    const env = { TMPDIR: tmp };
    const trace = readFileSync(path.resolve('traces/mqsim_wsrch-small.trace'));
    const tuned = await piped(['tune', '--data-dir', data, '--space', 'host', '--budget', '4', '--progress', 'none', '--json', '-'], gzipSync(trace), env);
    assert.equal(tuned.code, 0, tuned.stderr);
    const r = JSON.parse(tuned.stdout) as { workload: { name: string }; search?: { evaluations: number } };
    assert.equal(r.workload.name, 'stdin');
    assert.ok((r.search?.evaluations ?? 0) > 1, 'a search: the trace read once per evaluation');
    const known = await piped(['identify', '--data-dir', data, '-'], trace, env);
    assert.equal(known.code, 0, known.stderr);
    assert.match(known.stdout, /^known: stdin /);
    assert.deepEqual(readdirSync(tmp), ['data'], 'no spool left');
    // The tune's trace record names a file that exists, the input as it came (a job of it can be resumed);
    // identify's is forgotten with its copy. Before, the record named the spool, removed when the command ended.
    const listed = await piped(['db', 'list', 'traces', '--data-dir', data, '--json'], Buffer.alloc(0), env);
    const traces = JSON.parse(listed.stdout) as { id: string; name: string; path: string }[];
    assert.deepEqual(
      traces.map((t) => t.name),
      ['stdin'],
    );
    assert.ok(readFileSync(traces[0]!.path).equals(gzipSync(trace)), traces[0]!.path);
    assert.equal(path.dirname(traces[0]!.path), path.join(data, 'traces'));
    assert.deepEqual(readdirSync(path.join(data, 'traces')), [path.basename(traces[0]!.path)]);
    const deleted = await piped(['db', 'delete', 'traces', traces[0]!.id, '--data-dir', data], Buffer.alloc(0), env);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual(readdirSync(path.join(data, 'traces')), [], 'deleting the record removes the kept input');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
