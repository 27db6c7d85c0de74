// Issue 15, input side: every reader bounded in memory and time whatever the
// input (decompression bombs, endless or huge lines, FIFOs, corrupt streams,
// out-of-range numbers), with coded errors naming the file and the position,
// and cancellable through an AbortSignal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTrace } from '../src/readers/registry.js';
import { readChunks } from '../src/readers/input.js';
import { collect } from '../src/trace/model.js';
import { isSsdtuneError } from '../src/errors.js';
import { PROJECT_ROOT } from '../src/native.js';
import { tempDir } from '../src/util/temp-dir.js';
import { col } from '../src/util/at.js';
import { killAtExit } from '../src/util/cleanup.js';

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures');
/** 785 bytes of bzip2: 1 GiB of zeros (the bomb). */
const ZEROS_BOMB = path.join(FIXTURES, 'zeros-1gib.bz2');
/** 540 bytes of bzip2: 8 MiB of the valid MQSim line "0 0 0 8 1". */
const LINES_8MB = path.join(FIXTURES, 'lines-8mb.bz2');
const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'main.js');

const tmp = (): string => tempDir('ssdtune-bounds-');

function hasCode(code: string, re?: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(isSsdtuneError(e, code), `expected ${code}, got ${String(e)}`);
    if (re) assert.match((e as Error).message, re);
    return true;
  };
}

/** MQSim text of exactly `n` bytes (the last line padded with spaces). */
function exactTrace(n: number): { text: Buffer; lines: number } {
  const parts: string[] = [];
  let len = 0;
  let i = 0;
  for (;;) {
    const l = `${i * 1000} 0 ${i * 8} 8 1\n`;
    if (len + l.length + 64 > n) break;
    parts.push(l);
    len += l.length;
    i++;
  }
  const last = `${i * 1000} 0 ${i * 8} 8 1`;
  parts.push(last + ' '.repeat(n - len - last.length - 1) + '\n');
  const text = Buffer.from(parts.join(''), 'latin1');
  assert.equal(text.length, n);
  return { text, lines: i + 1 };
}

const COMPRESSORS: [string, string[], string][] = [
  ['gzip', ['-c'], 'gz'],
  ['bzip2', ['-c'], 'bz2'],
  ['xz', ['-c', '-T1'], 'xz'],
  ['zstd', ['-c', '-q', '--check'], 'zst'],
  ['zstd', ['-c', '-q', '--no-check'], 'nocheck.zst'],
];

test('decompression: outputs of exact multiples of 256 KiB and 1 MiB read whole with every codec (zstd regression)', async () => {
  const dir = tmp();
  for (const size of [256 << 10, 1 << 20, 3 << 20]) {
    const { text, lines } = exactTrace(size);
    for (const [tool, args, ext] of COMPRESSORS) {
      const file = path.join(dir, `t${size}.${ext}`);
      writeFileSync(file, execFileSync(tool, args, { input: text, maxBuffer: 1 << 26 }));
      let bytes = 0;
      for await (const c of readChunks(file)) bytes += c.buf.length;
      assert.equal(bytes, size, `${file}: decompressed bytes`);
      const t = await collect(await openTrace(file, { format: 'mqsim' }));
      assert.equal(t.length, lines, `${file}: requests`);
    }
  }
});

