/**
 * `ds_select_dst(set, alg, limit)` and `ds_next_dst()` exactly as Kamailio
 * 5.6.3 (`dispatch.c:ds_manage_routes()`, `ds_manage_routes_fill_xavp()`,
 * `ds_manage_route_algo13()`, `ds_add_branches()`, `ds_update_dst()`,
 * `ds_hash_*()`, `get_uri_hash_keys()`); spec shared/spec/dispatcher.md
 * §3-§5.
 *
 * Contract:
 * - One `Dispatcher` per shard per loaded list, over the shared `DsState`
 *   (flags, cursors, weight tables, dload live there, see state.ts) and the
 *   shard's `CallLoadTable` (alg 10, see call-load.ts).
 * - `select()` returns undefined where Kamailio's ds_select_dst() returns
 *   false. Side effects Kamailio keeps on a late failure are kept too: the
 *   round-robin / weight cursors moved, and with alg 10 the load recorded
 *   before a record without `duid` aborted the failover list.
 * - Only the `$du` mode (ds_select_dst) is implemented: the R-URI is never
 *   changed; alg 12 returns the extra branches as destination URIs (`$du` of
 *   each branch, the R-URI is kept).
 * - The returned records are the `$xavp(_dsdst_)` records this selection
 *   writes, head first; `prior` records (an earlier selection of the same
 *   transaction) are kept after them, as Kamailio prepends. Records are
 *   immutable objects shared by all selections (no per-call allocation but the
 *   array); `dstIndex` is our handle into the DsState the record came from and
 *   is meaningless after a reload (uri/sock/dstid stay valid, as in Kamailio).
 * - Keys: Call-ID and the hash_pvar value are trimmed of SP/HTAB/CR/LF
 *   (Kamailio `trim()`); the Call-ID as trimmed is also the alg 10 table key.
 *   From/To may be given as a URI or a name-addr (`"A" <sip:a@b>;tag=x`).
 */
import { getRandomValues } from 'node:crypto';

import { dsHashWire } from '../native';
import { parseUri } from '../sip/uri';
import { CallLoadTable, type DsLoadTarget } from './call-load';
import type { DsList } from './list-file';
import {
  DS_INACTIVE_DST,
  DS_PROBING_DST,
  dsSkipDst,
  type DsState,
  type DsStateChange,
} from './state';

// ---------------------------------------------------------------------------
// Algorithm ids (dispatch.c)

export const DS_ALG = {
  HASHCALLID: 0,
  HASHFROMURI: 1,
  HASHTOURI: 2,
  HASHRURI: 3,
  ROUNDROBIN: 4,
  HASHAUTHUSER: 5,
  RANDOM: 6,
  HASHPV: 7,
  SERIAL: 8,
  WEIGHT: 9,
  CALLLOAD: 10,
  RELWEIGHT: 11,
  PARALLEL: 12,
  LATENCY: 13,
} as const;

/** `flags` modparam bits. */
export const DS_HASH_USER_ONLY = 1;
export const DS_FAILOVER_ON = 2;

/** `xavp_dst_mode` bits. */
export const DS_XAVP_DST_SKIP_ATTRS = 1;
export const DS_XAVP_DST_ADD_SOCKSTR = 2;
export const DS_XAVP_DST_ADD_SOCKNAME = 4;

/** `xavp_ctx_mode` bit. */
export const DS_XAVP_CTX_SKIP_CNT = 1;

// ---------------------------------------------------------------------------
// Types

/** What a selection reads from the request. Strings are header bodies as received. */
export interface DsSelectInput {
  /** Call-ID body (alg 0, alg 10 key). */
  callId: string;
  /** ds_get_hash of the trimmed Call-ID when already known (the scanner computes it). */
  callIdHash?: number | undefined;
  /** From URI or From header body (alg 1). */
  fromUri: string;
  /** To URI or To header body (alg 2). */
  toUri: string;
  /** Current R-URI (alg 3). */
  ruri: string;
  /** First Authorization header body (alg 5). */
  authorization?: string | undefined;
  /** First Proxy-Authorization header body (alg 5, preferred). */
  proxyAuthorization?: string | undefined;
  /** Expanded `hash_pvar` (alg 7); undefined = modparam unset -> alg 7 fails. */
  hashPv?: string | undefined;
  /** Request method is INVITE (alg 10 records load only for INVITE). */
  isInvite: boolean;
  /** Current `$du`; only looked at when `forceDst` is false. */
  du?: string | undefined;
}

