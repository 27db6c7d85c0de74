/**
 * The collector's failure paths on real devices and processes: missing and
 * non-block devices, a second capture of the same device, partitions, a
 * device that disappears mid-capture, non-root, kernel blktrace setup/teardown
 * and its lockdown error, and cleanup after SIGTERM and SIGKILL.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSsdtuneError } from '../src/errors.js';
import { BlktraceSession } from '../src/collector/blktrace-kernel.js';
import { resolveDevice } from '../src/blockdev/resolve.js';
import { checkBackend, checkTracefs } from '../src/collector/doctor.js';
import { openCollector } from '../src/collector/index.js';
import { LOCK_DIR } from '../src/blockdev/device-lock.js';
import { createLoop, createZram, haveTool, runFio, type ScratchDevice } from '../src/collector/testbed.js';
import { tracefsRoot } from '../src/collector/tracefs.js';
import { parseEventFormat } from '../src/collector/tracefs-format.js';
import { concatBatches, type TraceBatch } from '../src/trace/model.js';
import { killAtExit } from '../src/util/cleanup.js';

const isRoot = process.getuid?.() === 0;
const skipAll = !isRoot ? 'needs root (loop devices, eBPF, tracefs)' : !haveTool('fio') ? 'fio is not installed' : undefined;
const distSrc = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');

function code(e: unknown): string {
  return isSsdtuneError(e) ? e.code : `not an ssdtune error: ${String(e)}`;
}

describe('collector input checks', () => {
  it('a missing device is a coded error naming it', async () => {
    await assert.rejects(
      async () => openCollector('/dev/ssdtune-no-such-device', { backend: 'tracefs' }),
      (e) =>
        isRoot ? code(e) === 'SSDTUNE_DEVICE' && /ssdtune-no-such-device: no such device/.test((e as Error).message) : code(e) === 'SSDTUNE_COLLECT_NOT_ROOT',
    );
  });
  it('a regular file is not a block device', { skip: isRoot ? undefined : 'needs root' }, async () => {
    await assert.rejects(
      async () => openCollector('/etc/hostname'),
      (e) => code(e) === 'SSDTUNE_DEVICE' && /not a block device/.test((e as Error).message),
    );
  });
  it('a malformed tracefs format file names the file and line', () => {
    assert.throws(
      () => parseEventFormat('name: x\nID: 3\n\tfield:int a;\toffset:zz;\n', '/x/format'),
      (e) => code(e) === 'SSDTUNE_TRACE_FORMAT' && /\/x\/format: line 3/.test((e as Error).message),
    );
  });
  it('non-root is refused with a clear error', { skip: isRoot && haveTool('setpriv') ? undefined : 'needs root and setpriv to drop to nobody' }, () => {
    const script = `import('${distSrc}/collector/index.js').then(m => m.openCollector('/dev/null')).catch(e => { console.log(e.code); })`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    assert.equal(r.stdout.trim(), 'SSDTUNE_COLLECT_NOT_ROOT', r.stderr);
  });
});

describe('collector robustness on loop devices', { skip: skipAll }, () => {
  let loop: ScratchDevice;
  before(() => {
    loop = createLoop(32);
  });
  after(() => loop?.destroy());

  it('a second capture of the same device fails clearly; after stop it works again', async () => {
    const first = await openCollector(loop.path, { backend: 'tracefs' });
    try {
      await assert.rejects(
        async () => openCollector(loop.path, { backend: 'tracefs' }),
        (e) => code(e) === 'SSDTUNE_COLLECT_BUSY' && new RegExp(`pid ${process.pid}`).test((e as Error).message),
      );
    } finally {
      await first.collector.stop();
    }
    const again = await openCollector(loop.path, { backend: 'tracefs' });
    await again.collector.stop();
  });

  it('auto picks the first working backend and says why', async () => {
    const { collector, choice } = await openCollector(loop.path);
    await collector.stop();
    const expected = checkBackend('ebpf').works ? 'ebpf' : 'tracefs';
    assert.equal(collector.backend, expected);
    assert.match(choice, new RegExp(`^${expected} \\(auto: `));
  });

  it('kernel blktrace: setup and teardown, or the lockdown error naming the other backends', () => {
    const dev = resolveDevice(loop.path);
    const attempt = (): string => {
      try {
        new BlktraceSession(dev).close();
        return 'ok';
      } catch (e) {
        return code(e);
      }
    };
    const first = attempt();
    assert.ok(first === 'ok' || first === 'SSDTUNE_COLLECT_LOCKDOWN', first);
    // Torn down: a second setup is not refused with EBUSY.
    assert.equal(attempt(), first);
    if (first === 'SSDTUNE_COLLECT_LOCKDOWN') {
      try {
        new BlktraceSession(dev);
      } catch (e) {
        assert.match((e as Error).message, /--backend ebpf or --backend tracefs/);
      }
      assert.equal(checkBackend('blktrace', () => new BlktraceSession(dev).close()).works, false);
    }
  });

  it(
    'SIGTERM: the capturing process removes its tracefs instance and lock',
    { skip: checkTracefs().works ? undefined : 'tracefs does not work here' },
    async () => {
      const script = `const m = await import('${distSrc}/collector/index.js'); const { collector } = await m.openCollector('${loop.path}', { backend: 'tracefs' }); console.log(collector.instance); setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      killAtExit(child, { signal: 'SIGTERM', graceMs: 5000 }); // its own cleanup removes its tracefs instance and lock
      const instance = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      assert.ok(existsSync(instance), `${instance} exists while capturing`);
      const lock = `${LOCK_DIR}/collect-${resolveDevice(loop.path).major}_${resolveDevice(loop.path).minor}.lock`;
      assert.ok(existsSync(lock));
      child.kill('SIGTERM');
      const [, sig] = await new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])));
      assert.equal(sig, 'SIGTERM', 'the signal is re-raised after cleanup');
      assert.equal(existsSync(instance), false, 'instance removed');
      assert.equal(existsSync(lock), false, 'lock removed');
    },
  );

  it(
    'SIGKILL: BPF programs go with the process; the stale instance and lock are taken over',
    { skip: checkTracefs().works ? undefined : 'tracefs does not work here' },
    async () => {
      const script = `const m = await import('${distSrc}/collector/index.js'); const { collector } = await m.openCollector('${loop.path}', { backend: 'tracefs' }); console.log(collector.instance); setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      killAtExit(child, { signal: 'SIGTERM', graceMs: 5000 }); // its own cleanup removes its tracefs instance and lock
      const instance = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.ok(existsSync(instance), 'SIGKILL leaves the instance');
      const { collector } = await openCollector(loop.path, { backend: 'tracefs' });
      await collector.stop();
      assert.equal(existsSync(instance), false, 'the next capture removed the stale instance');
      if (haveTool('bpftool') && checkBackend('ebpf').works) {
        // The child's own programs, found through its file descriptors (fdinfo names each prog_id):
        // counting programs by name machine-wide races with other processes' programs (the doctor
        // probe's, freed after an RCU grace period) coming and going meanwhile.
        // (A program's fd and its link's fd both name it, hence the set.)
        const progIds = (pid: number): number[] => [
          ...new Set(
            readdirSync(`/proc/${pid}/fdinfo`).flatMap((fd) => {
              const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
              return m ? [Number(m[1])] : [];
            }),
          ),
        ];
        const loaded = (id: number): string | undefined => {
          const r = spawnSync('bpftool', ['-j', 'prog', 'show', 'id', String(id)], { encoding: 'utf8' });
          return r.status === 0 ? (JSON.parse(r.stdout) as { name?: string }).name : undefined;
        };
        const script2 = `const m = await import('${distSrc}/collector/index.js'); await m.openCollector('${loop.path}', { backend: 'ebpf' }); console.log('up'); setInterval(() => {}, 1000);`;
        const c2 = spawn(process.execPath, ['--input-type=module', '-e', script2], { stdio: ['ignore', 'pipe', 'inherit'] });
        killAtExit(c2, { signal: 'SIGTERM', graceMs: 5000 }); // its own cleanup removes its tracefs instance and lock
        try {
          await new Promise((resolve) => c2.stdout.once('data', resolve));
          const ids = progIds(c2.pid!);
          assert.deepEqual(
            ids
              .map(loaded)
              .filter((n) => /^bt_(insert|issue|complete)$/.test(n ?? ''))
              .sort(),
            ['bt_complete', 'bt_insert', 'bt_issue'],
            'insert/issue/complete attached while running',
          );
          c2.kill('SIGKILL');
          await new Promise((r) => c2.once('exit', r));
          let left = ids.filter((id) => loaded(id) !== undefined);
          for (let i = 0; i < 50 && left.length > 0; i++) {
            await new Promise((r) => setTimeout(r, 50)); // programs are freed after an RCU grace period
            left = left.filter((id) => loaded(id) !== undefined);
          }
          assert.deepEqual(left, [], 'no program left behind');
        } finally {
          c2.kill('SIGKILL'); // a failed assertion must not leave the child holding the test process open
        }
      }
    },
  );

  it('a partition: only its requests, at disk sectors', async () => {
    const part = { start: 2048, sectors: 16384 };
    const disk = createLoop(32, { partition: part });
    try {
      const p1 = disk.partitions![0]!;
      const dev = resolveDevice(p1);
      assert.deepEqual(dev.partition, part);
      assert.equal(dev.disk.name, disk.name);
      for (const backend of ['ebpf', 'tracefs'] as const) {
        if (!checkBackend(backend).works) continue;
        const { collector } = await openCollector(p1, { backend });
        const parts: TraceBatch[] = [];
        const reading = (async () => {
          for await (const b of collector) parts.push(b);
        })();
        let ios: { offset: number }[] = [];
        try {
          ios = runFio(p1, { rw: 'randread', bs: 4096, ios: 100, size: '8M' }).ios;
          runFio(disk.path, { rw: 'randread', bs: 4096, ios: 100, size: '8M', offset: 16 << 20 }); // outside the partition
        } finally {
          await collector.stop();
        }
        await reading;
        const b = concatBatches(parts);
        const got = [...b.sector].sort((x, y) => x - y);
        const want = ios.map((io) => part.start + io.offset / 512).sort((x, y) => x - y);
        assert.deepEqual(got, want, `${backend}: exactly the partition's requests`);
      }
    } finally {
      disk.destroy();
    }
  });

  it('a device that disappears mid-capture: the capture stops and says so', async () => {
    const gone = createLoop(16);
    try {
      const { collector } = await openCollector(gone.path, { backend: 'tracefs' });
      const parts: TraceBatch[] = [];
      const reading = (async () => {
        for await (const b of collector) parts.push(b);
      })();
      runFio(gone.path, { rw: 'randread', bs: 4096, ios: 20, size: '8M' });
      spawnSync('losetup', ['-d', gone.path]);
      const t0 = Date.now();
      // Ends on its own (bounded wait, so a regression fails instead of hanging).
      await Promise.race([
        reading,
        new Promise((_, reject) => setTimeout(() => reject(new Error('capture did not stop after the device vanished')), 5000).unref()),
      ]);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(collector.stats().deviceGone, true);
      assert.ok(collector.meta.warnings.some((w) => /disappeared/.test(w)));
      assert.equal(concatBatches(parts).length, 20);
      const root = tracefsRoot();
      if (root)
        assert.deepEqual(
          readdirSync(`${root}/instances`).filter((n) => n.startsWith(`ssdtune-${process.pid}-`)),
          [],
        );
      await collector.stop(); // idempotent
    } finally {
      gone.destroy();
    }
  });

  it(
    'a bio-based device (zram) is refused: request events never fire for it',
    { skip: existsSync('/sys/class/zram-control/hot_add') ? undefined : 'zram not available' },
    async () => {
      const z = createZram(16);
      try {
        await assert.rejects(
          async () => openCollector(z.path, { backend: 'tracefs' }),
          (e) => code(e) === 'SSDTUNE_COLLECT_DEVICE' && /bio-based/.test((e as Error).message),
        );
      } finally {
        z.destroy();
      }
    },
  );

  it('no lock files are left', () => {
    const mine = existsSync(LOCK_DIR) ? readdirSync(LOCK_DIR).filter((f) => readFileSync(path.join(LOCK_DIR, f), 'utf8').trim() === String(process.pid)) : [];
    assert.deepEqual(mine, []);
  });
});
