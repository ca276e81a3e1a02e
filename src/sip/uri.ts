/**
 * SIP URI helpers (RFC 3261 §19.1): enough to route — scheme, user, host,
 * port, parameters — without a general URI parser on the packet path.
 */

export interface SipUri {
  scheme: 'sip' | 'sips' | string;
  user: string | undefined;
  host: string;
  /** 0 when absent. */
  port: number;
  /** Raw `;name=value` parameters (before any `?headers`). */
  params: string;
}

/** Parses `sip:user@host:port;params?headers`; undefined when it is not a SIP URI. */
export function parseUri(uri: string): SipUri | undefined {
  const colon = uri.indexOf(':');
  if (colon <= 0) return undefined;
  const scheme = uri.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return undefined;
  let rest = uri.slice(colon + 1);
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    const pw = user.indexOf(':');
    if (pw >= 0) user = user.slice(0, pw);
    rest = rest.slice(at + 1);
  }
  const semi = rest.indexOf(';');
  const params = semi >= 0 ? rest.slice(semi) : '';
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  let host: string;
  let portStr = '';
  if (hostport.startsWith('[')) {
    const rb = hostport.indexOf(']');
    if (rb < 0) return undefined;
    host = hostport.slice(0, rb + 1);
    if (hostport.length > rb + 1) {
      if (hostport[rb + 1] !== ':') return undefined;
      portStr = hostport.slice(rb + 2);
    }
  } else {
    const pc = hostport.indexOf(':');
    host = pc >= 0 ? hostport.slice(0, pc) : hostport;
    portStr = pc >= 0 ? hostport.slice(pc + 1) : '';
  }
  if (!host || !/^[A-Za-z0-9.\-_[\]:]+$/.test(host)) return undefined;
  let port = 0;
  if (portStr !== '') {
    if (!/^\d{1,5}$/.test(portStr)) return undefined;
    port = Number(portStr);
    if (port > 65535) return undefined;
  }
  return { scheme, user, host, port, params };
}

/** Value of URI parameter `name` ('' for a flag parameter), or undefined. */
export function uriParam(params: string, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const p of params.split(';')) {
    if (!p) continue;
    const eq = p.indexOf('=');
    const n = (eq >= 0 ? p.slice(0, eq) : p).trim().toLowerCase();
    if (n === want) return eq >= 0 ? p.slice(eq + 1).trim() : '';
  }
  return undefined;
}

/** Default port of a scheme. */
export function defaultPort(scheme: string): number {
  return scheme === 'sips' ? 5061 : 5060;
}
