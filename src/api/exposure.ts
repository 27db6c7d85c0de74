/**
 * Who can reach the server, and under which names. Bound to loopback (the
 * default) only this host's processes connect, so the read routes stay open
 * for dashboards and Prometheus. Bound to any other address, other hosts can
 * connect: that needs `serve --expose`, and every route then needs the token.
 * Either way the Host header must name this server: a web page whose domain
 * re-resolves to 127.0.0.1 (DNS rebinding) would otherwise read the API
 * through the user's browser, which sends the attacker's name as Host.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';

const unbracket = (a: string) => a.replace(/^\[(.*)\]$/, '$1').toLowerCase();

export function isLoopback(address: string): boolean {
  const a = unbracket(address);
  if (a.startsWith('::ffff:')) return isLoopback(a.slice(7));
  if (net.isIPv4(a)) return a.startsWith('127.');
  return a === '::1';
}

export function isWildcard(address: string): boolean {
  const a = unbracket(address);
  return a === '0.0.0.0' || a === '::';
}

/** Every address a name stands for (listen binds the first); none when it does not resolve (listen then says so). */
export async function addressesOf(host: string): Promise<string[]> {
  const h = unbracket(host);
  if (net.isIP(h)) return [h];
  try {
    return (await lookup(h, { all: true })).map((r) => r.address);
  } catch {
    return [];
  }
}

/** The URL a client on this host uses for a bound address: a wildcard is reached through loopback. */
export function localUrl(address: string, port: number): string {
  const a = unbracket(address);
  const reach = a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a;
  return `http://${net.isIPv6(reach) ? `[${reach}]` : reach}:${port}`;
}

/** How an address:port is written (IPv6 in brackets). */
export function hostPort(address: string, port: number): string {
  const a = unbracket(address);
  return `${net.isIPv6(a) ? `[${a}]` : a}:${port}`;
}

/**
 * The host names the server answers to: loopback's, this host's name, the
 * bound address (every interface's for a wildcard), and the configured ones.
 */
export function allowedHostNames(bound: readonly string[], configured: readonly string[]): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1', os.hostname().toLowerCase(), ...configured.map(unbracket)]);
  for (const b of bound) {
    if (!isWildcard(b)) names.add(unbracket(b));
    else for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(unbracket(i.address));
  }
  return names;
}

/** The name a Host header gives, without its port, brackets or trailing dot; undefined when malformed. */
export function hostNameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(header) ?? /^([A-Za-z0-9._-]+)(?::\d{1,5})?$/.exec(header);
  return m ? m[1]!.toLowerCase().replace(/\.$/, '') : undefined;
}
