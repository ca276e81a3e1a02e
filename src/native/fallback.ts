/**
 * Pure-TypeScript port of the SIP scanner in native/parser.cc (and of the
 * argument checks of native/addon.cc). Same signature, same return codes and
 * the same values in every output slot as the addon, so the engine can run
 * without it (SWITCHYARD_NO_NATIVE=1, or no compiled addon) and so the two
 * can be tested against each other (test/native/fallback.test.ts).
 *
 * It works on byte offsets into the caller's Uint8Array: no strings, no
 * regular expressions, no allocation per message. Where native/parser.cc
 * takes a pointer, this file takes an absolute index into the buffer, and
 * nullptr is -1. Any change to parser.cc must be mirrored here.
 */
import { types } from 'node:util';

import { coreCaseHashBytes, dsGetHashBytes } from './hash';
import { BUCKETS, DEFAULT_LIMITS, E, E_SIZE, EntryType, FIXED, MAX_ENTRIES, Method, NONE, ParseError, S, STRIDE } from './layout';
import type { SipScanner } from './index';

// ---------------------------------------------------------------------------
// Character classes (parser.cc: kToken, is_ws, is_lws, is_digit, lower).

/** RFC 3261 token characters: alphanum and -.!%*_+`'~ */
const TOKEN = new Uint8Array(256);
/** Via sent-by host characters: token minus !%*+`'~ (alphanum, '-', '.', '_'). */
const HOST = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
for (const ch of "-.!%*_+`'~") TOKEN[ch.charCodeAt(0)] = 1;
HOST.set(TOKEN);
for (const ch of "!%*+`'~") HOST[ch.charCodeAt(0)] = 0;

const SP = 0x20;
const HT = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const DQUOTE = 0x22;
const STAR = 0x2a;
const COMMA = 0x2c;
const DOT = 0x2e;
const SLASH = 0x2f;
const COLON = 0x3a;
const SEMI = 0x3b;
const LT = 0x3c;
const EQ = 0x3d;
const GT = 0x3e;
const QMARK = 0x3f;
const AT = 0x40;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const DEL = 0x7f;

const isWs = (c: number): boolean => c === SP || c === HT;
const isLws = (c: number): boolean => c === SP || c === HT || c === CR || c === LF;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

const lit = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

/** Case-insensitive compare of b[p, p+n) with a lowercase literal. */
function eqi(b: Uint8Array, p: number, n: number, l: Uint8Array): boolean {
  if (n !== l.length) return false;
  for (let i = 0; i < n; i++) if (lower(b[p + i]!) !== l[i]) return false;
  return true;
}

/** Case-sensitive compare of b[p, p+n) with a literal. */
function eq(b: Uint8Array, p: number, n: number, l: Uint8Array): boolean {
  if (n !== l.length) return false;
  for (let i = 0; i < n; i++) if (b[p + i] !== l[i]) return false;
  return true;
}

/** memchr: first index of `c` in b[p, e), or -1. */
function find(b: Uint8Array, c: number, p: number, e: number): number {
  for (; p < e; p++) if (b[p] === c) return p;
  return -1;
}

function skipLws(b: Uint8Array, p: number, e: number): number {
  while (p < e && isLws(b[p]!)) p++;
  return p;
}

function rtrimLws(b: Uint8Array, s: number, e: number): number {
  while (e > s && isLws(b[e - 1]!)) e--;
  return e;
}

/** Position after the closing quote of the quoted-string opening at p, or -1. */
function skipQuoted(b: Uint8Array, p: number, e: number): number {
  p++;
  while (p < e) {
    const c = b[p];
    if (c === BACKSLASH) {
      if (p + 1 >= e) return -1;
      p += 2;
    } else if (c === DQUOTE) {
      return p + 1;
    } else {
      p++;
    }
  }
  return -1;
}

/** End of one comma-separated value at depth 0; -1 on an unbalanced quote. */
function valueEnd(b: Uint8Array, p: number, e: number): number {
  let inAngle = false;
  while (p < e) {
    const c = b[p];
    if (c === DQUOTE) {
      p = skipQuoted(b, p, e);
      if (p < 0) return -1;
      continue;
    }
    if (c === LT) inAngle = true;
    else if (c === GT) inAngle = false;
    else if (c === COMMA && !inAngle) return p;
    p++;
  }
  return e;
}

/** True when the URI b[u, ue) carries the `lr` parameter (RFC 3261 §19.1.1). */
/** Start of the host part of URI b[u, ue): after the last '@', else u. */
function hostPart(b: Uint8Array, u: number, ue: number): number {
  let h = u;
  for (let p = u; p < ue; p++) if (b[p] === AT) h = p + 1;
  return h;
}

