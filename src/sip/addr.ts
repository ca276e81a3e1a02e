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

/** `host:port` for Via/Record-Route, the port omitted when it is 5060 (as Kamailio does). */
export function hostPort(ip: string, port: number): string {
  return port === 5060 ? ip : `${ip}:${port}`;
}

/** Parses 'udp:IP:PORT' / 'IP:PORT' / 'IP' (Kamailio listen= syntax, IPv4 only). */
export function parseListen(spec: string): { proto: 'udp'; ip: string; port: number } | undefined {
  let s = spec.trim();
  if (s.toLowerCase().startsWith('udp:')) s = s.slice(4);
  const [ip, portStr] = s.split(':');
  if (ip === undefined || ipv4ToInt(ip) === undefined) return undefined;
  const port = portStr === undefined ? 5060 : Number(portStr);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { proto: 'udp', ip, port };
}
