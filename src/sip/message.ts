/**
 * SipMessage: a read-only view over one scanned message (the bytes in `buf`,
 * the positions the scanner wrote into `slots` at `at`). Fields are decoded
 * lazily, when someone reads them; nothing is copied until then.
 *
 * A view is valid only while its buffer and slot array are: a batch's views
 * die with the batch. Copy (`String`s are copies) what outlives the turn.
 */
import { scanner } from '../native';
import { allocBytes, allocWords, latin1 } from './pool';
import {
  E,
  E_SIZE,
  EntryType,
  FIXED,
  Method,
  type MethodId,
  NONE,
  PARSE_ERRORS,
  type ParseErrorName,
  rebaseSlots,
  S,
  STRIDE,
} from '../native/layout';

/** Compact header forms (RFC 3261 §7.3.3 and registered extensions). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};

/** Canonical lower-case long name of a header name (compact forms expanded). */
export function canonicalHeaderName(name: string): string {
  const n = name.toLowerCase();
  return n.length === 1 ? (COMPACT[n] ?? n) : n;
}

export interface ViaView {
  /** The whole via-parm, e.g. `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1`. */
  readonly value: string;
  readonly transport: string;
  readonly host: string;
  /** 0 when the Via has no port. */
  readonly port: number;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** undefined: no ;rport; '' : ;rport without a value; else its value. */
  readonly rport: string | undefined;
  /** Offset of the `rport` parameter name, NONE when absent. */
  readonly rportOff: number;
  /** Positions of the value and of the header line holding it. */
  readonly valOff: number;
  readonly valLen: number;
  readonly lineOff: number;
  readonly lineEnd: number;
}

/** A Via value whose strings are decoded when first read. */
class LazyVia implements ViaView {
  readonly port: number;
  readonly rportOff: number;
  readonly valOff: number;
  readonly valLen: number;
  readonly lineOff: number;
  readonly lineEnd: number;
  private readonly buf: Buffer;
  private readonly sl: Uint32Array;
  private readonly b: number;
  private v: string | undefined = undefined;
  private h: string | undefined = undefined;
  private br: string | null | undefined = undefined;

  constructor(buf: Buffer, sl: Uint32Array, b: number) {
    this.buf = buf;
    this.sl = sl;
    this.b = b;
    this.port = sl[b + E.VIA_PORT]!;
    this.rportOff = sl[b + E.VIA_RPORT_OFF]!;
    this.valOff = sl[b + E.VAL_OFF]!;
    this.valLen = sl[b + E.VAL_LEN]!;
    this.lineOff = sl[b + E.LINE_OFF]!;
    this.lineEnd = sl[b + E.LINE_END]!;
  }

  private opt(o: number): string | undefined {
    const off = this.sl[this.b + o]!;
    return off === NONE ? undefined : latin1(this.buf, off, off + this.sl[this.b + o + 1]!);
  }

  get value(): string {
    return (this.v ??= latin1(this.buf, this.valOff, this.valOff + this.valLen));
  }
  get transport(): string {
    return this.opt(E.VIA_TRANSPORT_OFF)!;
  }
  get host(): string {
    return (this.h ??= this.opt(E.VIA_HOST_OFF)!);
  }
  get branch(): string | undefined {
    if (this.br === undefined) this.br = this.opt(E.VIA_BRANCH_OFF) ?? null;
    return this.br ?? undefined;
  }
  get received(): string | undefined {
    return this.opt(E.VIA_RECEIVED_OFF);
  }
  /** undefined: no ;rport; '' : ;rport without a value; else its value. */
  get rport(): string | undefined {
    if (this.rportOff === NONE) return undefined;
    const raw = this.buf.toString('latin1', this.rportOff, this.rportOff + this.sl[this.b + E.VIA_RPORT_LEN]!);
    const eq = raw.indexOf('=');
    return eq < 0 ? '' : raw.slice(eq + 1).trim();
  }
}

export interface RouteView {
  readonly value: string;
  readonly uri: string;
  readonly lr: boolean;
  readonly valOff: number;
  readonly valLen: number;
  readonly lineOff: number;
  readonly lineEnd: number;
}

export class SipMessage {
  readonly buf: Buffer;
  readonly slots: Uint32Array;
  readonly at: number;
  private viaCache: ViaView[] | undefined = undefined;
  // The fields tm, dialogs and the dispatcher all read, decoded once (null: absent).
  private callIdStr: string | undefined = undefined;
  private fromTagStr: string | null | undefined = undefined;
  private toTagStr: string | null | undefined = undefined;

  constructor(buf: Buffer, slots: Uint32Array, at = 0) {
    this.buf = buf;
    this.slots = slots;
    this.at = at;
  }

  /**
   * A copy that outlives the batch: the message bytes copied to a buffer of
   * their own and the slots moved with them (no second scan).
   */
  copy(): SipMessage {
    const off = this.s(S.MSG_OFF);
    const len = this.s(S.MSG_LEN);
    const buf = allocBytes(len);
    this.buf.copy(buf, 0, off, off + len);
    const slots = allocWords(FIXED + this.s(S.ENTRY_COUNT) * E_SIZE);
    rebaseSlots(this.slots, this.at, slots, off);
    return new SipMessage(buf, slots, 0);
  }