/** Peak RSS (MiB) and outcome of reading `file` in a fresh process. */
function readInChild(file: string, opts: object): { rssMiB: number; code?: string; message?: string; seconds: number } {
  const script = `
    import { readFileSync } from 'node:fs';
    // VmHWM: this process's own peak (getrusage's maxRSS also counts the parent's pages at fork).
    const hwmMiB = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    import { openTrace } from ${JSON.stringify(path.join(PROJECT_ROOT, 'dist', 'src', 'readers', 'registry.js'))};
    const t0 = performance.now();
    let out = {};
    try { for await (const _ of await openTrace(${JSON.stringify(file)}, ${JSON.stringify(opts)})); }
    catch (e) { out = { code: e.code, message: e.message }; }
    out.seconds = (performance.now() - t0) / 1000;
    out.rssMiB = hwmMiB();
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('decompression bomb: 785 bytes of bzip2 (1 GiB of zeros) end in a coded error within bounded memory', () => {
  // As a text trace: the zeros are one endless line.
  const asText = readInChild(ZEROS_BOMB, { format: 'mqsim' });
  assert.equal(asText.code, 'SSDTUNE_TRACE_LIMIT', asText.message);
  assert.match(asText.message!, /zeros-1gib\.bz2: line 1 \(starting at decompressed byte 0\): a line longer than 1048576 bytes \(maxLineBytes\)/);
  assert.ok(asText.rssMiB < 256, `peak RSS ${asText.rssMiB} MiB`);
  // Sniffed: the head is binary, no format claims it.
  assert.equal(readInChild(ZEROS_BOMB, {}).code, 'SSDTUNE_TRACE_UNKNOWN_FORMAT');
  // With the line cap out of the way, the ratio cap stops it at 64 MiB of output.
  const ratio = readInChild(ZEROS_BOMB, { format: 'mqsim', limits: { maxLineBytes: 2 ** 40 } });
  assert.equal(ratio.code, 'SSDTUNE_TRACE_LIMIT', ratio.message);
  assert.match(ratio.message!, /decompressed byte \d+ \(compressed byte \d+\): bz2 data expanding more than 1000 times \(maxCompressionRatio\)/);
  assert.ok(ratio.rssMiB < 256, `peak RSS ${ratio.rssMiB} MiB`);
});

test('decompression bomb of valid lines: the ratio cap and the byte cap stop it, naming the position', async () => {
  // 128 concatenated bzip2 streams of 8 MiB each: 1 GiB of valid requests from 69 KB.
  const dir = tmp();
  const bomb = path.join(dir, 'lines-1gib.bz2');
  const one = readFileSync(LINES_8MB);
  writeFileSync(bomb, Buffer.concat(Array.from({ length: 128 }, () => one)));
  const r = readInChild(bomb, { format: 'mqsim' });
  assert.equal(r.code, 'SSDTUNE_TRACE_LIMIT', r.message);
  assert.match(r.message!, /lines-1gib\.bz2: decompressed byte \d+ \(compressed byte \d+\): bz2 data expanding more than 1000 times/);
  assert.ok(r.rssMiB < 256, `peak RSS ${r.rssMiB} MiB`);
  // The absolute cap, for callers that set one (an upload server).
  await assert.rejects(
    collect(await openTrace(bomb, { format: 'mqsim', limits: { maxDecompressedBytes: 20 << 20 } })),
    hasCode(
      'SSDTUNE_TRACE_LIMIT',
      /decompressed byte 20971520 \(compressed byte \d+\): more than the limit of 20971520 decompressed bytes \(maxDecompressedBytes\)/,
    ),
  );
});

test('long lines: linear time on both text paths, plain and gzipped; beyond maxLineBytes a coded error with line and offset', async () => {
  const dir = tmp();
  const long = Buffer.alloc(20 << 20, 0x41); // one 20 MiB line
  for (const [format, head, tail] of [
    ['mqsim', '1 0 8 8 1\n2 0 16 8 1\n', '\n3 0 24 8 1\n'],
    ['tencent', '1538323200,100,8,1,1\n1538323201,108,8,1,1\n', '\n1538323202,116,8,1,1\n'],
  ] as const) {
    const plain = path.join(dir, `long-${format}`);
    writeFileSync(plain, Buffer.concat([Buffer.from(head), long, Buffer.from(tail)]));
    const gz = `${plain}.gz`;
    writeFileSync(gz, execFileSync('gzip', ['-c', plain], { maxBuffer: 1 << 26 }));
    for (const file of [plain, gz]) {
      // Default cap (1 MiB): refused at once, naming line 3 and where it starts.
      const t0 = performance.now();
      await assert.rejects(
        collect(await openTrace(file, { format })),
        hasCode('SSDTUNE_TRACE_LIMIT', new RegExp(`: line 3 \\(starting at decompressed byte ${head.length}\\): a line longer than 1048576 bytes`)),
      );
      // Raised cap: the line is read whole (and rejected by the parser as a bad line), in linear time.
      await assert.rejects(collect(await openTrace(file, { format, limits: { maxLineBytes: 64 << 20 } })), hasCode('SSDTUNE_TRACE_FORMAT', /: line 3: /));
      const s = (performance.now() - t0) / 1000;
      assert.ok(s < 10, `${format} ${path.basename(file)}: ${s.toFixed(1)} s for a 20 MiB line`);
    }
  }
});

test('cli: `analyze --format mqsim /dev/zero` ends with the line-length error, not at the memory limit', () => {
  const r = spawnSync(process.execPath, [CLI, 'analyze', '--format', 'mqsim', '/dev/zero'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /\/dev\/zero: line 1 \(starting at decompressed byte 0\): a line longer than 1048576 bytes .*SSDTUNE_TRACE_LIMIT/);
  assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
});

test('FIFOs: read once with --format (no ESPIPE), refused for sniffing, and a FIFO without a writer is cancellable', async () => {
  const dir = tmp();
  const fifo = path.join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const src = path.join(PROJECT_ROOT, 'traces', 'mqsim_wsrch-small.trace');
  // With a writer and --format (gzip through the pipe too).
  for (const [cmd, format] of [
    [`cat '${src}' > '${fifo}'`, 'mqsim'],
    [`gzip -c '${src}' > '${fifo}'`, 'mqsim'],
  ] as const) {
    const writer = spawn('sh', ['-c', cmd]);
    killAtExit(writer); // blocked on the FIFO should the reader fail
    const exited = new Promise((r) => writer.on('exit', r));
    const t = await collect(await openTrace(fifo, { format }));
    assert.equal(t.length, 24783);
    await exited;
  }
  // Sniffing would read the head twice.
  await assert.rejects(openTrace(fifo), hasCode('SSDTUNE_TRACE_UNKNOWN_FORMAT', /FIFO or socket can be read only once.*pass --format/));
  // No writer: the reader waits in the event loop (no thread held) until the signal ends it.
  const ac = new AbortController();
  const t0 = performance.now();
  setTimeout(() => ac.abort(new Error('job cancelled')), 200);
  await assert.rejects(
    collect(await openTrace(fifo, { format: 'mqsim', signal: ac.signal })),
    hasCode('SSDTUNE_TRACE_ABORTED', /pipe: reading cancelled \(job cancelled\)/),
  );
  assert.ok(performance.now() - t0 < 2000);
  // An already aborted signal stops before opening.
  await assert.rejects(openTrace(src, { signal: AbortSignal.abort() }).then(collect), hasCode('SSDTUNE_TRACE_ABORTED'));
});

test('abort: a long read of a regular compressed file stops within one piece of the signal', async () => {
  const dir = tmp();
  const bomb = path.join(dir, 'lines.bz2');
  writeFileSync(bomb, Buffer.concat(Array.from({ length: 16 }, () => readFileSync(LINES_8MB))));
  const ac = new AbortController();
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const b of await openTrace(bomb, { format: 'mqsim', signal: ac.signal, batchSize: 10000 })) {
        n += b.length;
        if (n >= 100000) ac.abort();
      }
    })(),
    hasCode('SSDTUNE_TRACE_ABORTED'),
  );
  assert.ok(n < 16 * 838860);
});

test('corrupt and truncated compressed streams: coded errors naming the compressed byte, for every codec', async () => {
  const dir = tmp();
  const text = readFileSync(path.join(PROJECT_ROOT, 'traces', 'msps_msnfs_30s.trace')).subarray(0, 1 << 20);
  for (const [tool, args, ext] of COMPRESSORS) {
    const good = execFileSync(tool, args, { input: text, maxBuffer: 1 << 26 });
    const corrupt = Buffer.from(good);
    for (let i = good.length >> 1; i < (good.length >> 1) + 64; i++) corrupt[i] = col(corrupt, i) ^ 0x5a;
    const c = path.join(dir, `corrupt.${ext}`);
    writeFileSync(c, corrupt);
    // skipBad: the garbage a decoder may emit before its checksum fails is skipped, the decoder's error is not.
    // (zstd --no-check frames carry no checksum: a flipped literal is undetectable, `zstd -t` passes it too.)
    if (ext !== 'nocheck.zst')
      await assert.rejects(
        collect(await openTrace(c, { format: 'msnfs', skipBad: true })),
        hasCode('SSDTUNE_TRACE_FORMAT', /corrupt\.[a-z0-9.]+: [a-z0-9]+ data at compressed byte \d+: /),
      );
    const cut = path.join(dir, `cut.${ext}`);
    writeFileSync(cut, good.subarray(0, good.length - 100));
    await assert.rejects(
      collect(await openTrace(cut, { format: 'msnfs' })),
      hasCode('SSDTUNE_TRACE_FORMAT', /at compressed byte \d+: complete [a-z0-9]+ data, but the input ends mid-stream \(truncated\?\)/),
    );
  }
});

test('numeric fields are range-checked, never wrapped, rounded or dropped: file, line and field named', async () => {
  const dir = tmp();
  const cases: [string, string, string, RegExp][] = [
    ['msnfs', '0.5 0 100 8 1\n1e308 0 100 8 1\n', 'ts1e308', /line 2: ts_ms: /],
    ['msnfs', '0.5 0 100 8 1\n1.5 4294967296 100 8 1\n', 'dev2e32', /line 2: device: a whole device number below 2\^32/],
    ['mqsim', '100 0 8 8 1\n200 4294967296 16 8 0\n', 'mqdev', /line 2: device: a whole device number below 2\^32/],
    ['mqsim', '100 0 8 8 1\n200 0 18446744073709551616 8 0\n', 'mqsector', /line 2: start_sector: a whole number of 512-byte units below 2\^53/],
    ['heimdall', '0.5 0 4096 4096 1\n1.0 0 18446744073709551616 4096 0\n', 'hsector', /line 2: offset_bytes: /],
    ['tencent', '1538323200,100,8,1,1\n1538323201,100,8,1,99999999999\n', 'tvol', /line 2: VolumeID: a whole device number below 2\^32/],
    ['msr', '128166385295514663,hm,0,Write,4096,4096,100\n128166385295514664,hm,4294967296,Write,4096,4096,100\n', 'msrdisk', /line 2: DiskNumber: /],
    [
      'msr',
      '128166385295514663,hm,0,Write,4096,4096,100\n1281663852955146640000000,hm,0,Write,4096,4096,100\n',
      'msrtime',
      /line 2: Timestamp: .*at most 19 digits/,
    ],
  ];
  for (const [format, text, name, re] of cases) {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    await assert.rejects(collect(await openTrace(f, { format })), hasCode('SSDTUNE_TRACE_FORMAT', new RegExp(`${name}: ${re.source}`)));
    // skipBad counts the line instead of failing, never passes it through wrapped.
    const src = await openTrace(f, { format, skipBad: true });
    const t = await collect(src);
    assert.equal(t.length, 1, name);
    assert.equal(src.meta.skippedRecords, 1, name);
  }
});

test('quoteInput: false keeps file content out of every error (for a server reading files by path)', async () => {
  const dir = tmp();
  const f = path.join(dir, 'secret');
  writeFileSync(f, 'root:$6$salt$hash:19000:0:99999:7:::\n');
  for (const opts of [{}, { format: 'msnfs' }, { format: 'mqsim' }, { format: 'blkreplay' }]) {
    await assert.rejects(
      openTrace(f, { ...opts, quoteInput: false }).then(collect),
      (e: unknown) => isSsdtuneError(e) && !/root|salt|hash/.test((e as Error).message),
    );
  }
  // The CLI default quotes, which is what a user at a terminal wants.
  await assert.rejects(openTrace(f, { format: 'mqsim' }).then(collect), /got "root:/);
});

test('blkparse text: a sector of 2^64, a dev_t beyond 12:20 bits and a pid beyond 2^32 are coded errors, not wrapped', async () => {
  const dir = tmp();
  const ok = '8,16 5 2 0.000001850 18615 Q R 1444645666 + 256 [java]\n';
  for (const [bad, re] of [
    ['8,16 5 3 0.000002000 18615 Q R 18446744073709551616 + 8 [java]\n', /line 2: sector: a whole number of 512-byte units below 2\^53/],
    ['5000,16 5 3 0.000002000 18615 Q R 1444645922 + 8 [java]\n', /line 2: device: maj,min with a major below 4096/],
    ['8,16 5 3 0.000002000 4294967296 Q R 1444645922 + 8 [java]\n', /line 2: pid: an integer below 2\^32/],
  ] as const) {
    const f = path.join(dir, 'bp.txt');
    writeFileSync(f, ok + bad);
    await assert.rejects(collect(await openTrace(f, { format: 'blkparse' })), hasCode('SSDTUNE_TRACE_FORMAT', re));
  }
});
