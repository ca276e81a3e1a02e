/**
 * Kamailio dispatcher.list parser (Kamailio 5.6.3 `dispatch.c:ds_load_list()`,
 * `pack_dest()`, `ds_set_attrs()`, `add_dest2list()`, `reindex_dests()`,
 * `ds_avl_insert()`), spec: shared/spec/dispatcher.md §1.4 and §2.
 *
 * Contract, byte for byte where it matters:
 * - The file is read as bytes in `fgets(line, 1024)` chunks: a physical line
 *   longer than 1023 bytes is split and the rest parsed as a new line (same
 *   physical line number in messages). A NUL byte ends the chunk (C string).
 * - `SETID URI [FLAGS [PRIORITY [ATTRS]]]`; a line with a set id and nothing
 *   else (or a `#` right after it) is a "bad line": the whole load fails
 *   (ConfigError with the line number, key `setid`).
 * - A destination whose URI does not parse (after the `sip:` fix-up) is
 *   skipped with a warning (`ds_load_mode=0`) or fails the load
 *   (`ds_load_mode=1`). No DNS is done here: hosts must be IPv4/IPv6 literals
 *   or syntactically valid host names; resolving names is the caller's job.
 * - Index order inside a set: descending priority, equal priority in reverse
 *   file order. Sets are kept in Kamailio's AVL tree; outputs and ping rounds
 *   walk it post-order (ids inserted 1,2,3,5 -> 1,5,3,2).
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors';

// ---------------------------------------------------------------------------
// Types

/** Kamailio transport of a URI's `transport=` parameter. */
export type DsTransport = 'udp' | 'tcp' | 'tls' | 'sctp' | 'ws' | 'wss' | 'other';

/** Kamailio core PROTO_* ids (core/ip_addr.h); 0 = none (URI without transport=). */
export const DS_PROTO_ID: Readonly<Record<DsTransport, number>> = Object.freeze({
  udp: 1,
  tcp: 2,
  tls: 3,
  sctp: 4,
  ws: 5,
  wss: 6,
  other: 7,
});

/** One `name=value` of the attrs column, in file order (names as written). */
export interface DsAttrParam {
  readonly name: string;
  readonly value: string;
}

/** The attrs column parsed like `ds_set_attrs()` (names case-insensitive). */
export interface DsAttrs {
  /** alg 10 identity, `dispatcher.set_duid_state`; null when absent. */
  readonly duid: string | null;
  /** alg 10 cap, 0 = unlimited. */
  readonly maxload: number;
  /** alg 9 weight, 1..100, otherwise 0. */
  readonly weight: number;
  /** alg 11 relative weight, 1..100, otherwise 0. */
  readonly rweight: number;
  /** congestion control (alg 11/13). */
  readonly cc: number;
  /** initial latency estimate in ms (alg 13); null when absent or not an integer. */
  readonly latency: number | null;
  /** `proto:host:port` of a local socket used to send to this destination. */
  readonly socket: string | null;
  /** name of a local socket (precedence over `socket`). */
  readonly sockname: string | null;
  /** socket used for keepalives only. */
  readonly pingSocket: string | null;
  /** From URI of this destination's keepalives (overrides `ds_ping_from`). */
  readonly pingFrom: string | null;
  /** next hop of this destination's keepalives (overrides `outbound_proxy`). */
  readonly obproxy: string | null;
  /** Every parameter, in file order, including the ones above. */
  readonly params: readonly DsAttrParam[];
}

/** A parsed SIP URI (enough for the dispatcher: no DNS). */
export interface DsUri {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | null;
  /** Host as written (IPv6 references keep their brackets, like Kamailio's HOST). */
  readonly host: string;
  readonly hostType: 'ipv4' | 'ipv6' | 'hostname';
  /** Bare IP literal (no brackets) when the host is one, else null (needs DNS). */
  readonly ip: string | null;
  /** 0 when the URI has no port (Kamailio 5.6.3). */
  readonly port: number;
  /** Kamailio PROTO_* id, 0 when the URI has no `transport=` (5.6.3). */
  readonly proto: number;
  readonly transport: DsTransport | null;
}

