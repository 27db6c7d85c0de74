/**
 * Real PostgreSQL and Redis servers for the fleet tests, each started on a
 * free loopback port in its own temporary directory and stopped (or killed
 * and restarted, for the fault tests) by the test. `stop` removes the
 * directory once the server has exited (and tempDir at the process's exit,
 * should a test fail before it stops its server). `initdb` refuses root, so
 * as root the server runs as the `postgres` user through runuser. Where the
 * binaries are absent, `skip` says why instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { killAtExit, registerUndo, signalProcess } from '../../src/util/cleanup.js';
import { running } from '../../src/util/running.js';
import { tempDir } from '../../src/util/temp-dir.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** How many ports a server start tries before it gives up. */
export const PORT_TRIES = 5;

/** The port was free when picked, and another process bound it before the server did. */
class PortTaken extends Error {}

/**
 * Starts a server that cannot bind port 0 and report it (PostgreSQL, Redis)
 * on a port picked free, and on a new one should another process (another
 * test's server) take it between the pick and the bind: a bounded count,
 * then a clear error. `first` is tried first.
 */
async function startOnFreePort(what: string, srv: { port: number; startServer(): Promise<void> }, first?: number): Promise<void> {
  const taken: number[] = [];
  for (let i = 0; i < PORT_TRIES; i++) {
    srv.port = i === 0 && first !== undefined ? first : await freePort();
    try {
      return await srv.startServer();
    } catch (e) {
      if (!(e instanceof PortTaken)) throw e;
      taken.push(srv.port);
    }
  }
  throw new Error(
    `${what} could not listen on 127.0.0.1: ${PORT_TRIES} ports picked free were taken by another process before it bound them (${taken.join(', ')})`,
  );
}

/**
 * Waits until `ours()` says the server answering on its port is this child,
 * 'other' when another process's server answers there. The child exiting
 * with "Address already in use", or another server answering, is PortTaken.
 */
async function waitReady(what: string, child: ChildProcess, stderr: () => string, ours: () => Promise<boolean | 'other'>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      if (/address already in use/i.test(stderr())) throw new PortTaken();
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr().trim().slice(-600)}`);
    }
    const r = await ours().catch(() => false);
    if (r === true) return;
    // Another server answers: this one cannot bind and ends by itself (killed mid-start, PostgreSQL
    // would leave an empty lock file in its data directory and refuse the next start).
    if (r === 'other') {
      const gone = child.exitCode !== null || new Promise<boolean>((r) => child.once('exit', () => r(true)));
      if (!(await Promise.race([gone, new Promise((r) => setTimeout(() => r(false), 10_000))]))) await stopChild(child);
      throw new PortTaken();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  throw new Error(`${what} did not become ready within ${ms} ms: ${stderr().trim().slice(-600)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** The child's log (stderr, or stdout for Redis), its last 4000 characters. */
function tail(child: ChildProcess, stream: 'stderr' | 'stdout' = 'stderr'): () => string {
  let log = '';
  child[stream]?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  return () => log;
}

function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

const asRoot = process.getuid?.() === 0;

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  if (!pgBinDir()) return 'PostgreSQL server binaries are absent (/usr/lib/postgresql/*/bin/initdb; Debian package postgresql)';
  if (asRoot && spawnSync('runuser', ['--version']).status !== 0) return 'running as root without runuser, and initdb refuses root';
  if (asRoot && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root with no postgres user to run initdb as';
  return undefined;
}

export function redisMissing(): string | undefined {
  return spawnSync('redis-server', ['--version']).status === 0 ? undefined : 'redis-server is absent (Debian package redis-server)';
}

/**
 * Until a session of the database at `url` waits for an advisory lock (pg_locks: one of this database not
 * granted), or `done()` (what would wait has finished instead), for 10 s at most; whether one waits.
 */
export async function untilAdvisoryLockAwaited(url: string, done: () => boolean): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; i < 400 && !done(); i++) {
      const r = await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      if (Number(r.rows[0]!.n) > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  } finally {
    await c.end();
  }
}

export class PostgresServer {
  private child?: ChildProcess;
  private dbs = 0;
  /** Stops the postmaster at once (SIGQUIT) should the process end before stop(): util/cleanup.ts. */
  private readonly quitAtExit = registerUndo(() => {
    const pid = this.postmasterPid();
    if (!pid) return;
    if (!signalProcess(pid, 'SIGQUIT')) return; // gone
    for (let i = 0; i < 50 && running(pid); i++) spawnSync('sleep', ['0.1']);
  });
  /** Set by start(); kept across crashAndRestart. */
  port = 0;
  private constructor(
    readonly dir: string,
    private readonly bin: string,
  ) {}