/** The send socket of a destination: a listen socket name, or a `proto:host:port` address. */
export interface DsSocketRef {
  readonly kind: 'name' | 'address';
  readonly value: string;
}

/**
 * One `$xavp(_dsdst_)` record (`ds_add_xavp_record()`). Fields Kamailio does
 * not write for a destination are undefined.
 */
export interface DsRecord {
  /** `uri`: always. */
  readonly uri: string;
  /** `grp`: set id, always. */
  readonly grp: number;
  /** `attrs`: raw attrs when non-empty and `xavp_dst_mode` lacks 1. */
  readonly attrs: string | undefined;
  /** `sock`: the send socket (sockname/socket attr, else the default socket). */
  readonly sock: DsSocketRef | undefined;
  /** `socket`: the `socket` attr, with `sock` and `xavp_dst_mode` 2. */
  readonly socket: string | undefined;
  /** `sockname`: the `sockname` attr, with `sock` and `xavp_dst_mode` 4. */
  readonly sockname: string | undefined;
  /** `dstid`: the duid, alg 10 (load recorded) only. */
  readonly dstid: string | undefined;
  /** Not a Kamailio field: global index in the DsState the record was made from. */
  readonly dstIndex: number;
}

/** Result of a successful `select()`; `next()` updates it in place. */
export interface DsSelection {
  readonly setId: number;
  /** Algorithm in effect (alg 10 falls back to 0 when no load is recorded). */
  readonly alg: number;
  /** `$du`. */
  du: string;
  /** Global index of `du` in the DsState used. */
  dstIndex: number;
  /** Forced send socket for `du`, if any. */
  sock: DsSocketRef | undefined;
  /** `$xavp(_dsdst_)`, head = current destination. */
  readonly records: DsRecord[];
  /** `$xavp(_dsctx_=>cnt)`: records written by this selection; undefined with `xavp_ctx_mode` 1. */
  readonly cnt: number | undefined;
  /** alg 12: `$du` of each extra branch (R-URI kept), in index order. */
  readonly branches: string[];
  /** alg 12: global indexes of `branches`. */
  readonly branchIndexes: number[];
  /** Trimmed Call-ID (alg 10 load moves in `next()`). */
  readonly callId: string;
}

/** Dispatcher modparams (config keys of §0); resolved defaults are Kamailio's. */
export interface DispatcherOptions {
  /** `flags`: 1 hash URI user only, 2 failover records (default 0). */
  readonly flags?: number;
  /** `use_default` (default false). */
  readonly useDefault?: boolean;
  /** `force_dst` (default true). */
  readonly forceDst?: boolean;
  /** `xavp_dst` (default `_dsdst_`); '' disables records. */
  readonly xavpDst?: string;
  /** `xavp_dst_mode` (default 0). */
  readonly xavpDstMode?: number;
  /** `xavp_ctx_mode` (default 0). */
  readonly xavpCtxMode?: number;
  /** `ds_hash_size` (default 0 = no call-load table). */
  readonly hashSize?: number;
  /** `ds_hash_expire`, s (default 7200), for a table created here. */
  readonly hashExpire?: number;
  /** `ds_hash_initexpire`, s (default 7200), for a table created here. */
  readonly hashInitexpire?: number;
  /** This shard's call-load table, kept across reloads; created from `hashSize` when absent. */
  readonly callLoad?: CallLoadTable | undefined;
  /** `ds_default_sockname`. */
  readonly defaultSockname?: string | undefined;
  /** `ds_default_socket`. */
  readonly defaultSocket?: string | undefined;
  /** `ds_probing_mode` (default 0), used by `markDst()` without a state. */
  readonly probingMode?: number;
  /** `ds_probing_threshold` (default 1), used by `markDst()`. */
  readonly probingThreshold?: number;
  /** `ds_inactive_threshold` (default 1), used by `markDst()`. */
  readonly inactiveThreshold?: number;
  /** alg 6 source: uint31 like `rand()` (default: crypto, buffered). */
  readonly random?: () => number;
}

interface ResolvedOptions {
  readonly flags: number;
  readonly useDefault: boolean;
  readonly forceDst: boolean;
  readonly xavpDst: string;
  readonly xavpDstMode: number;
  readonly xavpCtxMode: number;
  readonly probingMode: number;
  readonly probingThreshold: number;
  readonly inactiveThreshold: number;
}