function uriHasLr(b: Uint8Array, u: number, ue: number): boolean {
  // Parameters follow the host part: the user part (before the last '@') may hold ';' and '?'.
  const h = hostPart(b, u, ue);
  const q = find(b, QMARK, h, ue);
  if (q >= 0) ue = q;
  let p = h;
  while (p < ue) {
    const semi = find(b, SEMI, p, ue);
    if (semi < 0) return false;
    p = semi + 1;
    if (ue - p >= 2 && lower(b[p]!) === 0x6c && lower(b[p + 1]!) === 0x72 && (p + 2 === ue || b[p + 2] === SEMI || b[p + 2] === EQ))
      return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Header names and methods.

const enum Hdr {
  OTHER,
  VIA,
  FROM,
  TO,
  CALLID,
  CSEQ,
  MAXFWD,
  ROUTE,
  RR,
  CONTACT,
  CL,
  CT,
}

const L_TO = lit('to');
const L_VIA = lit('via');
const L_FROM = lit('from');
const L_CSEQ = lit('cseq');
const L_ROUTE = lit('route');
const L_CALLID = lit('call-id');
const L_CONTACT = lit('contact');
const L_MAXFWD = lit('max-forwards');
const L_CT = lit('content-type');
const L_RR = lit('record-route');
const L_CL = lit('content-length');
const L_SIP = lit('sip/');
const L_VERSION = lit('sip/2.0');
const L_BRANCH = lit('branch');
const L_RECEIVED = lit('received');
const L_RPORT = lit('rport');
const L_TAG = lit('tag');

function headerId(b: Uint8Array, p: number, n: number): Hdr {
  switch (n) {
    case 1:
      switch (lower(b[p]!)) {
        case 0x76: return Hdr.VIA; // v
        case 0x66: return Hdr.FROM; // f
        case 0x74: return Hdr.TO; // t
        case 0x69: return Hdr.CALLID; // i
        case 0x6d: return Hdr.CONTACT; // m
        case 0x6c: return Hdr.CL; // l
        case 0x63: return Hdr.CT; // c
        default: return Hdr.OTHER;
      }
    case 2: return eqi(b, p, n, L_TO) ? Hdr.TO : Hdr.OTHER;
    case 3: return eqi(b, p, n, L_VIA) ? Hdr.VIA : Hdr.OTHER;
    case 4:
      if (eqi(b, p, n, L_FROM)) return Hdr.FROM;
      if (eqi(b, p, n, L_CSEQ)) return Hdr.CSEQ;
      return Hdr.OTHER;
    case 5: return eqi(b, p, n, L_ROUTE) ? Hdr.ROUTE : Hdr.OTHER;
    case 7:
      if (eqi(b, p, n, L_CALLID)) return Hdr.CALLID;
      if (eqi(b, p, n, L_CONTACT)) return Hdr.CONTACT;
      return Hdr.OTHER;
    case 12:
      if (eqi(b, p, n, L_MAXFWD)) return Hdr.MAXFWD;
      if (eqi(b, p, n, L_CT)) return Hdr.CT;
      if (eqi(b, p, n, L_RR)) return Hdr.RR;
      return Hdr.OTHER;
    case 14: return eqi(b, p, n, L_CL) ? Hdr.CL : Hdr.OTHER;
    default: return Hdr.OTHER;
  }
}

const M_ACK = lit('ACK');
const M_BYE = lit('BYE');
const M_INFO = lit('INFO');
const M_KDMQ = lit('KDMQ');
const M_PRACK = lit('PRACK');
const M_REFER = lit('REFER');
const M_INVITE = lit('INVITE');
const M_CANCEL = lit('CANCEL');
const M_NOTIFY = lit('NOTIFY');
const M_UPDATE = lit('UPDATE');
const M_OPTIONS = lit('OPTIONS');
const M_PUBLISH = lit('PUBLISH');
const M_MESSAGE = lit('MESSAGE');
const M_REGISTER = lit('REGISTER');
const M_SUBSCRIBE = lit('SUBSCRIBE');

/** Method id of the token b[p, p+n) (case-sensitive, RFC 3261 §7.1). */
function methodId(b: Uint8Array, p: number, n: number): number {
  switch (n) {
    case 3:
      if (eq(b, p, n, M_ACK)) return Method.ACK;
      if (eq(b, p, n, M_BYE)) return Method.BYE;
      break;
    case 4:
      if (eq(b, p, n, M_INFO)) return Method.INFO;
      if (eq(b, p, n, M_KDMQ)) return Method.KDMQ;
      break;
    case 5:
      if (eq(b, p, n, M_PRACK)) return Method.PRACK;
      if (eq(b, p, n, M_REFER)) return Method.REFER;
      break;
    case 6:
      if (eq(b, p, n, M_INVITE)) return Method.INVITE;
      if (eq(b, p, n, M_CANCEL)) return Method.CANCEL;
      if (eq(b, p, n, M_NOTIFY)) return Method.NOTIFY;
      if (eq(b, p, n, M_UPDATE)) return Method.UPDATE;
      break;
    case 7:
      if (eq(b, p, n, M_OPTIONS)) return Method.OPTIONS;
      if (eq(b, p, n, M_PUBLISH)) return Method.PUBLISH;
      if (eq(b, p, n, M_MESSAGE)) return Method.MESSAGE;
      break;
    case 8:
      if (eq(b, p, n, M_REGISTER)) return Method.REGISTER;
      break;
    case 9:
      if (eq(b, p, n, M_SUBSCRIBE)) return Method.SUBSCRIBE;
      break;
    default:
      break;
  }
  return Method.OTHER;
}

// ---------------------------------------------------------------------------
// Error codes and slots, read once.

const E_EMPTY = ParseError.EMPTY;
const E_BAD_START_LINE = ParseError.BAD_START_LINE;
const E_BAD_VERSION = ParseError.BAD_VERSION;
const E_BAD_STATUS = ParseError.BAD_STATUS;
const E_MISSING_VIA = ParseError.MISSING_VIA;
const E_MISSING_FROM = ParseError.MISSING_FROM;
const E_MISSING_TO = ParseError.MISSING_TO;
const E_MISSING_CALLID = ParseError.MISSING_CALLID;
const E_MISSING_CSEQ = ParseError.MISSING_CSEQ;
const E_CSEQ_MISMATCH = ParseError.CSEQ_MISMATCH;
const E_BAD_CSEQ = ParseError.BAD_CSEQ;
const E_BAD_CONTENT_LENGTH = ParseError.BAD_CONTENT_LENGTH;
const E_TOO_MANY_HEADERS = ParseError.TOO_MANY_HEADERS;
const E_HEADER_TOO_LONG = ParseError.HEADER_TOO_LONG;
const E_MESSAGE_TOO_LONG = ParseError.MESSAGE_TOO_LONG;
const E_NUL_BYTE = ParseError.NUL_BYTE;
const E_BAD_LINE_ENDING = ParseError.BAD_LINE_ENDING;
const E_BAD_HEADER = ParseError.BAD_HEADER;
const E_NO_HEADER_END = ParseError.NO_HEADER_END;
const E_BAD_VIA = ParseError.BAD_VIA;
const E_BAD_FROM = ParseError.BAD_FROM;
const E_BAD_TO = ParseError.BAD_TO;
const E_BAD_MAX_FORWARDS = ParseError.BAD_MAX_FORWARDS;
const E_TOO_MANY_VALUES = ParseError.TOO_MANY_VALUES;
const E_BAD_CALLID = ParseError.BAD_CALLID;
const E_DUPLICATE_HEADER = ParseError.DUPLICATE_HEADER;
const E_BAD_CONTACT = ParseError.BAD_CONTACT;
const E_BAD_ROUTE = ParseError.BAD_ROUTE;
const E_ARGS = ParseError.ARGS;

/** Fixed slots set to NONE before a scan (parser.cc: none_slots). */
const NONE_SLOTS = [
  S.METHOD_OFF, S.RURI_OFF, S.REASON_OFF, S.FROM_OFF, S.FROM_URI_OFF, S.FROM_TAG_OFF, S.TO_OFF, S.TO_URI_OFF,
  S.TO_TAG_OFF, S.CALLID_OFF, S.CSEQ_METHOD_OFF, S.MAXFWD, S.MAXFWD_OFF, S.CONTACT_OFF, S.CONTACT_URI_OFF, S.CL,
  S.CT_OFF, S.ERROR_AT,
];

const EMPTY8 = new Uint8Array(0);
const EMPTY32 = new Uint32Array(0);

/** The addon's u32(): a number through ToUint32 (NaN/Infinity -> 0), anything else NONE. */
const u32 = (v: unknown): number => (typeof v === 'number' ? v >>> 0 : NONE);

// ---------------------------------------------------------------------------
// The scanner (parser.cc: class Scanner). One instance, reused; the buffer
// and output array are set per call and dropped afterwards.

class Scanner {
  /** Scanned buffer. */
  private b: Uint8Array = EMPTY8;
  /** Output array and the index of this message's slot 0 in it. */
  private o: Uint32Array = EMPTY32;
  private a = 0;

  // Limits (native Instance::limits), per scanner instance.
  maxMessage: number = DEFAULT_LIMITS.maxMessage;
  maxHeaders: number = DEFAULT_LIMITS.maxHeaders;
  maxHeaderLine: number = DEFAULT_LIMITS.maxHeaderLine;

  // parse_addr() results (struct Addr).
  private uri = -1;
  private uriEnd = -1;
  private tag = -1;
  private tagEnd = -1;
  private star = false;

  // parse_uint() results: the value and where the digits stopped.
  private nv = 0;
  private np = 0;

  scan(b: Uint8Array, off: number, len: number, o: Uint32Array, at: number): number {
    this.b = b;
    this.o = o;
    this.a = at;
    const r = this.run(off, len);
    this.b = EMPTY8; // do not keep the caller's buffers alive
    this.o = EMPTY32;
    return r;
  }

  private range(slot: number, s: number, e: number): void {
    const i = this.a + slot;
    this.o[i] = s;
    this.o[i + 1] = e - s;
  }

  private fail(err: number, at: number): number {
    this.o[this.a + S.ERROR] = err;
    this.o[this.a + S.ERROR_AT] = at < 0 ? NONE : at;
    return -err;
  }

  /** Index of the new entry's slot 0 in `o`, or -1 when the entries are full. */
  private newEntry(type: number, line: number, lineEnd: number): number {
    const o = this.o;
    const a = this.a;
    const n = o[a + S.ENTRY_COUNT]!;
    if (n >= MAX_ENTRIES) return -1;
    o[a + S.ENTRY_COUNT] = n + 1;
    const en = a + FIXED + n * E_SIZE;
    o.fill(NONE, en, en + E_SIZE);
    o[en + E.TYPE] = type;
    o[en + E.LINE_OFF] = line;
    o[en + E.LINE_END] = lineEnd;
    return en;
  }

  /** Decimal digits at p into this.nv (this.np: where they stop); false on none or > max. */
  private parseUint(p: number, e: number, max: number): boolean {
    const b = this.b;
    const s = p;
    let acc = 0;
    while (p < e) {
      const c = b[p]!;
      if (c < 0x30 || c > 0x39) break;
      acc = acc * 10 + (c - 0x30);
      if (acc > max) {
        this.np = p;
        return false;
      }
      p++;
    }
    this.np = p;
    if (p === s) return false;
    this.nv = acc;
    return true;
  }

  /** RFC 3261 §20.10 / §25.1 name-addr or addr-spec, then ;params (parser.cc: parse_addr). */
  /** find_line(): the line at p ends at lineCe (its CR or LF) / lineNl (its LF); or the first NUL, bare CR or missing LF fails. */
  private lineCe = 0;
  private lineNl = 0;
  private findLine(p: number, end: number): number {
    const b = this.b;
    let q = p;
    while (q < end) {
      const c = b[q]!;
      if (c > CR || (c !== 0 && c !== CR && c !== LF)) {
        q++;
        continue;
      }
      break;
    }
    if (q === end) return this.fail(E_NO_HEADER_END, p);
    const c = b[q]!;
    if (c === LF) {
      this.lineCe = q;
      this.lineNl = q;
      return 0;
    }
    if (c === CR) {
      if (q + 1 < end && b[q + 1] === LF) {
        this.lineCe = q;
        this.lineNl = q + 1;
        return 0;
      }
      return this.fail(q + 1 === end ? E_NO_HEADER_END : E_BAD_LINE_ENDING, q);
    }
    return this.fail(E_NUL_BYTE, q);
  }

  private parseAddr(s: number, e: number): boolean {
    const b = this.b;
    this.uri = -1;
    this.uriEnd = -1;
    this.tag = -1;
    this.tagEnd = -1;
    this.star = false;
    s = skipLws(b, s, e);
    e = rtrimLws(b, s, e);
    if (s >= e) return false;
    let p = s;
    let addrSpec = false;
    if (b[p] === DQUOTE) {
      p = skipQuoted(b, p, e);
      if (p < 0) return false;
      p = skipLws(b, p, e);
      if (p >= e || b[p] !== LT) return false;
    } else {
      // Token display name (tokens and LWS) before '<', or an addr-spec.
      let q = p;
      while (q < e) {
        const c = b[q];
        if (c === LT || c === SEMI || c === COMMA) break;
        q++;
      }
      if (q < e && b[q] === LT) {
        for (let d = p; d < q; d++) {
          const c = b[d]!;
          if (!TOKEN[c] && !isLws(c)) return false;
        }
        p = q;
      } else {
        // addr-spec: the URI runs to the first ';' (header params follow).
        const ue = rtrimLws(b, p, q);
        if (ue === p) return false;
        for (let d = p; d < ue; d++) {
          const c = b[d]!;
          if (isLws(c) || c === GT || c === DQUOTE) return false;
        }
        if (find(b, QMARK, hostPart(b, p, ue), ue) >= 0) return false;
        if (ue - p === 1 && b[p] === STAR) {
          this.star = true;
        } else if (find(b, COLON, p, ue) < 0) {
          return false;
        }
        this.uri = p;
        this.uriEnd = ue;
        p = q;
        addrSpec = true;
      }
    }
    if (!addrSpec) {
      // p at '<'
      // One pass to '>': no LWS, '<' or '"' inside the brackets.
      const us = p + 1;
      let gt = us;
      while (gt < e) {
        const c = b[gt]!;
        if (c === GT || c === LT || c === DQUOTE || isLws(c)) break;
        gt++;
      }
      if (gt >= e || b[gt] !== GT) return false;
      const ue = gt;
      if (us === ue || find(b, COLON, us, ue) < 0) return false;
      this.uri = us;
      this.uriEnd = ue;
      p = skipLws(b, gt + 1, e);
      if (p < e && b[p] !== SEMI) return false;
    }
    // params
    while (p < e) {
      p = skipLws(b, p, e);
      if (p >= e) break;
      if (b[p] !== SEMI) return false;
      p = skipLws(b, p + 1, e);
      const n = p;
      while (p < e && TOKEN[b[p]!]) p++;
      if (p === n) return false;
      const ne = p;
      p = skipLws(b, p, e);
      let v = -1;
      let ve = -1;
      if (p < e && b[p] === EQ) {
        p = skipLws(b, p + 1, e);
        v = p;
        if (p < e && b[p] === DQUOTE) {
          p = skipQuoted(b, p, e);
          if (p < 0) return false;
        } else if (p < e && b[p] === LBRACKET) {
          const rb = find(b, RBRACKET, p, e);
          if (rb < 0) return false;
          p = rb + 1;
        } else {
          while (p < e && TOKEN[b[p]!]) p++;
        }
        ve = p;
        if (v === ve) return false;
      }
      if (v >= 0 && eqi(b, n, ne - n, L_TAG)) {
        this.tag = v;
        this.tagEnd = ve;
      }
    }
    return true;
  }

  private startLine(s: number, e: number): number {
    const b = this.b;
    const o = this.o;
    const a = this.a;
    if (e - s >= 4 && eqi(b, s, 4, L_SIP)) {
      // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
      const sp = find(b, SP, s, e);
      if (sp < 0) return this.fail(E_BAD_START_LINE, s);
      if (!eqi(b, s, sp - s, L_VERSION)) return this.fail(E_BAD_VERSION, s);
      o[a + S.KIND] = 2;
      const c = sp + 1;
      if (e - c < 3 || !isDigit(b[c]!) || !isDigit(b[c + 1]!) || !isDigit(b[c + 2]!) || (e - c > 3 && b[c + 3] !== SP))
        return this.fail(E_BAD_STATUS, c);
      const code = (b[c]! - 0x30) * 100 + (b[c + 1]! - 0x30) * 10 + (b[c + 2]! - 0x30);
      if (code < 100 || code > 699) return this.fail(E_BAD_STATUS, c);
      o[a + S.STATUS] = code;
      const r = c + 3 < e ? c + 4 : e;
      this.range(S.REASON_OFF, r, e);
      return 0;
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let p = s;
    while (p < e && TOKEN[b[p]!]) p++;
    if (p === s || p >= e || b[p] !== SP) return this.fail(E_BAD_START_LINE, p);
    o[a + S.KIND] = 1;
    this.range(S.METHOD_OFF, s, p);
    o[a + S.METHOD] = methodId(b, s, p - s);
    const u = p + 1;
    let q = u;
    while (q < e) {
      const c = b[q]!;
      if (c <= SP || c === DEL) break;
      q++;
    }
    // No URI headers ('?') in a Request-URI (RFC 4475 §3.1.2.13).
    if (q === u || q >= e || b[q] !== SP || b[u] === LT || find(b, COLON, u, q) < 0 || find(b, QMARK, hostPart(b, u, q), q) >= 0)
      return this.fail(E_BAD_START_LINE, u);
    this.range(S.RURI_OFF, u, q);
    const ver = q + 1;
    if (eqi(b, ver, e - ver, L_VERSION)) return 0;
    if (e - ver >= 4 && eqi(b, ver, 4, L_SIP)) {
      // "SIP/2.0 " (trailing whitespace) is a bad start line, "SIP/7.0" a bad version.
      let t = ver + 4;
      while (t < e && (isDigit(b[t]!) || b[t] === DOT)) t++;
      if (t === e) return this.fail(E_BAD_VERSION, ver);
    }
    return this.fail(E_BAD_START_LINE, ver);
  }

  private via(line: number, v: number, ve: number, lineEnd: number): number {
    const b = this.b;
    const o = this.o;
    let p = v;
    for (;;) {
      const s = skipLws(b, p, ve);
      const e = valueEnd(b, s, ve);
      if (e < 0) return this.fail(E_BAD_VIA, s);
      const te = rtrimLws(b, s, e);
      if (s === te) return this.fail(E_BAD_VIA, s);
      const en = this.newEntry(EntryType.VIA, line, lineEnd);
      if (en < 0) return this.fail(E_TOO_MANY_VALUES, s);
      o[en + E.VAL_OFF] = s;
      o[en + E.VAL_LEN] = te - s;
      // sent-protocol = protocol-name SLASH protocol-version SLASH transport (LWS allowed around '/')
      let q = s;
      for (let part = 0; part < 3; part++) {
        q = skipLws(b, q, te);
        const t = q;
        while (q < te && TOKEN[b[q]!]) q++;
        if (q === t) return this.fail(E_BAD_VIA, q);
        if (part === 2) {
          o[en + E.VIA_TRANSPORT_OFF] = t;
          o[en + E.VIA_TRANSPORT_LEN] = q - t;
          break;
        }
        q = skipLws(b, q, te);
        if (q >= te || b[q] !== SLASH) return this.fail(E_BAD_VIA, q);
        q++;
      }
      // sent-by = host [ COLON port ]
      const h0 = q;
      q = skipLws(b, q, te);
      if (q === h0 || q >= te) return this.fail(E_BAD_VIA, q);
      const h = q;
      if (b[q] === LBRACKET) {
        const rb = find(b, RBRACKET, q, te);
        if (rb < 0) return this.fail(E_BAD_VIA, q);
        q = rb + 1;
      } else {
        while (q < te && HOST[b[q]!]) q++;
      }
      if (q === h) return this.fail(E_BAD_VIA, q);
      o[en + E.VIA_HOST_OFF] = h;
      o[en + E.VIA_HOST_LEN] = q - h;
      o[en + E.VIA_PORT] = 0;
      q = skipLws(b, q, te);
      if (q < te && b[q] === COLON) {
        q = skipLws(b, q + 1, te);
        if (!this.parseUint(q, te, 65535)) return this.fail(E_BAD_VIA, this.np);
        q = this.np;
        o[en + E.VIA_PORT] = this.nv;
      }
      // via-params
      while (q < te) {
        q = skipLws(b, q, te);
        if (q >= te) break;
        if (b[q] !== SEMI) return this.fail(E_BAD_VIA, q);
        q = skipLws(b, q + 1, te);
        const n = q;
        while (q < te && TOKEN[b[q]!]) q++;
        if (q === n) return this.fail(E_BAD_VIA, q);
        const ne = q;
        q = skipLws(b, q, te);
        let pv = q;
        let pve = q;
        let hasValue = false;
        if (q < te && b[q] === EQ) {
          hasValue = true;
          q = skipLws(b, q + 1, te);
          pv = q;
          if (q < te && b[q] === DQUOTE) {
            q = skipQuoted(b, q, te);
            if (q < 0) return this.fail(E_BAD_VIA, pv);
          } else if (q < te && b[q] === LBRACKET) {
            const rb = find(b, RBRACKET, q, te);
            if (rb < 0) return this.fail(E_BAD_VIA, q);
            q = rb + 1;
          } else {
            while (q < te && (TOKEN[b[q]!] || b[q] === COLON)) q++;
          }
          pve = q;
          if (pv === pve) return this.fail(E_BAD_VIA, pv);
        }
        const nl = ne - n;
        if (eqi(b, n, nl, L_BRANCH)) {
          if (!hasValue) return this.fail(E_BAD_VIA, n);
          o[en + E.VIA_BRANCH_OFF] = pv;
          o[en + E.VIA_BRANCH_LEN] = pve - pv;
        } else if (eqi(b, n, nl, L_RECEIVED)) {
          if (!hasValue) return this.fail(E_BAD_VIA, n);
          o[en + E.VIA_RECEIVED_OFF] = pv;
          o[en + E.VIA_RECEIVED_LEN] = pve - pv;
        } else if (eqi(b, n, nl, L_RPORT)) {
          o[en + E.VIA_RPORT_OFF] = n;
          o[en + E.VIA_RPORT_LEN] = (hasValue ? pve : ne) - n;
        }
      }
      o[this.a + S.VIA_COUNT]++;
      if (e >= ve) return 0;
      p = e + 1;
    }
  }

  private route(type: number, line: number, v: number, ve: number, lineEnd: number): number {
    const b = this.b;
    const o = this.o;
    let p = v;
    for (;;) {
      const s = skipLws(b, p, ve);
      const e = valueEnd(b, s, ve);
      if (e < 0) return this.fail(E_BAD_ROUTE, s);
      const te = rtrimLws(b, s, e);
      if (s === te || !this.parseAddr(s, te) || this.star) return this.fail(E_BAD_ROUTE, s);
      const en = this.newEntry(type, line, lineEnd);
      if (en < 0) return this.fail(E_TOO_MANY_VALUES, s);
      o[en + E.VAL_OFF] = s;
      o[en + E.VAL_LEN] = te - s;
      o[en + E.RT_URI_OFF] = this.uri;
      o[en + E.RT_URI_LEN] = this.uriEnd - this.uri;
      o[en + E.RT_LR] = uriHasLr(b, this.uri, this.uriEnd) ? 1 : 0;
      o[this.a + (type === EntryType.ROUTE ? S.ROUTE_COUNT : S.RR_COUNT)]++;
      if (e >= ve) return 0;
      p = e + 1;
    }
  }

  private fromTo(isFrom: boolean, v: number, ve: number): number {
    const base = isFrom ? S.FROM_OFF : S.TO_OFF;
    if (this.o[this.a + base] !== NONE) return this.fail(E_DUPLICATE_HEADER, v);
    if (!this.parseAddr(v, ve) || this.star) return this.fail(isFrom ? E_BAD_FROM : E_BAD_TO, v);
    this.range(base, v, ve);
    this.range(base + 2, this.uri, this.uriEnd);
    if (this.tag >= 0) this.range(base + 4, this.tag, this.tagEnd);
    return 0;
  }

  private header(line: number, nameEnd: number, v: number, ve: number, lineEnd: number): number {
    const b = this.b;
    const o = this.o;
    const a = this.a;
    switch (headerId(b, line, nameEnd - line)) {
      case Hdr.VIA:
        return this.via(line, v, ve, lineEnd);
      case Hdr.FROM:
        return this.fromTo(true, v, ve);
      case Hdr.TO:
        return this.fromTo(false, v, ve);
      case Hdr.CALLID: {
        if (o[a + S.CALLID_OFF] !== NONE) return this.fail(E_DUPLICATE_HEADER, line);
        if (v === ve) return this.fail(E_BAD_CALLID, v);
        for (let p = v; p < ve; p++) if (isLws(b[p]!)) return this.fail(E_BAD_CALLID, p);
        this.range(S.CALLID_OFF, v, ve);
        return 0;
      }
      case Hdr.CSEQ: {
        if (o[a + S.CSEQ_METHOD_OFF] !== NONE) return this.fail(E_DUPLICATE_HEADER, line);
        // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2^31.
        if (!this.parseUint(v, ve, 0x7fffffff)) return this.fail(E_BAD_CSEQ, this.np);
        const p = this.np;
        const num = this.nv;
        const m = skipLws(b, p, ve);
        if (m === p || m >= ve) return this.fail(E_BAD_CSEQ, p);
        let me = m;
        while (me < ve && TOKEN[b[me]!]) me++;
        if (me !== ve) return this.fail(E_BAD_CSEQ, me);
        o[a + S.CSEQ_NUM] = num;
        this.range(S.CSEQ_METHOD_OFF, m, me);
        o[a + S.CSEQ_METHOD] = methodId(b, m, me - m);
        return 0;
      }
      case Hdr.MAXFWD: {
        if (o[a + S.MAXFWD] !== NONE) return this.fail(E_DUPLICATE_HEADER, line);
        if (!this.parseUint(v, ve, 255) || this.np !== ve) return this.fail(E_BAD_MAX_FORWARDS, v);
        o[a + S.MAXFWD] = this.nv;
        this.range(S.MAXFWD_OFF, v, ve);
        return 0;
      }
      case Hdr.ROUTE:
        return this.route(EntryType.ROUTE, line, v, ve, lineEnd);
      case Hdr.RR:
        return this.route(EntryType.RR, line, v, ve, lineEnd);
      case Hdr.CONTACT: {
        if (o[a + S.CONTACT_OFF] !== NONE) return 0; // the first Contact is the one we read
        const e = valueEnd(b, v, ve);
        if (e < 0) return this.fail(E_BAD_CONTACT, v);
        if (!this.parseAddr(v, e)) return this.fail(E_BAD_CONTACT, v);
        this.range(S.CONTACT_OFF, v, ve);
        this.range(S.CONTACT_URI_OFF, this.uri, this.uriEnd);
        return 0;
      }
      case Hdr.CL: {
        if (o[a + S.CL] !== NONE) return this.fail(E_BAD_CONTENT_LENGTH, line);
        if (!this.parseUint(v, ve, 0xfffffffe) || this.np !== ve) return this.fail(E_BAD_CONTENT_LENGTH, v);
        o[a + S.CL] = this.nv;
        return 0;
      }
      case Hdr.CT:
        if (o[a + S.CT_OFF] === NONE) this.range(S.CT_OFF, v, ve);
        return 0;
      case Hdr.OTHER:
        return 0;
    }
  }

  private run(off: number, len: number): number {
    const b = this.b;
    const o = this.o;
    const a = this.a;
    o.fill(0, a, a + FIXED);
    for (let i = 0; i < NONE_SLOTS.length; i++) o[a + NONE_SLOTS[i]!] = NONE;
    o[a + S.MSG_OFF] = off;
    o[a + S.MSG_LEN] = len;

    let p = off;
    const end = off + len;
    if (len > this.maxMessage) return this.fail(E_MESSAGE_TOO_LONG, -1);
    while (p < end && (b[p] === CR || b[p] === LF)) p++;
    if (p === end) return this.fail(E_EMPTY, -1);

    // Start line.
    let le = this.findLine(p, end);
    if (le) return le;
    let ce = this.lineCe;
    let nl = this.lineNl;
    const crlf = ce !== nl;
    let r = this.startLine(p, ce);
    if (r) return r;
    p = nl + 1;
    o[a + S.HDRS_OFF] = p;

    // Header fields. A field is handed to header() once its folded
    // continuation lines (if any) are known.
    let fLine = -1; // current field: start of its name
    let fNameEnd = -1;
    let fVal = -1;
    let fValEnd = -1;
    let fLineEnd = -1;
    let body = -1;
    for (;;) {
      if (p >= end) break; // headers end with the datagram: no body (lenient, like Kamailio)
      le = this.findLine(p, end);
      if (le) return le;
      ce = this.lineCe;
      nl = this.lineNl;
      if ((ce !== nl) !== crlf) return this.fail(E_BAD_LINE_ENDING, nl);
      if (ce === p) {
        body = nl + 1;
        break;
      }
      if (isWs(b[p]!)) {
        // §7.3.1 folding: continue the current field.
        if (fLine < 0) return this.fail(E_BAD_HEADER, p);
        fValEnd = ce;
        fLineEnd = nl + 1;
        if (fLineEnd - fLine > this.maxHeaderLine) return this.fail(E_HEADER_TOO_LONG, fLine);
        p = nl + 1;
        continue;
      }
      if (fLine >= 0) {
        const vs = skipLws(b, fVal, fValEnd);
        r = this.header(fLine, fNameEnd, vs, rtrimLws(b, vs, fValEnd), fLineEnd);
        if (r) return r;
      }
      let q = p;
      while (q < ce && TOKEN[b[q]!]) q++;
      if (q === p) return this.fail(E_BAD_HEADER, p);
      fLine = p;
      fNameEnd = q;
      while (q < ce && isWs(b[q]!)) q++;
      if (q >= ce || b[q] !== COLON) return this.fail(E_BAD_HEADER, q);
      fVal = q + 1;
      fValEnd = ce;
      fLineEnd = nl + 1;
      if (fLineEnd - fLine > this.maxHeaderLine) return this.fail(E_HEADER_TOO_LONG, fLine);
      if (++o[a + S.HDR_COUNT] > this.maxHeaders) return this.fail(E_TOO_MANY_HEADERS, p);
      p = nl + 1;
    }
    if (fLine >= 0) {
      const vs = skipLws(b, fVal, fValEnd);
      r = this.header(fLine, fNameEnd, vs, rtrimLws(b, vs, fValEnd), fLineEnd);
      if (r) return r;
    }
    if (body >= 0) {
      o[a + S.HDRS_END] = body - (crlf ? 2 : 1);
      o[a + S.BODY_OFF] = body;
    } else {
      o[a + S.HDRS_END] = end;
      o[a + S.BODY_OFF] = end;
    }
    const avail = end - o[a + S.BODY_OFF]!;
    const cl = o[a + S.CL]!;
    if (cl !== NONE) {
      // §18.3: over UDP a Content-Length larger than the datagram is an error;
      // bytes past Content-Length are ignored.
      if (cl > avail) return this.fail(E_BAD_CONTENT_LENGTH, o[a + S.BODY_OFF]!);
      o[a + S.BODY_LEN] = cl;
    } else {
      o[a + S.BODY_LEN] = avail;
    }

    // §8.1.1: mandatory header fields.
    if (o[a + S.VIA_COUNT] === 0) return this.fail(E_MISSING_VIA, -1);
    if (o[a + S.FROM_OFF] === NONE) return this.fail(E_MISSING_FROM, -1);
    if (o[a + S.TO_OFF] === NONE) return this.fail(E_MISSING_TO, -1);
    if (o[a + S.CALLID_OFF] === NONE) return this.fail(E_MISSING_CALLID, -1);
    if (o[a + S.CSEQ_METHOD_OFF] === NONE) return this.fail(E_MISSING_CSEQ, -1);
    if (o[a + S.KIND] === 1) {
      // §8.1.1.5 / §17.2.3: the CSeq method matches the request method.
      const mo = o[a + S.METHOD_OFF]!;
      const ml = o[a + S.METHOD_LEN]!;
      const co = o[a + S.CSEQ_METHOD_OFF]!;
      let same = o[a + S.CSEQ_METHOD_LEN] === ml;
      for (let i = 0; same && i < ml; i++) if (b[co + i] !== b[mo + i]) same = false;
      if (!same) return this.fail(E_CSEQ_MISMATCH, co);
    }
    const h = dsGetHashBytes(b, o[a + S.CALLID_OFF]!, o[a + S.CALLID_LEN]!);
    o[a + S.CALLID_HASH] = h;
    o[a + S.BUCKET] = h & (BUCKETS - 1);
    return 0;
  }
}

// ---------------------------------------------------------------------------
// The SipScanner surface (native/addon.cc: argument checks, batch, hashes).

const scanner = new Scanner();

function hashArgs(
  fold: boolean,
  nargs: number,
  buf: unknown,
  off: unknown,
  len: unknown,
  off2: unknown,
  len2: unknown,
): number | undefined {
  if (!types.isUint8Array(buf)) return undefined;
  const o = u32(off);
  const l = u32(len);
  const o2 = nargs > 4 ? u32(off2) : NONE;
  const l2 = nargs > 4 ? u32(len2) : NONE;
  if (o === NONE || l === NONE || o + l > buf.length) return undefined;
  if (o2 !== NONE && l2 !== NONE) {
    if (o2 + l2 > buf.length) return undefined;
    return fold ? coreCaseHashBytes(buf, o, l, buf, o2, l2) : dsGetHashBytes(buf, o, l, buf, o2, l2);
  }
  return fold ? coreCaseHashBytes(buf, o, l) : dsGetHashBytes(buf, o, l);
}

/**
 * The TypeScript scanner. Like the addon it checks its arguments: a range
 * outside its buffer gives -ParseError.ARGS (parse, parseBatch) or undefined
 * (hash, caseHash), never a read past the end. Its limits are its own
 * (setLimits), as each addon instance has its own.
 */
export const fallbackScanner: SipScanner = {
  kind: 'fallback',

  parse(buf: Uint8Array, off: number, len: number, out: Uint32Array, at: number): number {
    if (!types.isUint8Array(buf) || !types.isUint32Array(out)) return -E_ARGS;
    const o = u32(off);
    const l = u32(len);
    const t = u32(at);
    if (o === NONE || l === NONE || t === NONE || o + l > buf.length || t + STRIDE > out.length) return -E_ARGS;
    return scanner.scan(buf, o, l, out, t);
  },

  parseBatch(buf: Uint8Array, spans: Uint32Array, count: number, out: Uint32Array): number {
    if (!types.isUint8Array(buf) || !types.isUint32Array(spans) || !types.isUint32Array(out)) return -E_ARGS;
    const n = u32(count);
    if (n === NONE || n * 2 > spans.length || n * STRIDE > out.length) return -E_ARGS;
    let good = 0;
    for (let i = 0; i < n; i++) {
      const off = spans[2 * i]!;
      const len = spans[2 * i + 1]!;
      const at = i * STRIDE;
      if (off + len > buf.length) {
        out.fill(0, at, at + FIXED);
        out[at + S.ERROR] = E_ARGS;
        out[at + S.ERROR_AT] = NONE;
        continue;
      }
      if (scanner.scan(buf, off, len, out, at) === 0) good++;
    }
    return good;
  },

  // Regular functions: like the addon, a second range is read only when 5+
  // arguments are passed. Bad arguments give undefined, as from the addon
  // (so the `number` in the signature is not strictly true for either).
  hash(buf: Uint8Array, off: number, len: number, off2?: number, len2?: number): number {
    return hashArgs(false, arguments.length, buf, off, len, off2, len2) as number;
  },

  caseHash(buf: Uint8Array, off: number, len: number, off2?: number, len2?: number): number {
    return hashArgs(true, arguments.length, buf, off, len, off2, len2) as number;
  },

  setLimits(maxMessage: number, maxHeaders: number, maxHeaderLine: number): boolean {
    const m = u32(maxMessage);
    const h = u32(maxHeaders);
    const l = u32(maxHeaderLine);
    if (m === NONE || h === NONE || l === NONE || m === 0 || h === 0 || l === 0) return false;
    scanner.maxMessage = m;
    scanner.maxHeaders = h;
    scanner.maxHeaderLine = l;
    return true;
  },
};