  /** `opts.port`: the port to try first (a new free one after it, should it be taken). */
  static async start(opts: { port?: number } = {}): Promise<PostgresServer> {
    const bin = pgBinDir()!;
    const dir = tempDir('ssdtune-pg-');
    const srv = new PostgresServer(dir, bin);
    if (asRoot) {
      const { uid, gid } = idsOf('postgres');
      chownSync(dir, uid, gid);
    }
    const init = srv.run(path.join(bin, 'initdb'), ['-D', srv.dataDir, '-U', 'ssdtune', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    await startOnFreePort('PostgreSQL', srv, opts.port);
    return srv;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private run(cmd: string, args: string[]) {
    return asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  }

  /** (Re)starts the server on `port` (startOnFreePort picks it). */
  async startServer(): Promise<void> {
    const args = [
      '-D',
      this.dataDir,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ];
    const cmd = path.join(this.bin, 'postgres');
    const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe'];
    const child = asRoot ? spawn('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio }) : spawn(cmd, args, { stdio });
    this.child = child;
    // The server answering there is this one: another test's would have another data directory.
    await waitReady('PostgreSQL', child, tail(child), async () => {
      // Bounded: what answers on the port may be something that never speaks (not a server).
      const c = new pg.Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 2000, query_timeout: 2000 });
      await c.connect();
      try {
        const r = await c.query<{ data_directory: string }>('SHOW data_directory');
        return r.rows[0]?.data_directory === this.dataDir || 'other';
      } finally {
        await c.end();
      }
    });
  }

  url(db: string): string {
    return `postgres://ssdtune@127.0.0.1:${this.port}/${db}`;
  }

  /** A fresh, empty database on this server. */
  async newDatabase(): Promise<string> {
    const name = `t${process.pid}_${++this.dbs}`;
    const c = new pg.Client({ connectionString: this.url('postgres') });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    return this.url(name);
  }

  private postmasterPid(): number | undefined {
    const f = path.join(this.dataDir, 'postmaster.pid');
    return existsSync(f) ? Number(readFileSync(f, 'utf8').split('\n')[0]) : undefined;
  }

  /** Kill -9 the postmaster (and so every backend) and start it again on the same port and data. */
  async crashAndRestart(downMs = 500): Promise<void> {
    const pid = this.postmasterPid();
    if (pid) process.kill(pid, 'SIGKILL');
    await new Promise((r) => this.child?.once('exit', r));
    // Orphaned backends notice the postmaster is gone and exit; the new one waits for them.
    await new Promise((r) => setTimeout(r, downMs));
    await this.startServer();
  }

  async stop(): Promise<void> {
    const pid = this.postmasterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        /* gone */
      }
      await new Promise((r) => (this.child?.exitCode !== null ? r(undefined) : this.child?.once('exit', r)));
    }
    this.quitAtExit();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function idsOf(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(user + ':'))!;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export class RedisServer {
  private child?: ChildProcess;
  /** Set by start(); kept across crashAndRestart. */
  port = 0;
  private constructor(readonly dir: string) {}

  /** `opts.port`: the port to try first (a new free one after it, should it be taken). */
  static async start(opts: { port?: number } = {}): Promise<RedisServer> {
    const srv = new RedisServer(tempDir('ssdtune-redis-'));
    await startOnFreePort('Redis', srv, opts.port);
    return srv;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on `port` (startOnFreePort picks it). */
  async startServer(): Promise<void> {
    // What production needs for BullMQ: append-only durability and no eviction of keys.
    this.child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        this.dir,
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const child = this.child;
    killAtExit(child);
    // Redis logs to stdout. The server answering there is this one: its process id says so.
    await waitReady('Redis', child, tail(child, 'stdout'), async () => {
      const info = spawnSync('redis-cli', ['-p', String(this.port), 'info', 'server'], { encoding: 'utf8', timeout: 2000 }).stdout;
      const pid = /^process_id:(\d+)/m.exec(info)?.[1];
      return pid === undefined ? false : Number(pid) === child.pid || 'other';
    });
  }

  /** Kill -9 and start again from its append-only file. */
  async crashAndRestart(downMs = 500): Promise<void> {
    const child = this.child!;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, downMs));
    await this.startServer();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