export interface DsDestination {
  readonly setId: number;
  /** Stored URI (after the `sip:` fix-up). */
  readonly uri: string;
  /** State bits from the file: 1 INACTIVE, 2 TRYING, 4 DISABLED, 8 PROBING, 16 NODNSARES. */
  readonly flags: number;
  readonly priority: number;
  /** Raw attrs body with one trailing ';' removed; '' when the column is absent. */
  readonly attrs: string;
  readonly parsedAttrs: DsAttrs;
  readonly host: string;
  readonly hostType: 'ipv4' | 'ipv6' | 'hostname';
  readonly ip: string | null;
  readonly port: number;
  readonly proto: number;
  readonly transport: DsTransport | null;
  /** 1-based physical line in the file. */
  readonly line: number;
}

export interface DsSet {
  readonly id: number;
  /** Index order (used by every algorithm). */
  readonly destinations: readonly DsDestination[];
}

export interface DsLoadWarning {
  readonly line: number;
  readonly setId: number;
  readonly uri: string;
  /** skipped: destination not added; fixed-scheme: `sip:` prepended; weight/rweight: out of 1..100, set to 0. */
  readonly kind: 'skipped' | 'fixed-scheme' | 'weight' | 'rweight';
  readonly message: string;
}

export interface DsList {
  /** File name used in messages. */
  readonly source: string;
  /** Sets in AVL post-order (the order of `dispatcher.list` and ping rounds). */
  readonly sets: readonly DsSet[];
  /** Set ids in AVL post-order. */
  readonly postOrder: readonly number[];
  readonly byId: ReadonlyMap<number, DsSet>;
  /** NRSETS */
  readonly nrSets: number;
  /** Every destination in file order (accepted ones only). */
  readonly destinations: readonly DsDestination[];
  readonly warnings: readonly DsLoadWarning[];
}

export interface DsParseOptions {
  /** `ds_load_mode`: 0 (default) skip bad destinations with a warning, 1 fail the load. */
  readonly loadMode?: 0 | 1;
  /**
   * Checks a `socket` attr against the local listen sockets (Kamailio's
   * `grep_sock_info`); false drops the destination. Absent: not checked.
   */
  readonly isLocalSocket?: (s: { proto: DsTransport | null; host: string; port: number }) => boolean;
  /** Checks a `sockname` attr; false drops the destination. Absent: not checked. */
  readonly hasSocketName?: (name: string) => boolean;
}

// ---------------------------------------------------------------------------
// Kamailio AVL tree of sets (dispatch.c: ds_avl_insert / avl_rebalance*)

const AVL_NEITHER = -1;

interface AvlNode<T> {
  readonly id: number;
  longer: number; // AVL_NEITHER, 0 (left) or 1 (right)
  next: [AvlNode<T> | null, AvlNode<T> | null];
  readonly value: T;
}

/** A settable pointer, standing for C's `ds_set_t **`. */
interface Slot<T> {
  get(): AvlNode<T> | null;
  set(n: AvlNode<T>): void;
}

/**
 * Kamailio's AVL tree keyed by set id, same insertion and rotations, so the
 * post-order walk reproduces `dispatcher.list` and keepalive round order.
 */
export class DsAvlTree<T> {
  private root: AvlNode<T> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  find(id: number): T | undefined {
    let node = this.root;
    while (node && id !== node.id) node = node.next[id > node.id ? 1 : 0];
    return node?.value;
  }

  /** Returns the value for `id`, inserting `create()` if it is new. */
  insert(id: number, create: () => T): T {
    const rootSlot: Slot<T> = { get: () => this.root, set: (n) => { this.root = n; } };
    let rotationTop = rootSlot;
    let slot = rootSlot;
    let node = slot.get();
    while (node && id !== node.id) {
      const step = id > node.id ? 1 : 0;
      if (node.longer !== AVL_NEITHER) rotationTop = slot;
      slot = childSlot(node, step);
      node = slot.get();
    }
    if (node) return node.value;
    const fresh: AvlNode<T> = { id, longer: AVL_NEITHER, next: [null, null], value: create() };
    slot.set(fresh);
    avlRebalance(rotationTop, id);
    this.count++;
    return fresh.value;
  }

  /** Post-order: left subtree, right subtree, node. */
  postOrder(): T[] {
    const out: T[] = [];
    const walk = (n: AvlNode<T> | null): void => {
      if (!n) return;
      walk(n.next[0]);
      walk(n.next[1]);
      out.push(n.value);
    };
    walk(this.root);
    return out;
  }