  /** The top Via's branch parameter, without decoding the rest. */
  get topViaBranch(): string | undefined {
    const n = this.s(S.ENTRY_COUNT);
    for (let i = 0; i < n; i++) {
      const base = this.at + FIXED + i * E_SIZE;
      if (this.slots[base + E.TYPE] !== EntryType.VIA) continue;
      const off = this.slots[base + E.VIA_BRANCH_OFF]!;
      return off === NONE ? undefined : latin1(this.buf, off, off + this.slots[base + E.VIA_BRANCH_LEN]!);
    }
    return undefined;
  }

  private s(slot: number): number {
    return this.slots[this.at + slot]!;
  }

  private str(offSlot: number): string | undefined {
    const off = this.s(offSlot);
    return off === NONE ? undefined : latin1(this.buf, off, off + this.s(offSlot + 1));
  }

  private text(off: number, len: number): string {
    return latin1(this.buf, off, off + len);
  }

  get isRequest(): boolean {
    return this.s(S.KIND) === 1;
  }
  get isResponse(): boolean {
    return this.s(S.KIND) === 2;
  }
  /** Method id (Method.*); Method.NONE for a response. */
  get methodId(): MethodId {
    return this.s(S.METHOD) as MethodId;
  }
  get method(): string {
    return this.str(S.METHOD_OFF) ?? '';
  }
  get ruri(): string {
    return this.str(S.RURI_OFF) ?? '';
  }
  get status(): number {
    return this.s(S.STATUS);
  }
  get reason(): string {
    const off = this.s(S.REASON_OFF);
    return off === NONE ? '' : this.buf.toString('utf8', off, off + this.s(S.REASON_LEN));
  }
  get callId(): string {
    return (this.callIdStr ??= this.str(S.CALLID_OFF) ?? '');
  }
  /** Kamailio ds_get_hash of the Call-ID (dispatcher algorithm 0). */
  get callIdHash(): number {
    return this.s(S.CALLID_HASH);
  }
  /** Call-ID bucket of 512: the shard key. */
  get bucket(): number {
    return this.s(S.BUCKET);
  }
  get from(): string {
    return this.str(S.FROM_OFF) ?? '';
  }
  get fromUri(): string {
    return this.str(S.FROM_URI_OFF) ?? '';
  }
  get fromTag(): string | undefined {
    if (this.fromTagStr === undefined) this.fromTagStr = this.str(S.FROM_TAG_OFF) ?? null;
    return this.fromTagStr ?? undefined;
  }
  get to(): string {
    return this.str(S.TO_OFF) ?? '';
  }
  get toUri(): string {
    return this.str(S.TO_URI_OFF) ?? '';
  }
  get toTag(): string | undefined {
    if (this.toTagStr === undefined) this.toTagStr = this.s(S.TO_TAG_OFF) === NONE ? null : this.str(S.TO_TAG_OFF)!;
    return this.toTagStr ?? undefined;
  }
  get cseq(): number {
    return this.s(S.CSEQ_NUM);
  }
  get cseqMethodId(): MethodId {
    return this.s(S.CSEQ_METHOD) as MethodId;
  }
  get cseqMethod(): string {
    return this.str(S.CSEQ_METHOD_OFF) ?? '';
  }
  /** undefined when the header is absent. */
  get maxForwards(): number | undefined {
    const v = this.s(S.MAXFWD);
    return v === NONE ? undefined : v;
  }
  get contact(): string | undefined {
    return this.str(S.CONTACT_OFF);
  }
  get contactUri(): string | undefined {
    return this.str(S.CONTACT_URI_OFF);
  }
  get contentLength(): number | undefined {
    const v = this.s(S.CL);
    return v === NONE ? undefined : v;
  }
  get contentType(): string | undefined {
    return this.str(S.CT_OFF);
  }
  get bodyOffset(): number {
    return this.s(S.BODY_OFF);
  }
  get bodyLength(): number {
    return this.s(S.BODY_LEN);
  }
  /** The body bytes (a view, not a copy). */
  get body(): Buffer {
    const off = this.s(S.BODY_OFF);
    return this.buf.subarray(off, off + this.s(S.BODY_LEN));
  }
  get offset(): number {
    return this.s(S.MSG_OFF);
  }
  get length(): number {
    return this.s(S.MSG_LEN);
  }
  /** The message bytes (a view). */
  get bytes(): Buffer {
    const off = this.s(S.MSG_OFF);
    return this.buf.subarray(off, off + this.s(S.MSG_LEN));
  }
  get viaCount(): number {
    return this.s(S.VIA_COUNT);
  }
  get headerCount(): number {
    return this.s(S.HDR_COUNT);
  }
  get isInvite(): boolean {
    return this.s(S.METHOD) === Method.INVITE;
  }