// ---------------------------------------------------------------------------
// Hash keys

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Kamailio `trim()`: SP, HTAB, CR, LF on both ends. */
export function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isLws(s.charCodeAt(a))) a++;
  while (b > a && isLws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The URI of a From/To body (`<...>` of a name-addr, else the addr-spec up to `;`), trimmed. */
export function headerUri(body: string): string {
  const s = trimLws(body);
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    return trimLws(gt > lt ? s.slice(lt + 1, gt) : s.slice(lt + 1));
  }
  // addr-spec form: header params follow the URI after ';' only when there is no '<'
  // (RFC 3261 §20: URI params would be header params), Kamailio's parse_to does the same.
  const semi = s.indexOf(';');
  return semi >= 0 ? trimLws(s.slice(0, semi)) : s;
}

/**
 * `get_uri_hash_keys()`: x = user as written ('' when absent), y = host as
 * written plus `:port` when the URI has a port different from the scheme
 * default (5060 sip, 5061 sips); y undefined with `userOnly` (flags & 1).
 * Undefined when the URI does not parse.
 */
export function uriHashKeys(uri: string, userOnly: boolean): { x: string; y: string | undefined } | undefined {
  // tel:/tels: URIs hash the number alone (no host part).
  const scheme = uri.slice(0, uri.indexOf(':')).toLowerCase();
  if (scheme === 'tel' || scheme === 'tels') {
    const num = uri.slice(uri.indexOf(':') + 1);
    const semi = num.indexOf(';');
    return { x: semi >= 0 ? num.slice(0, semi) : num, y: undefined };
  }
  const u = parseUri(uri);
  if (!u || u.host.length === 0) return undefined;
  // Kamailio's phone2tel (default on): a sip(s) URI with user=phone is parsed
  // as a tel URI - user parameters dropped, and 5060 taken as the default port.
  const phone = /(^|;)\s*user\s*=\s*phone\s*(;|$)/i.test(u.params);
  let x = u.user ?? '';
  if (phone) {
    const semi = x.indexOf(';');
    if (semi >= 0) x = x.slice(0, semi);
  }
  if (userOnly) return { x, y: undefined };
  // raw port text as written (Kamailio appends port.len chars after the host)
  let rest = uri.slice(uri.indexOf(':') + 1);
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = rest.slice(at + 1);
  const semi = rest.indexOf(';');
  const hostport = semi >= 0 ? rest.slice(0, semi) : rest;
  let portText = '';
  if (hostport.startsWith('[')) {
    const rb = hostport.indexOf(']');
    if (hostport[rb + 1] === ':') portText = hostport.slice(rb + 2);
  } else {
    const pc = hostport.indexOf(':');
    if (pc >= 0) portText = hostport.slice(pc + 1);
  }
  const defaultPort = u.scheme === 'sips' && !phone ? 5061 : 5060;
  const y = portText.length > 0 && u.port !== defaultPort ? `${u.host}:${portText}` : u.host;
  return { x, y };
}

/**
 * Digest `username` of an Authorization / Proxy-Authorization body
 * (`parse_digest_cred()` + `parse_username()`): undefined when the body is
 * not Digest credentials or does not parse; the user part is the text before
 * the first `@` (for values longer than 2 chars) with any `scheme:` prefix
 * removed. '' when the username parameter is absent.
 */
export function digestUsername(body: string): string | undefined {
  let p = 0;
  const n = body.length;
  while (p < n && isLws(body.charCodeAt(p))) p++;
  if (n - p < 7) return undefined; // "Digest" + one LWS/comma
  if (body.slice(p, p + 6).toLowerCase() !== 'digest') return undefined;
  const sep = body[p + 6];
  if (sep !== ' ' && sep !== '\r' && sep !== '\n' && sep !== '\t' && sep !== ',') return undefined;
  p += 7;
  while (p < n && isLws(body.charCodeAt(p))) p++;
  let username: string | undefined;
  for (;;) {
    // parameter name, LWS, '='
    const ns = p;
    while (p < n && body[p] !== '=' && !isLws(body.charCodeAt(p)) && body[p] !== ',') p++;
    const name = body.slice(ns, p);
    while (p < n && isLws(body.charCodeAt(p))) p++;
    if (name.length === 0 || body[p] !== '=') return undefined;
    p++;
    while (p < n && isLws(body.charCodeAt(p))) p++;
    if (p >= n) return undefined;
    let value: string;
    if (body[p] === '"') {
      const close = body.indexOf('"', p + 1);
      if (close < 0) return undefined;
      value = body.slice(p + 1, close);
      p = close + 1;
    } else {
      const vs = p;
      while (p < n && !isLws(body.charCodeAt(p)) && body[p] !== ',') p++;
      if (p === vs) return undefined;
      value = body.slice(vs, p);
    }
    if (name.toLowerCase() === 'username') username = value;
    const comma = body.indexOf(',', p);
    if (comma < 0) break;
    p = comma + 1;
    while (p < n && isLws(body.charCodeAt(p))) p++;
  }
  if (username === undefined) return '';
  let user = username;
  if (username.length > 2) {
    const atSign = user.indexOf('@');
    if (atSign >= 0) user = user.slice(0, atSign);
    const colon = user.indexOf(':');
    if (colon >= 0) user = user.slice(colon + 1);
  }
  return user;
}

