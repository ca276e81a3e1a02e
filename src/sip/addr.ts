import { defaultPort, parseUri } from './uri';

/**
 * IPv4 addresses as uint32 numbers (host order), the form they cross the
 * native boundary in, with the string conversions done off the packet path.
 */

export interface Addr {
  /** IPv4 address, host order. */
  ip: number;
  port: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** '127.0.0.1' -> 0x7f000001; undefined when not an IPv4 literal. */
export function ipv4ToInt(ip: string): number | undefined {
  const m = IPV4.exec(ip);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function intToIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

export function addrToString(a: Addr): string {
  return `${intToIpv4(a.ip)}:${a.port}`;
}

/**
 * sip:host[:port] -> address: IPv4 literals and `localhost` (no DNS on the
 * message path); the scheme's default port when none is written.
 */
export function uriToAddr(uri: string): Addr | undefined {
  const u = parseUri(uri);
  if (!u) return undefined;
  const ip = u.host.toLowerCase() === 'localhost' ? 0x7f000001 : ipv4ToInt(u.host);
  return ip === undefined ? undefined : { ip, port: u.port || defaultPort(u.scheme) };
}