  /** Post-order of the ids. */
  postOrderIds(): number[] {
    const out: number[] = [];
    const walk = (n: AvlNode<T> | null): void => {
      if (!n) return;
      walk(n.next[0]);
      walk(n.next[1]);
      out.push(n.id);
    };
    walk(this.root);
    return out;
  }
}

function childSlot<T>(node: AvlNode<T>, dir: number): Slot<T> {
  return { get: () => node.next[dir] ?? null, set: (n) => { node.next[dir] = n; } };
}

function avlRebalancePath<T>(path: AvlNode<T> | null, id: number): void {
  while (path && id !== path.id) {
    const step = id > path.id ? 1 : 0;
    path.longer = step;
    path = path.next[step];
  }
}

function avlRotate2<T>(top: Slot<T>, dir: number): AvlNode<T> | null {
  const B = top.get()!;
  const D = B.next[dir]!;
  const C = D.next[1 - dir] ?? null;
  const E = D.next[dir] ?? null;
  top.set(D);
  D.next[1 - dir] = B;
  B.next[dir] = C;
  B.longer = AVL_NEITHER;
  D.longer = AVL_NEITHER;
  return E;
}

function avlRotate3<T>(top: Slot<T>, dir: number, third: number): AvlNode<T> | null {
  const B = top.get()!;
  const F = B.next[dir]!;
  const D = F.next[1 - dir]!;
  const C = D.next[1 - dir] ?? null;
  const E = D.next[dir] ?? null;
  top.set(D);
  D.next[1 - dir] = B;
  D.next[dir] = F;
  B.next[dir] = C;
  F.next[1 - dir] = E;
  D.longer = AVL_NEITHER;
  B.longer = AVL_NEITHER;
  F.longer = AVL_NEITHER;
  if (third === AVL_NEITHER) return null;
  if (third === dir) {
    B.longer = 1 - dir;
    return E;
  }
  F.longer = dir;
  return C;
}

function avlRebalance<T>(top: Slot<T>, id: number): void {
  let path = top.get()!;
  if (path.longer === AVL_NEITHER) {
    avlRebalancePath(path, id);
    return;
  }
  const first = id > path.id ? 1 : 0;
  if (path.longer !== first) {
    path.longer = AVL_NEITHER;
    avlRebalancePath(path.next[first] ?? null, id);
    return;
  }
  const second = id > path.next[first]!.id ? 1 : 0;
  if (first === second) {
    avlRebalancePath(avlRotate2(top, first), id);
    return;
  }
  path = path.next[first]!.next[second]!;
  const third = id === path.id ? AVL_NEITHER : id > path.id ? 1 : 0;
  avlRebalancePath(avlRotate3(top, first, third), id);
}

// ---------------------------------------------------------------------------
// Index order (add_dest2list + reindex_dests)

/**
 * Kamailio's index order for destinations given in insertion order: each is
 * inserted into a list sorted by ascending priority, after existing entries of
 * equal priority; the list is then copied backwards. Net result: descending
 * priority, equal priority in reverse insertion order. (Feeding a current
 * index order back in reproduces the add/remove "flip" quirk, dispatcher.md §8.)
 */
export function kamailioIndexOrder<T extends { readonly priority: number }>(inserted: readonly T[]): T[] {
  const ascending: T[] = [];
  for (const d of inserted) {
    let i = 0;
    while (i < ascending.length && !(ascending[i]!.priority > d.priority)) i++;
    ascending.splice(i, 0, d);
  }
  return ascending.reverse();
}

// ---------------------------------------------------------------------------
// Small Kamailio helpers

/** `str2sint`: optional sign then digits; partial value (sign kept) on garbage; undefined when empty. */
function str2sint(s: string): { value: number; ok: boolean } | undefined {
  if (s.length === 0) return undefined;
  let i = 0;
  let sign = 1;
  if (s[0] === '-') {
    sign = -1;
    i++;
  } else if (s[0] === '+') {
    i++;
  }
  let v = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return { value: (v * sign) | 0, ok: false };
    v = (Math.imul(v, 10) + (c - 0x30)) | 0;
  }
  return { value: (v * sign) | 0, ok: true };
}

/**
 * `parse_params()` for the attrs body: `name[=value]` separated by ';',
 * whitespace around names/values ignored, a double-quoted value loses its quotes.
 * Returns null when the body is malformed (empty name, unterminated quote).
 */