/**
 * `ds_hash_authusername()` key: Proxy-Authorization if it parses as Digest,
 * else Authorization; undefined ("no credentials": round-robin) when neither
 * parses or the chosen one has an empty username.
 */
export function authHashKey(proxyAuthorization: string | undefined, authorization: string | undefined): string | undefined {
  let user = proxyAuthorization !== undefined ? digestUsername(proxyAuthorization) : undefined;
  if (user === undefined && authorization !== undefined) user = digestUsername(authorization);
  if (user === undefined || user.length === 0) return undefined;
  return trimLws(user);
}

// ---------------------------------------------------------------------------

/**
 * The dispatcher of one shard over one loaded list. Not thread-safe by itself
 * (a shard is one thread); the shared parts are in DsState.
 */
/** The (shared, empty) branch lists of every selection but alg 12's. */
const NO_BRANCHES: string[] = Object.freeze([]) as unknown as string[];
const NO_BRANCH_INDEXES: number[] = Object.freeze([]) as unknown as number[];

export class Dispatcher implements DsLoadTarget {
  readonly list: DsList;
  readonly state: DsState;
  /** This shard's alg 10 table (undefined with ds_hash_size 0). */
  readonly callLoad: CallLoadTable | undefined;
  private readonly opts: ResolvedOptions;
  /** Per destination: the record without / with dstid (undefined when the destination has no duid). */
  private readonly recPlain: DsRecord[] = [];
  private readonly recLoad: Array<DsRecord | undefined> = [];
  private readonly socks: Array<DsSocketRef | undefined> = [];
  private readonly random: () => number;
  private readonly rbuf = new Uint32Array(256);
  private rpos = 256;

  constructor(list: DsList, state: DsState, options: DispatcherOptions = {}) {
    if (state.list !== list && (state.size !== list.destinations.length || state.list.sets.length !== list.sets.length)) {
      throw new TypeError('Dispatcher: state was created for a different list');
    }
    this.list = list;
    this.state = state;
    this.opts = {
      flags: options.flags ?? 0,
      useDefault: options.useDefault ?? false,
      forceDst: options.forceDst ?? true,
      xavpDst: options.xavpDst ?? '_dsdst_',
      xavpDstMode: options.xavpDstMode ?? 0,
      xavpCtxMode: options.xavpCtxMode ?? 0,
      probingMode: options.probingMode ?? 0,
      probingThreshold: options.probingThreshold ?? 1,
      inactiveThreshold: options.inactiveThreshold ?? 1,
    };
    const hashSize = options.hashSize ?? 0;
    this.callLoad =
      options.callLoad ??
      (hashSize > 0 ? new CallLoadTable({ hashSize, expire: options.hashExpire ?? 7200, initExpire: options.hashInitexpire ?? 7200 }) : undefined);
    if (this.callLoad) this.callLoad.target = this;
    this.random = options.random ?? (() => this.rand31());

    const mode = this.opts.xavpDstMode;
    const defaultSock: DsSocketRef | undefined =
      options.defaultSockname !== undefined && options.defaultSockname.length > 0
        ? Object.freeze({ kind: 'name', value: options.defaultSockname })
        : options.defaultSocket !== undefined && options.defaultSocket.length > 0
          ? Object.freeze({ kind: 'address', value: options.defaultSocket })
          : undefined;
    for (let i = 0; i < state.size; i++) {
      const d = state.destination(i);
      const a = d.parsedAttrs;
      const sock: DsSocketRef | undefined =
        a.sockname !== null && a.sockname.length > 0
          ? Object.freeze({ kind: 'name', value: a.sockname })
          : a.socket !== null && a.socket.length > 0
            ? Object.freeze({ kind: 'address', value: a.socket })
            : defaultSock;
      this.socks.push(sock);
      const rec: DsRecord = Object.freeze({
        uri: d.uri,
        grp: d.setId,
        attrs: (mode & DS_XAVP_DST_SKIP_ATTRS) === 0 && d.attrs.length > 0 ? d.attrs : undefined,
        sock,
        socket: sock && mode & DS_XAVP_DST_ADD_SOCKSTR && a.socket !== null && a.socket.length > 0 ? a.socket : undefined,
        sockname: sock && mode & DS_XAVP_DST_ADD_SOCKNAME && a.sockname !== null && a.sockname.length > 0 ? a.sockname : undefined,
        dstid: undefined,
        dstIndex: i,
      });
      this.recPlain.push(rec);
      this.recLoad.push(a.duid !== null && a.duid.length > 0 ? Object.freeze({ ...rec, dstid: a.duid }) : undefined);
    }
  }

