/**
 * How a front end finds and authenticates to the server that holds the
 * ConfDB. The bearer token is generated at the server's first start into
 * `<dataDir>/api-token` with mode 0600, so only the owner (and root) can use
 * the routes that change state; a running server advertises its URL in
 * `<dataDir>/server.json`.
 *
 * A token file someone wrote by hand must hold a real credential: 32 to 512
 * visible ASCII characters, optionally followed by one newline. An empty,
 * short or blank file, or one with inner spaces or other bytes, is refused
 * with a coded error (never quoting the file), since "trimming" it would let
 * `Authorization: Bearer ` plus some whitespace in. Requests are compared
 * byte for byte, in constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ERR_TOKEN } from '../errors.js';

/** Where a running server advertises itself, so the CLI can go through it. */
export function serverFile(dataDir: string): string {
  return path.join(dataDir, 'server.json');
}

export function tokenPath(dataDir: string): string {
  return path.join(dataDir, 'api-token');
}

const TOKEN_RE = /^[\x21-\x7e]{32,512}$/;

/** The token a file holds; a coded error says what is wrong with it (never what it holds). */
export function parseTokenFile(file: string, bytes: Buffer): string {
  // A valid token is ASCII, so decoding as UTF-8 changes nothing for it and names other characters right.
  let text = bytes.toString('utf8');
  if (text.endsWith('\n')) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
  if (TOKEN_RE.test(text)) return text;
  const why =
    text.length === 0
      ? 'it is empty'
      : /^[\s\u00a0]*$/.test(text)
        ? 'it holds only whitespace'
        : /[^\x21-\x7e]/.test(text)
          ? 'it holds spaces, control characters or non-ASCII bytes'
          : `it holds ${text.length} characters, fewer than 32`;
  throw ERR_TOKEN(file, why);
}

function readTokenFile(file: string): string {
  return parseTokenFile(file, readFileSync(file));
}

export function loadOrCreateToken(dataDir: string): string {
  const file = tokenPath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(file)) {
    // Tighten a token file someone loosened: it is a credential.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return readTokenFile(file);
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return token;
}

/** The token a client sends, when the file is there (a malformed one is an error here too). */
export function readToken(dataDir: string): string | undefined {
  const file = tokenPath(dataDir);
  return existsSync(file) ? readTokenFile(file) : undefined;
}

/** Constant-time, byte-exact comparison of an Authorization header with `Bearer <token>`. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const given = Buffer.from(header, 'latin1');
  const want = Buffer.from(`Bearer ${token}`, 'latin1');
  return given.length === want.length && timingSafeEqual(given, want);
}