function parseParams(body: string): DsAttrParam[] | null {
  const out: DsAttrParam[] = [];
  let i = 0;
  const n = body.length;
  const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  while (i < n) {
    while (i < n && isWs(body[i])) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && body[i] !== '=' && body[i] !== ';' && !isWs(body[i])) i++;
    const name = body.slice(nameStart, i);
    if (name.length === 0) return null;
    while (i < n && isWs(body[i])) i++;
    let value = '';
    if (body[i] === '=') {
      i++;
      while (i < n && isWs(body[i])) i++;
      if (body[i] === '"') {
        const close = body.indexOf('"', i + 1);
        if (close < 0) return null;
        value = body.slice(i + 1, close);
        i = close + 1;
      } else {
        const vStart = i;
        while (i < n && body[i] !== ';') i++;
        value = body.slice(vStart, i).replace(/[ \t\r\n]+$/, '');
      }
      while (i < n && isWs(body[i])) i++;
    }
    if (i < n && body[i] !== ';') return null;
    i++; // skip ';'
    out.push({ name, value });
  }
  return out;
}

/** `ds_set_attrs()` over a body whose trailing ';' is already removed. */
function parseAttrs(body: string): { attrs: DsAttrs; notes: Array<{ kind: 'weight' | 'rweight'; message: string }> } | null {
  const params = body.length > 0 ? parseParams(body) : [];
  if (params === null) return null;
  const notes: Array<{ kind: 'weight' | 'rweight'; message: string }> = [];
  let duid: string | null = null;
  let maxload = 0;
  let weight = 0;
  let rweight = 0;
  let cc = 0;
  let latency: number | null = null;
  let socket: string | null = null;
  let sockname: string | null = null;
  let pingSocket: string | null = null;
  let pingFrom: string | null = null;
  let obproxy: string | null = null;
  for (const p of params) {
    const name = p.name.toLowerCase();
    switch (name) {
      case 'duid':
        duid = p.value;
        break;
      case 'cc': {
        const r = str2sint(p.value);
        if (r) cc = r.value;
        break;
      }
      case 'weight':
      case 'rweight': {
        const r = str2sint(p.value);
        const v = r ? r.value : 0;
        const ok = v >= 1 && v <= 100;
        if (!ok) notes.push({ kind: name, message: `${name} ${v} not in 1-100 range - ignoring` });
        if (name === 'weight') weight = ok ? v : 0;
        else rweight = ok ? v : 0;
        break;
      }
      case 'latency': {
        const r = str2sint(p.value);
        if (r?.ok) latency = r.value;
        break;
      }
      case 'maxload': {
        const r = str2sint(p.value);
        if (r) maxload = r.value;
        break;
      }
      case 'socket':
        socket = p.value;
        break;
      case 'sockname':
        sockname = p.value;
        break;
      case 'ping_socket':
        pingSocket = p.value;
        break;
      case 'ping_from':
        pingFrom = p.value;
        break;
      case 'obproxy':
        obproxy = p.value;
        break;
      default:
        break; // kept in the raw body / params only
    }
  }
  return {
    attrs: { duid, maxload, weight, rweight, cc, latency, socket, sockname, pingSocket, pingFrom, obproxy, params },
    notes,
  };
}

// ---------------------------------------------------------------------------
// SIP URI syntax (no DNS)

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Classifies a host as written in a URI or socket; null when not syntactically valid. */
export function classifyHost(host: string): { hostType: 'ipv4' | 'ipv6' | 'hostname'; ip: string | null } | null {
  if (host.length === 0) return null;
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return null;
    const inner = host.slice(1, -1);
    return isIPv6(inner) ? { hostType: 'ipv6', ip: inner } : null;
  }
  if (/^[0-9.]+$/.test(host)) return isIPv4(host) ? { hostType: 'ipv4', ip: host } : null;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return null;
  const labels = name.split('.');
  if (!labels.every((l) => HOST_LABEL.test(l))) return null;
  return { hostType: 'hostname', ip: null };
}