  /** Buffered `rand()` (uint31). */
  private rand31(): number {
    if (this.rpos >= this.rbuf.length) {
      getRandomValues(this.rbuf);
      this.rpos = 0;
    }
    return this.rbuf[this.rpos++]! >>> 1;
  }

  /**
   * `ds_select_dst(setId, alg, limit)`: picks `$du` and builds the failover
   * records (§3-§5). `limit` 0 = unlimited, else the most records written
   * (the selected one included). `prior`: records already in
   * `$xavp(_dsdst_)` (kept after the new ones). Undefined = false.
   */
  select(setId: number, alg: number, limit: number, input: DsSelectInput, prior?: readonly DsRecord[]): DsSelection | undefined {
    const st = this.state;
    const o = this.opts;
    if (this.list.nrSets <= 0 || st.size === 0) return undefined;
    if (!o.forceDst && input.du !== undefined && input.du.length > 0) return undefined;
    const slot = st.setSlot(setId);
    if (slot < 0) return undefined;
    const n = st.slotSize(slot);
    const base = st.slotBase(slot);
    if (n <= 0) return undefined;
    const lim = limit > 0 ? limit : 0xffffffff;

    let h = 0;
    let eff = alg;
    let ulast = false;
    let vlast = 0;
    let filled = false;
    let recs: DsRecord[] = [];
    let cnt = 0;
    let callId = '';

    switch (alg) {
      case DS_ALG.HASHCALLID: {
        callId = trimLws(input.callId);
        if (callId.length === 0) return undefined;
        h = input.callIdHash ?? dsHashWire(callId);
        break;
      }
      case DS_ALG.HASHFROMURI:
      case DS_ALG.HASHTOURI:
      case DS_ALG.HASHRURI: {
        const uri = alg === DS_ALG.HASHFROMURI ? headerUri(input.fromUri) : alg === DS_ALG.HASHTOURI ? headerUri(input.toUri) : trimLws(input.ruri);
        const k = uriHashKeys(uri, (o.flags & DS_HASH_USER_ONLY) !== 0);
        if (!k) return undefined;
        h = k.y === undefined ? dsHashWire(k.x) : dsHashWire(k.x, k.y);
        break;
      }
      case DS_ALG.ROUNDROBIN:
        h = st.advanceLast(slot);
        vlast = (h + 1) % n;
        ulast = true;
        break;
      case DS_ALG.HASHAUTHUSER: {
        const user = authHashKey(input.proxyAuthorization, input.authorization);
        if (user === undefined) {
          h = st.advanceLast(slot); // no credentials: round-robin on the shared cursor
          vlast = (h + 1) % n;
          ulast = true;
        } else {
          h = dsHashWire(user);
        }
        break;
      }
      case DS_ALG.RANDOM:
        h = this.random() >>> 0;
        break;
      case DS_ALG.HASHPV: {
        if (input.hashPv === undefined) return undefined;
        const v = trimLws(input.hashPv);
        if (v.length === 0) return undefined;
        h = dsHashWire(v);
        break;
      }
      case DS_ALG.SERIAL:
        h = 0;
        break;
      case DS_ALG.WEIGHT:
        h = st.nextWeight(slot);
        break;
      case DS_ALG.CALLLOAD: {
        callId = trimLws(input.callId);
        if (!input.isInvite || o.xavpDst.length === 0) {
          // only INVITE starts a call; without xavp_dst: first entry
          h = 0;
          eff = DS_ALG.HASHCALLID;
          break;
        }
        const j = this.leastLoaded(slot, base, n);
        if (j < 0) return undefined;
        h = j;
        if (!this.loadAdd(callId, setId, base + j)) eff = DS_ALG.HASHCALLID; // "unable to update destination load - classic dispatching"
        break;
      }
      case DS_ALG.RELWEIGHT:
        h = st.nextRelativeWeight(slot);
        break;
      case DS_ALG.PARALLEL:
        h = 0;
        break;
      case DS_ALG.LATENCY: {
        const r = this.algo13(slot, base, n, lim);
        recs = r.recs;
        cnt = recs.length;
        if (r.h < 0) return undefined;
        h = r.h;
        filled = true;
        break;
      }
      default:
        h = 0; // "algo N not implemented - using first entry"
        break;
    }

    // §3 steps 3-4: start index, next-in-list
    const m = o.useDefault && n !== 1 ? n - 1 : n;
    h = (h >>> 0) % m;
    let i = h;
    if (!filled) {
      while (dsSkipDst(st.flags(base + i))) {
        i = (i + 1) % m;
        if (i === h) {
          if (!o.useDefault) return undefined;
          i = n - 1;
          if (dsSkipDst(st.flags(base + i))) return undefined;
          break;
        }
      }
    }
    const chosen = i;
    if (ulast) st.fixLast(slot, vlast, chosen);

    const sel: DsSelection = {
      setId,
      alg: eff,
      du: this.recPlain[base + chosen]!.uri,
      dstIndex: base + chosen,
      sock: this.socks[base + chosen],
      records: recs,
      cnt: undefined,
      branches: alg === DS_ALG.PARALLEL ? [] : NO_BRANCHES,
      branchIndexes: alg === DS_ALG.PARALLEL ? [] : NO_BRANCH_INDEXES,
      callId: callId.length > 0 ? callId : trimLws(input.callId),
    };

    if (eff === DS_ALG.PARALLEL) {
      // (alg 12 is never downgraded, so its selection owns fresh branch arrays)
      for (let j = chosen + 1; j < n; j++) {
        sel.branches.push(this.recPlain[base + j]!.uri);
        sel.branchIndexes.push(base + j);
      }
      return this.finish(sel, 0, prior);
    }

    if ((o.flags & DS_FAILOVER_ON) === 0 || o.xavpDst.length === 0) return this.finish(sel, cnt, prior);

    if (!filled) {
      // ds_manage_routes_fill_xavp(): selected, then chosen+1..N-1, then 0..chosen-1
      const withLoad = eff === DS_ALG.CALLLOAD;
      if (!this.pushRecord(recs, base + chosen, withLoad)) return undefined;
      for (let j = chosen + 1; j < n && recs.length < lim; j++) {
        if (this.failoverSkip(base, n, j, withLoad)) continue;
        if (!this.pushRecord(recs, base + j, withLoad)) return undefined;
      }
      for (let j = 0; j < chosen && recs.length < lim; j++) {
        if (this.failoverSkip(base, n, j, withLoad)) continue;
        if (!this.pushRecord(recs, base + j, withLoad)) return undefined;
      }
    }
    if (o.useDefault && chosen !== n - 1 && recs.length < lim) {
      // the default (last) destination goes last, whatever its state
      if (!this.pushRecord(recs, base + n - 1, eff === DS_ALG.CALLLOAD)) return undefined;
    }
    return this.finish(sel, recs.length, prior);
  }

