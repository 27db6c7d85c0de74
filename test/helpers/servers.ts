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
import { killAtExit, registerUndo } from '../../src/util/cleanup.js';
import { running } from '../../src/util/running.js';
import { tempDir } from './tmp.js';

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

async function waitFor(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready within ${ms} ms`);
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

export class PostgresServer {
  private child?: ChildProcess;
  private dbs = 0;
  /** Stops the postmaster at once (SIGQUIT) should the process end before stop(): util/cleanup.ts. */
  private readonly quitAtExit = registerUndo(() => {
    const pid = this.postmasterPid();
    if (!pid) return;
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      return; /* gone */
    }
    for (let i = 0; i < 50 && running(pid); i++) spawnSync('sleep', ['0.1']);
  });
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async start(): Promise<PostgresServer> {
    const bin = pgBinDir()!;
    const dir = tempDir('ssdtune-pg-');
    const srv = new PostgresServer(dir, await freePort(), bin);
    if (asRoot) {
      const { uid, gid } = idsOf('postgres');
      chownSync(dir, uid, gid);
    }
    const init = srv.run(path.join(bin, 'initdb'), ['-D', srv.dataDir, '-U', 'ssdtune', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    await srv.startServer();
    return srv;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private run(cmd: string, args: string[]) {
    return asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
  }

  private async startServer(): Promise<void> {
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
    this.child = asRoot ? spawn('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'ignore' }) : spawn(cmd, args, { stdio: 'ignore' });
    await waitFor('postgres', async () => {
      const c = new pg.Client({ connectionString: this.url('postgres') });
      await c.connect();
      await c.end();
      return true;
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
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<RedisServer> {
    const srv = new RedisServer(tempDir('ssdtune-redis-'), await freePort());
    await srv.startServer();
    return srv;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async startServer(): Promise<void> {
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
      { stdio: 'ignore' },
    );
    killAtExit(this.child);
    await waitFor('redis', async () => spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG');
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