// RFC 3261 user: unreserved / escaped / user-unreserved; Kamailio is a bit
// more lenient, we accept any printable char except '@', blanks and '<>"'.
const USER_RE = /^[^\s@<>"]+$/;
const PASSWORD_RE = /^[^\s@<>"]*$/;
const PARAMS_RE = /^(;[^\s;?@<>"]+)*$/;

/**
 * Parses `sip:`/`sips:` URIs (scheme case-insensitive):
 * `sip:[user[:password]@]host[:port][;params][?headers]`. Returns null when
 * the string is not such a URI (what makes Kamailio's `parse_uri()` fail, e.g.
 * `sip:@@bad-uri`). Hosts longer than 254 chars are rejected like `pack_dest()`.
 */
export function parseDsUri(uri: string): DsUri | null {
  const colon = uri.indexOf(':');
  if (colon < 0) return null;
  const schemeRaw = uri.slice(0, colon).toLowerCase();
  if (schemeRaw !== 'sip' && schemeRaw !== 'sips') return null;
  const scheme: 'sip' | 'sips' = schemeRaw;
  let rest = uri.slice(colon + 1);
  const q = rest.indexOf('?');
  if (q >= 0) {
    if (/\s/.test(rest.slice(q + 1))) return null;
    rest = rest.slice(0, q);
  }
  let user: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (rest.includes('@')) return null;
    const pc = userinfo.indexOf(':');
    const u = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    const pw = pc >= 0 ? userinfo.slice(pc + 1) : '';
    if (!USER_RE.test(u) || !PASSWORD_RE.test(pw)) return null;
    user = u;
  }
  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  const params = semi >= 0 ? rest.slice(semi) : '';
  if (!PARAMS_RE.test(params)) return null;

  let host: string;
  let portStr: string | null = null;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return null;
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) return null;
      portStr = after.slice(1);
    }
  } else {
    const pc = hostport.indexOf(':');
    host = pc >= 0 ? hostport.slice(0, pc) : hostport;
    if (pc >= 0) portStr = hostport.slice(pc + 1);
  }
  if (host.length > 254) return null;
  const cls = classifyHost(host);
  if (!cls) return null;
  let port = 0;
  if (portStr !== null) {
    if (!/^[0-9]{1,5}$/.test(portStr)) return null;
    port = Number(portStr);
    if (port > 65535) return null;
  }
  let transport: DsTransport | null = null;
  for (const p of params.split(';').slice(1)) {
    const eq = p.indexOf('=');
    const name = (eq >= 0 ? p.slice(0, eq) : p).toLowerCase();
    if (name !== 'transport') continue;
    const v = (eq >= 0 ? p.slice(eq + 1) : '').toLowerCase();
    if (v.length === 0) return null;
    transport = v === 'udp' || v === 'tcp' || v === 'tls' || v === 'sctp' || v === 'ws' || v === 'wss' ? v : 'other';
  }
  return {
    scheme,
    user,
    host,
    hostType: cls.hostType,
    ip: cls.ip,
    port,
    proto: transport ? DS_PROTO_ID[transport] : 0,
    transport,
  };
}