  private entries(type: number): number[] {
    const n = this.s(S.ENTRY_COUNT);
    const found: number[] = [];
    for (let i = 0; i < n; i++) {
      const base = this.at + FIXED + i * E_SIZE;
      if (this.slots[base + E.TYPE] === type) found.push(base);
    }
    return found;
  }

  /** Every Via value, topmost first (decoded once per view). */
  get vias(): ViaView[] {
    return (this.viaCache ??= this.entries(EntryType.VIA).map((b) => this.via(b)));
  }
  /** The topmost Via. */
  get topVia(): ViaView | undefined {
    return this.vias[0];
  }

  private via(b: number): ViaView {
    return new LazyVia(this.buf, this.slots, b);
  }


  private route(b: number): RouteView {
    const sl = this.slots;
    return {
      value: this.text(sl[b + E.VAL_OFF]!, sl[b + E.VAL_LEN]!),
      uri: this.text(sl[b + E.RT_URI_OFF]!, sl[b + E.RT_URI_LEN]!),
      lr: sl[b + E.RT_LR] === 1,
      valOff: sl[b + E.VAL_OFF]!,
      valLen: sl[b + E.VAL_LEN]!,
      lineOff: sl[b + E.LINE_OFF]!,
      lineEnd: sl[b + E.LINE_END]!,
    };
  }

  /** Every Route value, in order. */
  get routes(): RouteView[] {
    return this.entries(EntryType.ROUTE).map((b) => this.route(b));
  }
  /** Every Record-Route value, in order. */
  get recordRoutes(): RouteView[] {
    return this.entries(EntryType.RR).map((b) => this.route(b));
  }

  /** The Record-Route URIs as a route set, `<uri>,<uri>` in header order ('' without any). */
  recordRouteSet(): string {
    // join() makes one flat string: a dialog keeps it for the whole call
    const parts: string[] = [];
    const n = this.s(S.ENTRY_COUNT);
    for (let i = 0; i < n; i++) {
      const b = this.at + FIXED + i * E_SIZE;
      if (this.slots[b + E.TYPE] !== EntryType.RR) continue;
      const off = this.slots[b + E.RT_URI_OFF]!;
      parts.push('<', latin1(this.buf, off, off + this.slots[b + E.RT_URI_LEN]!), '>,');
    }
    if (parts.length === 0) return '';
    parts[parts.length - 1] = '>';
    return parts.join('');
  }

  /**
   * Values of every header field with this name (case-insensitive, compact
   * forms matched), raw and trimmed, folded lines kept as they are. Scans the
   * header section: for headers the scanner does not index.
   */
  headers(name: string): string[] {
    const want = canonicalHeaderName(name);
    const out: string[] = [];
    this.eachHeader((n, v) => {
      if (canonicalHeaderName(n) === want) out.push(v);
    });
    return out;
  }

  /** The first value of a header, or undefined. */
  header(name: string): string | undefined {
    return this.headers(name)[0];
  }

  /** Calls fn(name, value) for every header field, in order. */
  eachHeader(fn: (name: string, value: string, lineOff: number, lineEnd: number) => void): void {
    const buf = this.buf;
    let p = this.s(S.HDRS_OFF);
    const end = this.s(S.HDRS_END);
    let name = '';
    let lineOff = -1;
    let valStart = 0;
    let valEnd = 0;
    const flush = (lineEnd: number): void => {
      if (lineOff >= 0) fn(name, buf.toString('latin1', valStart, valEnd).trim(), lineOff, lineEnd);
    };
    while (p < end) {
      let nl = buf.indexOf(10, p);
      if (nl < 0 || nl >= end) nl = end;
      const ce = nl > p && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (buf[p] === 32 || buf[p] === 9) {
        valEnd = ce;
      } else {
        flush(p);
        const colon = buf.indexOf(58, p);
        if (colon < 0 || colon > ce) break;
        name = buf.toString('latin1', p, colon).trim();
        lineOff = p;
        valStart = colon + 1;
        valEnd = ce;
      }
      p = nl + 1;
    }
    flush(Math.min(p, end));
  }
}

export interface ParseFailure {
  readonly ok: false;
  readonly code: number;
  readonly error: ParseErrorName;
  /** Byte offset near the problem, if known. */
  readonly at: number | undefined;
}

/** Error name of a (positive) scanner error code. */
export function parseErrorName(code: number): ParseErrorName {
  return PARSE_ERRORS[code] ?? 'ARGS';
}

/**
 * Scans one message into its own slot array. Convenient for tests, tools and
 * the slow path; the dataplane scans batches into a shared array instead.
 */
export function parseMessage(buf: Buffer, off = 0, len = buf.length - off): SipMessage | ParseFailure {
  const slots = new Uint32Array(STRIDE);
  const r = scanner.parse(buf, off, len, slots, 0);
  if (r === 0) return new SipMessage(buf, slots, 0);
  const at = slots[S.ERROR_AT]!;
  return { ok: false, code: -r, error: parseErrorName(-r), at: at === NONE ? undefined : at };
}

export function isParseFailure(m: SipMessage | ParseFailure): m is ParseFailure {
  return !(m instanceof SipMessage);
}