  private finish(sel: DsSelection, cnt: number, prior: readonly DsRecord[] | undefined): DsSelection {
    (sel as { cnt: number | undefined }).cnt = this.opts.xavpCtxMode & DS_XAVP_CTX_SKIP_CNT ? undefined : cnt;
    if (prior && prior.length > 0) for (const r of prior) sel.records.push(r);
    return sel;
  }

  /** Skipped, the use_default entry, or (alg 10) at maxload. */
  private failoverSkip(base: number, n: number, j: number, withLoad: boolean): boolean {
    const i = base + j;
    if (dsSkipDst(this.state.flags(i)) || (this.opts.useDefault && j === n - 1)) return true;
    if (withLoad) {
      const maxload = this.state.destination(i).parsedAttrs.maxload;
      if (maxload !== 0 && this.state.dload(i) >= maxload) return true;
    }
    return false;
  }

  /** `ds_add_xavp_record()`; false when alg 10 meets a destination without duid. */
  private pushRecord(recs: DsRecord[], i: number, withLoad: boolean): boolean {
    const rec = withLoad ? this.recLoad[i] : this.recPlain[i];
    if (!rec) return false;
    recs.push(rec);
    return true;
  }

  /**
   * `ds_load_add()` for a selection of this dispatcher: needs a table and a
   * duid; a Call-ID already in the table fails. Uses this dispatcher's state
   * (not the table's current target) so a selection never counts against
   * another list.
   */
  private loadAdd(callId: string, setId: number, i: number): boolean {
    const duid = this.state.destination(i).parsedAttrs.duid;
    if (!this.callLoad || duid === null || duid.length === 0) return false;
    if (this.callLoad.add(callId, duid, setId) < 0) return false;
    this.state.incLoad(i);
    return true;
  }

