/**
 * Address syntaxes used by the config file. Parsers return null (or a reason)
 * instead of throwing; load.ts turns that into located ConfigErrors. No DNS.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { classifyHost } from '../dispatcher/list-file';

/** A SIP listen socket (`listen: udp:IP:PORT`). */
export interface ListenSocket {
  readonly proto: 'udp';
  /** Bare IP (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** As written in the config (`udp:127.0.0.1:5060`). */
  readonly address: string;
}

/** `host[:port]`; port null when absent. */
export interface HostPort {
  /** Bare host (IPv6 without brackets). */
  readonly host: string;
  /** 4 or 6 for IP literals, 0 for a host name. */
  readonly family: 0 | 4 | 6;
  readonly port: number | null;
}

/** A DMQ node address (`server_address`, `notification_address`). */
export interface DmqAddress {
  /** `sip:HOST[:PORT]` exactly as the node URI is written (a `udp:` prefix becomes `sip:`). */
  readonly uri: string;
  /** Bare host (IPv6 without brackets). */
  readonly host: string;
  readonly family: 0 | 4 | 6;
  /** 5060 when absent from the URI. */
  readonly port: number;
}

/** An allow-list entry: an address or CIDR. */
export interface CidrRange {
  readonly address: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  /** As written. */
  readonly spec: string;
}

function splitHostPort(s: string): { host: string; port: string | null } | null {
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) return null;
    const host = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after.length === 0) return { host, port: null };
    if (!after.startsWith(':')) return null;
    return { host, port: after.slice(1) };
  }
  const parts = s.split(':');
  if (parts.length === 1) return { host: s, port: null };
  if (parts.length === 2) return { host: parts[0]!, port: parts[1]! };
  return null; // a bare IPv6 needs brackets
}

function parsePort(p: string, min: number): number | null {
  if (!/^[0-9]{1,5}$/.test(p)) return null;
  const n = Number(p);
  return n >= min && n <= 65535 ? n : null;
}

function hostInfo(host: string, allowName: boolean): { family: 0 | 4 | 6 } | null {
  if (isIPv4(host)) return { family: 4 };
  if (isIPv6(host)) return { family: 6 };
  if (!allowName) return null;
  const c = classifyHost(host);
  return c && c.hostType === 'hostname' ? { family: 0 } : null;
}

/** `udp:IPv4:PORT` or `udp:[IPv6]:PORT` (port 0 = ephemeral, for tests). */
export function parseListen(s: string): ListenSocket | null {
  if (!s.toLowerCase().startsWith('udp:')) return null;
  const hp = splitHostPort(s.slice(4));
  if (!hp || hp.port === null) return null;
  const port = parsePort(hp.port, 0);
  const h = hostInfo(hp.host, false);
  if (port === null || !h || h.family === 0) return null;
  if (h.family === 6 && !s.slice(4).startsWith('[')) return null;
  return { proto: 'udp', host: hp.host, port, family: h.family, address: s };
}

/** `HOST[:PORT]` (advertise): IP literal or host name. */
export function parseAdvertise(s: string): HostPort | null {
  const hp = splitHostPort(s);
  if (!hp) return null;
  const h = hostInfo(hp.host, true);
  if (!h) return null;
  let port: number | null = null;
  if (hp.port !== null) {
    port = parsePort(hp.port, 1);
    if (port === null) return null;
  }
  return { host: hp.host, family: h.family, port };
}

/** `HOST:PORT` (http.listen): IP literal or host name, port required (0 = ephemeral). */
export function parseHttpListen(s: string): (HostPort & { readonly port: number }) | null {
  const hp = splitHostPort(s);
  if (!hp || hp.port === null) return null;
  const h = hostInfo(hp.host, true);
  const port = parsePort(hp.port, 0);
  if (!h || port === null) return null;
  return { host: hp.host, family: h.family, port };
}

/** `sip:HOST[:PORT]` or `udp:HOST[:PORT]` (DMQ node). */
export function parseDmqAddress(s: string): DmqAddress | null {
  const m = /^(sip|udp):(.*)$/i.exec(s);
  if (!m) return null;
  const rest = m[2]!;
  const hp = splitHostPort(rest);
  if (!hp) return null;
  const h = hostInfo(hp.host, true);
  if (!h) return null;
  let port = 5060;
  if (hp.port !== null) {
    const p = parsePort(hp.port, 1);
    if (p === null) return null;
    port = p;
  }
  return { uri: `sip:${rest}`, host: hp.host, family: h.family, port };
}

/** `IP` or `IP/PREFIX`. */
export function parseCidr(s: string): CidrRange | null {
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const fam = isIP(addr);
  if (fam !== 4 && fam !== 6) return null;
  const max = fam === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { address: addr, family: fam, prefix, spec: s };
}