/** `parse_phostport()`: `[proto:]host[:port]`; null when malformed. Port 0 = none. */
export function parseSocketSpec(spec: string): { proto: DsTransport | null; host: string; port: number } | null {
  let rest = spec;
  let proto: DsTransport | null = null;
  const m = /^(udp|tcp|tls|sctp|ws|wss):/i.exec(rest);
  if (m) {
    proto = m[1]!.toLowerCase() as DsTransport;
    rest = rest.slice(m[0].length);
  }
  let host: string;
  let portStr: string | null = null;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return null;
    host = rest.slice(0, close + 1);
    const after = rest.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) return null;
      portStr = after.slice(1);
    }
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) return null;
    host = parts[0]!;
    if (parts.length === 2) portStr = parts[1]!;
  }
  if (!classifyHost(host)) return null;
  let port = 0;
  if (portStr !== null) {
    if (!/^[0-9]{1,5}$/.test(portStr) || Number(portStr) > 65535) return null;
    port = Number(portStr);
  }
  return { proto, host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

// ---------------------------------------------------------------------------
// The file parser

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const HASH = 0x23;
const FGETS_SIZE = 1024;

/** Splits like repeated `fgets(buf, 1024, f)`: at most 1023 bytes, ends after '\n'. */
function fgetsChunks(buf: Uint8Array): Array<{ start: number; end: number; line: number }> {
  const chunks: Array<{ start: number; end: number; line: number }> = [];
  let pos = 0;
  let line = 1;
  while (pos < buf.length) {
    const max = Math.min(buf.length, pos + FGETS_SIZE - 1);
    let end = pos;
    let sawNl = false;
    while (end < max) {
      const c = buf[end++];
      if (c === LF) {
        sawNl = true;
        break;
      }
    }
    chunks.push({ start: pos, end, line });
    if (sawNl) line++;
    pos = end;
  }
  return chunks;
}

interface RawEntry {
  setId: number;
  uri: string;
  flags: number;
  priority: number;
  attrs: string | null;
  line: number;
}

/**
 * Parses dispatcher.list content. `text` may be a string (UTF-8 encoded for
 * the 1024-byte line logic) or the raw bytes. Throws ConfigError on a bad line
 * (and, with `loadMode: 1`, on a destination that cannot be added).
 */
export function parseDispatcherList(text: string | Uint8Array, fileName: string, options: DsParseOptions = {}): DsList {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const raws: RawEntry[] = [];

  for (const chunk of fgetsChunks(buf)) {
    // A NUL ends the C string fgets filled.
    let end = chunk.start;
    while (end < chunk.end && buf[end] !== 0) end++;
    const at = (i: number): number => (i < end ? buf[i]! : 0);
    const isBlank = (c: number): boolean => c === SP || c === TAB || c === CR || c === LF;
    let p = chunk.start;

    while (at(p) !== 0 && isBlank(at(p))) p++;
    if (at(p) === 0 || at(p) === HASH) continue;

    // set id: run of digits (no sign); none -> 0 and the token is the URI
    let setId = 0;
    while (at(p) >= 0x30 && at(p) <= 0x39) {
      setId = (Math.imul(setId, 10) + (at(p) - 0x30)) | 0;
      p++;
    }
    while (at(p) !== 0 && isBlank(at(p))) p++;
    if (at(p) === 0 || at(p) === HASH) {
      const shown = buf.toString('utf8', chunk.start, end).replace(/[\r\n]+$/, '');
      throw new ConfigError(fileName, chunk.line, 'setid', `bad line [${shown}]: set id without a destination URI`);
    }

    // URI: up to a blank or '#'
    const uriStart = p;
    while (at(p) !== 0 && !isBlank(at(p)) && at(p) !== HASH) p++;
    const uri = buf.toString('utf8', uriStart, p);
    while (at(p) !== 0 && isBlank(at(p))) p++;

    let flags = 0;
    let priority = 0;
    let attrs: string | null = null;
    if (at(p) !== 0 && at(p) !== HASH) {
      while (at(p) >= 0x30 && at(p) <= 0x39) {
        flags = (Math.imul(flags, 10) + (at(p) - 0x30)) | 0;
        p++;
      }
      while (at(p) !== 0 && isBlank(at(p))) p++;
      if (at(p) !== 0 && at(p) !== HASH) {
        while (at(p) >= 0x30 && at(p) <= 0x39) {
          priority = (Math.imul(priority, 10) + (at(p) - 0x30)) | 0;
          p++;
        }
        while (at(p) !== 0 && isBlank(at(p))) p++;
        if (at(p) !== 0 && at(p) !== HASH) {
          // attrs: up to a blank ('#' does not end it); the rest is ignored
          const aStart = p;
          while (at(p) !== 0 && !isBlank(at(p))) p++;
          attrs = buf.toString('utf8', aStart, p);
        }
      }
    }
    raws.push({ setId, uri, flags, priority, attrs, line: chunk.line });
  }

  const warnings: DsLoadWarning[] = [];
  const tree = new DsAvlTree<{ id: number; inserted: DsDestination[] }>();
  const accepted: DsDestination[] = [];
  const loadMode = options.loadMode ?? 0;

  for (const r of raws) {
    const res = packDest(r, options);
    for (const w of res.notes) warnings.push({ line: r.line, setId: r.setId, uri: r.uri, kind: w.kind, message: w.message });
    if (!res.dest) {
      const message = `unable to add destination ${r.uri} to set ${r.setId} -- ${res.reason}`;
      if (loadMode === 1) throw new ConfigError(fileName, r.line, 'uri', message);
      warnings.push({ line: r.line, setId: r.setId, uri: r.uri, kind: 'skipped', message: `${message} -- skipping` });
      continue;
    }
    const dest = res.dest;
    accepted.push(dest);
    tree.insert(r.setId, () => ({ id: r.setId, inserted: [] })).inserted.push(dest);
  }

  const sets: DsSet[] = tree.postOrder().map((s) => Object.freeze({ id: s.id, destinations: Object.freeze(kamailioIndexOrder(s.inserted)) }));
  const byId = new Map<number, DsSet>();
  for (const s of sets) byId.set(s.id, s);
  return {
    source: fileName,
    sets: Object.freeze(sets),
    postOrder: Object.freeze(tree.postOrderIds()),
    byId,
    nrSets: tree.size,
    destinations: Object.freeze(accepted),
    warnings: Object.freeze(warnings),
  };
}

/** `pack_dest()` without DNS: URI fix-up and checks, attrs, socket checks. */
function packDest(
  r: RawEntry,
  options: DsParseOptions,
): { dest: DsDestination | null; reason: string; notes: Array<{ kind: DsLoadWarning['kind']; message: string }> } {
  const notes: Array<{ kind: DsLoadWarning['kind']; message: string }> = [];
  let uri = r.uri;
  let parsed = parseDsUri(uri);
  if (!parsed) {
    // pack_dest(): retry with "sip:" when 4 < len < 500 and not already "sip:"
    const len = Buffer.byteLength(r.uri, 'utf8');
    if (len > 4 && !r.uri.startsWith('sip:') && len < 500) {
      uri = `sip:${r.uri}`;
      parsed = parseDsUri(uri);
      if (parsed) notes.push({ kind: 'fixed-scheme', message: `uri without sip scheme - fixing it: ${r.uri}` });
    }
  }
  if (!parsed) return { dest: null, reason: `bad uri [${r.uri}]`, notes };

  let body = r.attrs ?? '';
  if (body.endsWith(';')) body = body.slice(0, -1);
  const pa = parseAttrs(body);
  if (!pa) return { dest: null, reason: `cannot parse attributes [${body}]`, notes };
  for (const n of pa.notes) notes.push(n);
  const a = pa.attrs;

  if (a.sockname !== null && a.sockname.length > 0) {
    if (options.hasSocketName && !options.hasSocketName(a.sockname)) {
      return { dest: null, reason: `non-local socket name <${a.sockname}>`, notes };
    }
  } else if (a.socket !== null && a.socket.length > 0) {
    const s = parseSocketSpec(a.socket);
    if (!s) return { dest: null, reason: `bad socket <${a.socket}>`, notes };
    if (options.isLocalSocket && !options.isLocalSocket(s)) {
      return { dest: null, reason: `non-local socket <${a.socket}>`, notes };
    }
  }
  if (a.pingSocket !== null && a.pingSocket.length > 0) {
    const s = parseSocketSpec(a.pingSocket);
    if (!s) return { dest: null, reason: `bad socket <${a.pingSocket}>`, notes };
    if (options.isLocalSocket && !options.isLocalSocket(s)) {
      return { dest: null, reason: `non-local socket <${a.pingSocket}>`, notes };
    }
  }

  const dest: DsDestination = Object.freeze({
    setId: r.setId,
    uri,
    flags: r.flags,
    priority: r.priority,
    attrs: body,
    parsedAttrs: Object.freeze({ ...a, params: Object.freeze(a.params.map((p) => Object.freeze(p))) }),
    host: parsed.host,
    hostType: parsed.hostType,
    ip: parsed.ip,
    port: parsed.port,
    proto: parsed.proto,
    transport: parsed.transport,
    line: r.line,
  });
  return { dest, reason: '', notes };
}

/** Reads and parses a dispatcher.list file. Read failures are a ConfigError (key `list_file`). */
export function loadDispatcherList(path: string, options: DsParseOptions = {}): DsList {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(path, undefined, 'list_file', `can't open list file (${e.code ?? e.message})`);
  }
  return parseDispatcherList(bytes, path, options);
}

/** Where a list comes from: a file, or inline text (the embedded default). */
export type DsListSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'inline'; readonly text: string; readonly name: string };

/** Loads a list from its source (reload = call again). */
export function loadDispatcherListSource(source: DsListSource, options: DsParseOptions = {}): DsList {
  return source.kind === 'file' ? loadDispatcherList(source.path, options) : parseDispatcherList(source.text, source.name, options);
}
