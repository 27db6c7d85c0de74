/**
 * How a front end finds and authenticates to the server that holds the
 * ConfDB. The bearer token is generated at the server's first start into
 * `<dataDir>/api-token` with mode 0600, so only the owner (and root) can use
 * the routes that change state; a running server advertises its URL in
 * `<dataDir>/server.json`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Where a running server advertises itself, so the CLI can go through it. */
export function serverFile(dataDir: string): string {
  return path.join(dataDir, 'server.json');
}

export function tokenPath(dataDir: string): string {
  return path.join(dataDir, 'api-token');
}

export function loadOrCreateToken(dataDir: string): string {
  const file = tokenPath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(file)) {
    // Tighten a token file someone loosened: it is a credential.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return token;
}

export function readToken(dataDir: string): string | undefined {
  const file = tokenPath(dataDir);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** Constant-time comparison of an Authorization header with the token. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7).trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}
