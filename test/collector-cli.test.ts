/**
 * `ssdtune doctor` and `ssdtune collect` as a user runs them: a real capture
 * of fio I/O on a loop device, stopped with SIGINT, written as a blktrace set
 * that both our reader and stock blkparse read back as exactly fio's requests.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkBackend } from '../src/collector/doctor.js';
import { LOST_RECURSION } from '../src/collector/ebpf.js';
import { featureStatus, PROJECT_ROOT as ROOT } from '../src/native.js';
import { createLoop, haveTool, runFio, type FioIo, type ScratchDevice } from '../src/collector/testbed.js';
import { openTrace } from '../src/readers/registry.js';
import { collect, Op } from '../src/trace/model.js';
import { tempDir } from '../src/util/temp-dir.js';
import { assertMissesAccounted, completionWitness } from './helpers/witness.js';
import { killAtExit } from '../src/util/cleanup.js';

const isRoot = process.getuid?.() === 0;
const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const skipAll = !isRoot ? 'needs root (loop devices, eBPF, tracefs)' : !haveTool('fio') ? 'fio is not installed' : undefined;

interface DoctorJson {
  checks: { backend: string; works: boolean; reason: string; fix: string }[];
  auto: string | null;
  features: { feature: string; available: boolean; detail: string; fix: string }[];
  ebpfMinKernel: string;
}

function doctor(): { code: number | null; json: DoctorJson } {
  const r = spawnSync(process.execPath, [MAIN, 'doctor', '--json'], { encoding: 'utf8' });
  return { code: r.status, json: JSON.parse(r.stdout) as DoctorJson };
}

function sortedKeys(rows: { op: string; sector: number; bytes: number }[]): string[] {
  return rows.map((r) => `${r.op} ${r.sector} ${r.bytes}`).sort();
}

describe('ssdtune doctor', { skip: isRoot ? undefined : 'needs root' }, () => {
  it('lists every backend with a reason, and what auto would use', () => {
    const { code, json } = doctor();
    assert.deepEqual(
      json.checks.map((c) => c.backend),
      ['ebpf', 'tracefs', 'blktrace'],
    );
    for (const c of json.checks) {
      assert.ok(c.reason.length > 0);
      if (!c.works) assert.ok(c.fix.length > 0, `${c.backend} says what to do`);
    }
    assert.equal(json.auto, json.checks.find((c) => c.works)?.backend ?? null);
    assert.equal(code, json.auto ? 0 : 6);
  });

  it('lists the optional native features and the eBPF minimum kernel', () => {
    const { json } = doctor();
    assert.equal(json.ebpfMinKernel, '5.8');
    assert.deepEqual(
      json.features.map((f) => f.feature),
      ['ebpf', 'uring'],
    );
    for (const f of json.features) {
      assert.equal(f.available, featureStatus(f.feature as 'ebpf' | 'uring').available);
      assert.ok(f.detail.length > 0 && (f.available || f.fix.length > 0), `${f.feature} says what it has or why not`);
    }
    const ebpf = json.checks.find((c) => c.backend === 'ebpf')!;
    if (ebpf.works) assert.match(ebpf.reason, /minimum 5\.8; disk from rq->(q->disk|rq_disk), block_rq_issue\((q, )?rq\)/);
  });
});

describe('scripts/build-bpf.sh without a toolchain', () => {
  // A PATH with the shell tools the script uses but no clang or bpftool.
  function bareBin(dir: string): string {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    for (const t of ['bash', 'mkdir', 'tr', 'cp', 'cat', 'mktemp', 'uname', 'rm', 'dirname', 'mv']) {
      const where = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
      if (where) symlinkSync(where, path.join(bin, t));
    }
    return bin;
  }
  function tree(dir: string, shipped: boolean): string {
    mkdirSync(path.join(dir, 'scripts'));
    mkdirSync(path.join(dir, 'native', 'bpf'), { recursive: true });
    copyFileSync(path.join(ROOT, 'scripts', 'build-bpf.sh'), path.join(dir, 'scripts', 'build-bpf.sh'));
    if (shipped) writeFileSync(path.join(dir, 'native', 'bpf', 'biotrace.skel.h'), '/* a shipped skeleton */\n');
    return path.join(dir, 'scripts', 'build-bpf.sh');
  }

  it('writes a header that says why there is no program, which the addon reports', () => {
    const dir = tempDir('ssdtune-bpfbuild-');
    try {
      const r = spawnSync(path.join(bareBin(dir), 'bash'), [tree(dir, false), path.join(dir, 'out')], {
        encoding: 'utf8',
        env: { PATH: path.join(dir, 'bin') },
      });
      assert.equal(r.status, 0, r.stderr);
      const h = readFileSync(path.join(dir, 'out', 'biotrace.skel.h'), 'utf8');
      assert.match(h, /#define BIOTRACE_SKEL_UNAVAILABLE "clang was not installed when the addon was built \(apt-get install clang\)"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the skeleton shipped in the npm package when there is one', () => {
    const dir = tempDir('ssdtune-bpfbuild-');
    try {
      const r = spawnSync(path.join(bareBin(dir), 'bash'), [tree(dir, true), path.join(dir, 'out')], {
        encoding: 'utf8',
        env: { PATH: path.join(dir, 'bin') },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(path.join(dir, 'out', 'biotrace.skel.h'), 'utf8'), '/* a shipped skeleton */\n');
      assert.match(r.stderr, /using the shipped skeleton/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * `ssdtune collect ARGS`, resolved once it is capturing: what it wrote so far (all of it once `exited` resolved:
 * the streams have closed) and its exit code. Its own cleanup removes its tracefs instance and lock at SIGTERM.
 */
async function startCollect(args: string[]): Promise<{ child: ChildProcess; exited: Promise<number | null>; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [MAIN, 'collect', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  killAtExit(child, { signal: 'SIGTERM', graceMs: 5000 });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/capturing until/.test(err)) resolve();
    });
    void exited.then(() => reject(new Error(`collect exited early: ${err}`)));
  });
  return { child, exited, out: () => out, err: () => err };
}

describe('ssdtune collect', { skip: skipAll }, () => {
  let loop: ScratchDevice;
  let dir: string;
  before(() => {
    loop = createLoop(64);
    dir = tempDir('ssdtune-collect-');
  });
  after(() => {
    loop?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const backend of ['ebpf', 'tracefs'] as const) {
    it(
      `${backend}: capture until SIGINT, read back by our reader and by blkparse as fio's requests`,
      { skip: isRoot && !checkBackend(backend).works ? `${backend} does not work here` : undefined },
      async (t) => {
        const prefix = path.join(dir, backend);
        // eBPF can miss a completion the kernel runs no BPF program for (see test/helpers/witness.ts): the
        // witness is the evidence that each request the capture lacks is one of those, and nothing else.
        const witness = backend === 'ebpf' ? completionWitness(loop.name) : undefined;
        const { child, exited, out, err } = await startCollect(['--device', loop.path, '--backend', backend, '-o', prefix, '--json']);
        let ios: FioIo[];
        let seen: Map<string, number[]> | undefined;
        try {
          try {
            ios = runFio(loop.path, { rw: 'randrw', bs: 4096, ios: 300, rwmixread: 60 }).ios;
          } finally {
            child.kill('SIGINT');
          }
          assert.equal(await exited, 0, err());
          seen = witness?.read();
        } finally {
          witness?.close();
        }
        const summary = JSON.parse(out()) as {
          requests: number;
          lost: number;
          lostBy: Record<string, number>;
          unfinished: number;
          unpaired: number;
          backend: string;
          files: string[];
        };
        assert.equal(summary.backend, backend);
        const b = await collect(await openTrace(summary.files[0]!));
        const ours = [...Array(b.length).keys()].map((i) => ({ op: b.op[i]! & Op.WRITE ? 'write' : 'read', sector: b.sector[i]!, bytes: b.bytes[i]! }));
        assert.equal(summary.requests, b.length, 'the summary counts the requests written');

        // fio has finished: each request the capture lacks must be accounted by the summary, and eBPF's by the
        // kernel's causes with the witness's evidence (test/helpers/witness.ts); tracefs lacks none.
        const ebpf = backend === 'ebpf' ? { recursionMisses: summary.lostBy[LOST_RECURSION] ?? 0, ...(seen ? { witness: seen } : {}) } : undefined;
        const issued = sortedKeys(ios.map((io) => ({ op: io.op, sector: io.offset / 512, bytes: io.bytes })));
        const lacking = assertMissesAccounted(issued, sortedKeys(ours), summary, ebpf, t);
        assert.equal(summary.requests + lacking, 300);
        if (backend === 'tracefs') assert.equal(lacking, 0, `tracefs lost ${lacking}: ${JSON.stringify(summary.lostBy)}`);
        // Our reader's requests are fio's less those (checked above); stock blkparse must read the same.
        const want = sortedKeys(ours);
        for (let i = 0; i < b.length; i++) assert.ok(b.completeNs![i]! > b.issueNs![i]!, 'latencies survive the round trip');

        if (haveTool('blkparse')) {
          const text = spawnSync('blkparse', ['-i', prefix, '-f', '%a %d %S %n\\n'], { encoding: 'utf8' }).stdout;
          const completions = text
            .split('\n')
            .map((l) => l.trim().split(/\s+/))
            .filter((f) => f[0] === 'C')
            .map((f) => ({ op: f[1]!.includes('W') ? 'write' : 'read', sector: Number(f[2]), bytes: Number(f[3]) * 512 }));
          assert.deepEqual(sortedKeys(completions), want, 'stock blkparse');
        }
      },
    );
  }

  it(
    '-o - --format mqsim: the trace on standard output (written the one way "-" is), the summary on standard error',
    { skip: isRoot && !checkBackend('tracefs').works ? 'tracefs does not work here' : undefined },
    async () => {
      const { child, exited, out, err } = await startCollect(['--device', loop.path, '--backend', 'tracefs', '--format', 'mqsim', '-o', '-']);
      try {
        runFio(loop.path, { rw: 'randread', bs: 4096, ios: 100 });
      } finally {
        child.kill('SIGINT');
      }
      assert.equal(await exited, 0, err());
      const lines = out().trimEnd().split('\n');
      assert.ok(lines.length >= 100, `fio's 100 reads at least, got ${lines.length}: ${err()}`);
      for (const l of lines) assert.match(l, /^\d+ \d+ \d+ \d+ [01]$/, 'only MQSim lines on stdout');
      assert.match(err(), /^\d+ requests captured in .* with tracefs; lost 0/m);
      assert.match(err(), /^wrote standard output$/m);
    },
  );
});