  /** `ds_get_leastloaded()`: smallest dload among usable ones, ties -> lowest index; -1 none. */
  private leastLoaded(slot: number, base: number, n: number): number {
    const st = this.state;
    let k = -1;
    let t = 0x7fffffff;
    st.lockSlot(slot);
    try {
      for (let j = 0; j < n; j++) {
        const i = base + j;
        if (dsSkipDst(st.flags(i))) continue;
        const maxload = st.destination(i).parsedAttrs.maxload;
        const load = st.dload(i);
        if ((maxload === 0 || load < maxload) && load < t) {
          k = j;
          t = load;
        }
      }
    } finally {
      st.unlockSlot(slot);
    }
    return k;
  }

  /**
   * `ds_manage_route_algo13()`: from `last`, rpriority = priority -
   * latency/priority (latency > priority > 0, floor 1), skipped ones -1;
   * stable bubble sort descending; records in that order (failover on);
   * `last = (first + 1) mod N`. h = -1 when all are skipped.
   */
  private algo13(slot: number, base: number, n: number, lim: number): { h: number; recs: DsRecord[] } {
    const st = this.state;
    const o = this.opts;
    const idx = new Int32Array(n);
    const prio = new Int32Array(n);
    const flg = new Int32Array(n);
    const recs: DsRecord[] = [];
    let h: number;
    st.lockSlot(slot);
    try {
      let z = st.lastLocked(slot);
      for (let y = 0; y < n; y++) {
        const i = base + z;
        const d = st.destination(i);
        const priority = d.priority;
        let latency = Math.trunc(st.latencyEstimate(i));
        if (d.parsedAttrs.cc) latency = Math.trunc(st.latencyEstimate(i) - st.latencyAverage(i));
        const f = st.flags(i);
        if (!dsSkipDst(f)) {
          const handicap = latency > priority && priority > 0 ? Math.trunc(latency / priority) : 0;
          let rp = priority - handicap;
          if (rp < 1 && priority > 0) rp = 1;
          st.setRpriority(i, rp);
          idx[y] = z;
          prio[y] = rp;
        } else {
          idx[y] = -1;
          prio[y] = -1;
        }
        flg[y] = f;
        z = o.useDefault && n !== 1 ? (z + 1) % (n - 1) : (z + 1) % n;
      }
      // ds_sorted_by_priority(): n passes of adjacent swaps when strictly smaller
      for (let a = 0; a < n; a++) {
        for (let b = 1; b < n; b++) {
          if (prio[b - 1]! < prio[b]!) {
            const ti = idx[b]!, tp = prio[b]!, tf = flg[b]!;
            idx[b] = idx[b - 1]!;
            prio[b] = prio[b - 1]!;
            flg[b] = flg[b - 1]!;
            idx[b - 1] = ti;
            prio[b - 1] = tp;
            flg[b - 1] = tf;
          }
        }
      }
      h = idx[0]!;
      if (o.flags & DS_FAILOVER_ON) {
        for (let y = 0; y < n && recs.length < lim; y++) {
          const j = idx[y]!;
          if (j < 0 || dsSkipDst(flg[y]!) || (o.useDefault && j === n - 1)) continue;
          recs.push(this.recPlain[base + j]!);
        }
      }
      st.setLastLocked(slot, (((h + 1) % n) + n) % n);
    } finally {
      st.unlockSlot(slot);
    }
    return { h, recs };
  }

  /**
   * `ds_next_dst()`: drops the head record (the destination that failed) and
   * moves `$du` to the new head. Undefined when failover is off, there is no
   * record, or none remains (the head is still dropped). alg 10 records move
   * the call's load to the new duid; a record whose duid left the list is
   * skipped; if the load cannot be moved at all the result is undefined
   * although `du` already changed (Kamailio returns false after setting $du).
   */
  next(sel: DsSelection): string | undefined {
    if ((this.opts.flags & DS_FAILOVER_ON) === 0 || this.opts.xavpDst.length === 0) return undefined;
    for (;;) {
      if (sel.records.length === 0) return undefined;
      sel.records.shift();
      const head = sel.records[0];
      if (!head) return undefined;
      sel.du = head.uri;
      sel.dstIndex = head.dstIndex;
      sel.sock = head.sock;
      if (head.dstid === undefined) return head.uri;
      const r = this.callLoad ? this.callLoad.loadReplace(sel.callId, head.dstid) : -1;
      if (r === 0) return head.uri;
      if (r === -2) continue;
      return undefined;
    }
  }

