/**
 * The PostgreSQL and Redis servers the fleet tests start (test/helpers/servers.ts)
 * cannot bind port 0 and report their port: the helper picks a free one, and
 * another process can bind it before the server does (another test's server,
 * run concurrently). Then the helper starts again on a new port, a bounded
 * number of times. Here the port is really taken: by a listening socket, or
 * by another real server of the same kind.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { freePort, PostgresServer, postgresMissing, RedisServer, redisMissing } from './helpers/servers.js';

/** A socket listening on a port, accepting connections and never answering on them (the worst neighbour). */
async function blockPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const conns = new Set<Socket>();
  const srv: Server = createServer((c) => {
    conns.add(c);
    c.resume();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    close: () =>
      new Promise((r) => {
        for (const c of conns) c.destroy();
        srv.close(() => r());
      }),
  };
}

const redisPid = (port: number): number =>
  Number(/^process_id:(\d+)/m.exec(spawnSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8', timeout: 5000 }).stdout)?.[1]);

test('Redis: a port taken before the bind (a socket, then another Redis) is given up for a new one', { skip: redisMissing() }, async () => {
  const blocker = await blockPort();
  const a = await RedisServer.start({ port: blocker.port });
  try {
    assert.notEqual(a.port, blocker.port, 'moved off the taken port');
    assert.ok(redisPid(a.port) > 0, 'a Redis answers on the new port');
    const b = await RedisServer.start({ port: a.port });
    try {
      assert.notEqual(b.port, a.port);
      assert.notEqual(redisPid(b.port), redisPid(a.port), 'each test talks to its own server');
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
    await blocker.close();
  }
});

test(
  'PostgreSQL: a port taken before the bind (a socket, then another PostgreSQL) is given up for a new one',
  { skip: postgresMissing(), timeout: 120_000 },
  async () => {
    const blocker = await blockPort();
    const a = await PostgresServer.start({ port: blocker.port });
    try {
      assert.notEqual(a.port, blocker.port, 'moved off the taken port');
      const b = await PostgresServer.start({ port: a.port });
      try {
        assert.notEqual(b.port, a.port);
        for (const s of [a, b]) {
          const c = new pg.Client({ connectionString: s.url('postgres') });
          await c.connect();
          const dir = (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
          await c.end();
          assert.equal(dir, s.dataDir, 'each test talks to its own server');
        }
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
      await blocker.close();
    }
  },
);

test('freePort gives a port nothing listens on', async () => {
  const port = await freePort();
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((r) => s.close(r));
});
