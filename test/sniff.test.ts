// The sniffer tells every real trace in traces/ apart, compressed or not, and claims no binary or prose file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { FORMATS, sniffFormat } from '../src/readers/registry.js';
import { readHead } from '../src/readers/input.js';
import { isSsdtuneError } from '../src/errors.js';
import { tempDir } from '../src/util/temp-dir.js';

const EXPECTED: Record<string, string> = {
  'blkparse_hadoop_writeback_apress.txt': 'blkparse',
  'cloudphysics_vscsi_sample.csv': 'vscsi',
  'mqsim_wsrch-small.trace': 'mqsim',
  'msps_msnfs_30s.trace': 'msnfs',
  'msr_hm_0_sample1000.csv': 'msr',
  'tencent_cbs_sample50k.csv.bz2': 'tencent',
  'blkreplay_linux-webserver-2.first80k.load.xz': 'blkreplay',
  'blkreplay_windows-mssql.load.gz': 'blkreplay',
  'blkreplay_windows-shared-server.load.gz': 'blkreplay',
};
/**
 * Files whose columns read the same in two units (the Heimdall MSR cuts and
 * MSNFS): the sniffer must refuse to guess and name both; traces/formats.json
 * names their format for training and the bundled-store test.
 */
const AMBIGUOUS = JSON.parse(readFileSync('traces/formats.json', 'utf8')) as Record<string, string>;
const hasBlktrace = FORMATS.some((f) => f.name === 'blktrace');

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

/** Scores of every format for a file's (decompressed) head. */
async function scores(file: string): Promise<Map<string, number>> {
  const head = await readHead(file);
  return new Map(FORMATS.map((f) => [f.name, f.sniff(head, file)]));
}

test('sniffer: every file in traces/ is recognised as its format, well ahead of the others', async () => {
  const files = allFiles('traces');
  assert.ok(files.length >= 8);
  for (const file of files) {
    const base = path.basename(file);
    const s = await scores(file);
    if (base === 'README.md' || base === 'formats.json') {
      await assert.rejects(sniffFormat(file), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_UNKNOWN_FORMAT'));
      continue;
    }
    if (/\.blktrace\.\d+$/.test(base)) {
      // binary: no text format may claim it, whether or not the blktrace reader is registered
      for (const [name, v] of s) if (name !== 'blktrace') assert.equal(v, 0, `${name} claims ${base}`);
      if (hasBlktrace) assert.equal((await sniffFormat(file)).name, 'blktrace');
      else await assert.rejects(sniffFormat(file), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_UNKNOWN_FORMAT'));
      continue;
    }
    if (AMBIGUOUS[base]) {
      await assert.rejects(
        sniffFormat(file),
        (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_AMBIGUOUS_FORMAT') && (e as Error).message.includes(`--format ${AMBIGUOUS[base]}`),
        base,
      );
      continue;
    }
    // The project's own fio recordings (scripts/record-fio-workloads.sh) are xz-compressed MQSim text.
    const want = EXPECTED[base] ?? (/^fio_.*\.trace\.xz$/.test(base) ? 'mqsim' : undefined);
    assert.ok(want, `no expectation for ${base}: add it`);
    assert.equal((await sniffFormat(file)).name, want, base);
    // A clear margin: only the replayer format keeps a low score on MQSim's integer-only lines.
    for (const [name, v] of s) if (name !== want) assert.ok(v <= s.get(want)! - 0.3, `${name} also scores ${v} on ${base}`);
  }
});

test('sniffer: gzip, xz and zstd copies sniff like the originals', async (t) => {
  const dir = tempDir('ssdtune-sniff-');
  for (const [base, want] of Object.entries(EXPECTED)) {
    if (/\.(bz2|gz|xz|zst)$/.test(base)) continue; // compressed already: the test above reads them
    const plain = path.join(dir, base);
    // The sniffer sees 64 KiB: 256 KiB of each file is plenty and keeps compression quick.
    writeFileSync(plain, readFileSync(path.join('traces', base)).subarray(0, 256 * 1024));
    for (const [tool, ext] of [
      ['gzip', 'gz'],
      ['xz', 'xz'],
      ['zstd', 'zst'],
    ] as const) {
      try {
        execFileSync(tool, ['-k', '-q', '-1', plain]);
      } catch {
        t.diagnostic(`${tool} missing`);
        continue;
      }
      assert.equal((await sniffFormat(`${plain}.${ext}`)).name, want, `${base}.${ext}`);
    }
  }
});

test('sniffer: near misses go to the right format or to none', async () => {
  const dir = tempDir('ssdtune-sniff-');
  const cases: [string, string, string | null][] = [
    // integer times in the 5-column space format are MQSim's layout
    ['int.trace', '0 5 174224064 16 1\n221 5 162947904 16 1\n', 'mqsim'],
    ['frac.trace', '0.000 5 174224064 16 1\n0.221 5 162947904 16 1\n', 'msnfs'],
    ['tencent-like.csv', '1538323200,4247200,128,1,1058\n1538323199,13896880,128,0,1063\n', 'tencent'],
    ['vscsi-nohdr.csv', '1,5633898,2a,512,42932745\n1,5633898,28,512,42932746\n', 'vscsi'],
    ['msr-hdr.csv', 'Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n128166385295514663,hm,0,Write,9056014336,2048,2833\n', 'msr'],
    ['fio2.log', 'fio version 2 iolog\n/dev/sdb add\n', 'fio-iolog'],
    ['five-ints.csv', '1,2,3,4,5\n6,7,8,9,10\n', null],
    // a short line once read as the vSCSI hex opcode "undefined" (it has the letters d, e, f)
    ['five-ints-short-line.csv', '1,2,3,4,5\n6,7,8,9,10\n11,12,13,14,15\nend\n', null],
    ['words.txt', 'hello world\nthis is text\n', null],
    ['binary.bin', '\u0007\u0000\u0001abc', null],
  ];
  for (const [name, text, want] of cases) {
    const f = path.join(dir, name);
    writeFileSync(f, text, 'latin1');
    if (want) assert.equal((await sniffFormat(f)).name, want, name);
    else await assert.rejects(sniffFormat(f), (e: unknown) => isSsdtuneError(e, 'SSDTUNE_TRACE_UNKNOWN_FORMAT'), name);
  }
});