  /** `ds_set_dst()`: `$du` from the head record without removing it. */
  current(sel: DsSelection): string | undefined {
    const head = sel.records[0];
    if (!head) return undefined;
    sel.du = head.uri;
    sel.dstIndex = head.dstIndex;
    sel.sock = head.sock;
    return head.uri;
  }

  /**
   * `ds_mark_dst([state])`: applies `updateState()` (§7.5) to the head
   * record's destination (found by grp + case-insensitive URI in this list).
   * No state: INACTIVE, plus PROBING with `ds_probing_mode` 1. Undefined when
   * failover is off, no record, unknown set or URI.
   */
  markDst(records: readonly DsRecord[], state?: number): DsStateChange | undefined {
    if ((this.opts.flags & DS_FAILOVER_ON) === 0 || this.opts.xavpDst.length === 0) return undefined;
    const head = records[0];
    if (!head) return undefined;
    const i = this.state.findUri(head.grp, head.uri);
    if (i < 0) return undefined;
    const s = state ?? DS_INACTIVE_DST | (this.opts.probingMode === 1 ? DS_PROBING_DST : 0);
    return this.state.updateState(i, s, { probingThreshold: this.opts.probingThreshold, inactiveThreshold: this.opts.inactiveThreshold });
  }

  /** `ds_list_exists(set)`. */
  listExists(setId: number): boolean {
    return this.state.setSlot(setId) >= 0;
  }

  /** `ds_is_active(set[, uri])`: any non-skipped destination, or that exact URI (case-sensitive) non-skipped. */
  isActive(setId: number, uri?: string): boolean {
    const slot = this.state.setSlot(setId);
    if (slot < 0) return false;
    const base = this.state.slotBase(slot);
    const n = this.state.slotSize(slot);
    for (let j = 0; j < n; j++) {
      if (dsSkipDst(this.state.flags(base + j))) continue;
      if (uri === undefined || uri.length === 0 || this.recPlain[base + j]!.uri === uri) return true;
    }
    return false;
  }

  /** The send socket of destination `i`. */
  socketOf(i: number): DsSocketRef | undefined {
    return this.socks[i];
  }

  /** The plain record of destination `i` (what the failover list would hold). */
  recordOf(i: number): DsRecord {
    const r = this.recPlain[i];
    if (!r) throw new RangeError(`destination index ${i} out of range`);
    return r;
  }

  // -------------------------------------------------------------------------
  // DsLoadTarget (call-load.ts)

  /** @internal */
  loadHasSet(setId: number): boolean {
    return this.state.setSlot(setId) >= 0;
  }

  /** @internal `ds_load_remove_byid()` scan: first duid match, case-insensitive. */
  loadFind(setId: number, duid: string): number {
    const slot = this.state.setSlot(setId);
    if (slot < 0) return -1;
    const base = this.state.slotBase(slot);
    const n = this.state.slotSize(slot);
    const want = duid.toLowerCase();
    for (let j = 0; j < n; j++) {
      const d = this.state.destination(base + j).parsedAttrs.duid;
      if (d !== null && d.length === duid.length && d.toLowerCase() === want) return base + j;
    }
    return -1;
  }

  /** @internal `ds_load_replace()` scan. */
  loadFindPair(setId: number, oldDuid: string, newDuid: string): { old: number; new: number } {
    const out = { old: -1, new: -1 };
    const slot = this.state.setSlot(setId);
    if (slot < 0) return out;
    const base = this.state.slotBase(slot);
    const n = this.state.slotSize(slot);
    const o = oldDuid.toLowerCase();
    const w = newDuid.toLowerCase();
    for (let j = 0; j < n; j++) {
      const d = this.state.destination(base + j).parsedAttrs.duid ?? '';
      const dl = d.toLowerCase();
      if (d.length === oldDuid.length && dl === o) {
        out.old = base + j;
        if (out.new !== -1) break;
      }
      if (d.length === newDuid.length && dl === w) {
        out.new = base + j;
        if (out.old !== -1) break;
      }
    }
    return out;
  }

  /** @internal */
  loadDuid(index: number): string {
    return this.state.destination(index).parsedAttrs.duid ?? '';
  }

  /** @internal */
  loadInc(index: number): void {
    this.state.incLoad(index);
  }

  /** @internal */
  loadDec(index: number): void {
    this.state.decLoad(index);
  }
}
