/**
 * The only module that loads the addon. It exposes one SipScanner: the native
 * one (build/Release/switchyard.node), or the TypeScript fallback with the
 * same signature and the same output when the addon is missing or
 * SWITCHYARD_NO_NATIVE=1 is set.
 *
 * Positions written by parse() are valid against their buffer for this turn
 * only: copy what a transaction, dialog or timer keeps.
 */
import * as path from 'node:path';

import { coreCaseHashBytes, dsGetHashBytes } from './hash';
import { fallbackScanner } from './fallback';
import { BUCKETS, DEFAULT_LIMITS, E_SIZE, FIXED, MAX_ENTRIES, PARSE_ERRORS, S, STRIDE, type ParseLimits } from './layout';

export interface SipScanner {
  /** 'native' or 'fallback'. */
  readonly kind: 'native' | 'fallback';
  /** Scans buf[off, off+len) into out[at, at+STRIDE). Returns 0 or -error code. */
  parse(buf: Uint8Array, off: number, len: number, out: Uint32Array, at: number): number;
  /** Scans `count` messages described by [offset, length] pairs; message i goes to out[i*STRIDE]. Returns how many are well formed. */
  parseBatch(buf: Uint8Array, spans: Uint32Array, count: number, out: Uint32Array): number;
  /** ds_get_hash over buf[off, off+len) and optionally buf[off2, off2+len2). */
  hash(buf: Uint8Array, off: number, len: number, off2?: number, len2?: number): number;
  /** core_case_hash, same arguments. */
  caseHash(buf: Uint8Array, off: number, len: number, off2?: number, len2?: number): number;
  setLimits(maxMessage: number, maxHeaders: number, maxHeaderLine: number): boolean;
}

/** A bound UDP socket drained with recvmmsg (native/udp.cc). */
export interface NativeUdpSocket {
  /** The receive area (batch x slot bytes); datagram i is at meta[4i], length meta[4i+1]. */
  readonly buffer: Buffer;
  /** Per datagram: offset, length, source IPv4 (host order), source port. */
  readonly meta: Uint32Array;
  /** Scanner output per datagram, STRIDE slots each (when options.parse). */
  readonly slots: Uint32Array;
  readonly fd: number;
  readonly port: number;
  readonly stats: { received: number; sent: number; batches: number; truncated: number; sendDrops: number };
  start(limits?: { maxMessage: number; maxHeaders: number; maxHeaderLine: number }): boolean;
  stop(): void;
  close(): void;
  /** Reads what is queued now; returns the number of datagrams delivered. */
  drain(): number;
  /** sendmmsg of `count` [offset, length, ipv4, port] quads over buf; returns datagrams sent or -errno. */
  send(buf: Uint8Array, quads: Uint32Array, count: number): number;
}

export interface NativeUdpSocketCtor {
  new (
    ip: string,
    port: number,
    options: { batch?: number; slot?: number; rcvbuf?: number; sndbuf?: number; parse?: boolean },
    onBatch: (count: number) => void,
  ): NativeUdpSocket;
}

interface NativeBinding extends Omit<SipScanner, 'kind'> {
  layout: Record<string, number>;
  UdpSocket: NativeUdpSocketCtor;
  sendBatchFd(fd: number, buf: Uint8Array, quads: Uint32Array, count: number): number;
}

let udpBinding: Pick<NativeBinding, 'UdpSocket' | 'sendBatchFd'> | undefined;

let loadError: Error | undefined;

function loadNative(): SipScanner | undefined {
  if (process.env['SWITCHYARD_NO_NATIVE'] === '1') return undefined;
  const root = path.join(__dirname, '..', '..', '..');
  for (const flavour of ['Release', 'Debug']) {
    let binding: NativeBinding;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      binding = require(path.join(root, 'build', flavour, 'switchyard.node')) as NativeBinding;
    } catch (err) {
      loadError = err as Error;
      continue;
    }
    const l = binding.layout;
    if (
      l['FIXED'] !== FIXED || l['E_SIZE'] !== E_SIZE || l['MAX_ENTRIES'] !== MAX_ENTRIES || l['STRIDE'] !== STRIDE ||
      l['BUCKETS'] !== BUCKETS || l['FIXED_END'] !== S.FIXED_END || l['ERR_COUNT'] !== PARSE_ERRORS.length
    ) {
      loadError = new Error(`native addon layout ${JSON.stringify(l)} does not match src/native/layout.ts`);
      continue;
    }
    udpBinding = { UdpSocket: binding.UdpSocket, sendBatchFd: binding.sendBatchFd };
    return {
      kind: 'native',
      parse: binding.parse,
      parseBatch: binding.parseBatch,
      hash: binding.hash,
      caseHash: binding.caseHash,
      setLimits: binding.setLimits,
    };
  }
  return undefined;
}

/** The scanner every module uses. */
export const scanner: SipScanner = loadNative() ?? fallbackScanner;
export { fallbackScanner };

/** The addon's batched UDP I/O (undefined when the addon is not loaded). */
export function nativeUdp(): Pick<NativeBinding, 'UdpSocket' | 'sendBatchFd'> | undefined {
  if (!udpBinding && process.env['SWITCHYARD_NO_NATIVE'] === '1') loadNativeUdpOnly();
  return udpBinding;
}

/** With SWITCHYARD_NO_NATIVE=1 the scanner is TypeScript, but the sockets still come from the addon. */
function loadNativeUdpOnly(): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const b = require(path.join(__dirname, '..', '..', '..', 'build', 'Release', 'switchyard.node')) as NativeBinding;
    udpBinding = { UdpSocket: b.UdpSocket, sendBatchFd: b.sendBatchFd };
  } catch (err) {
    loadError = err as Error;
  }
}

/** Why the native addon is not in use, if it is not. */
export function nativeLoadError(): Error | undefined {
  return scanner.kind === 'native' ? undefined : loadError;
}

/** Applies parser safety limits to this thread's scanner(s). */
export function setParseLimits(limits: ParseLimits = DEFAULT_LIMITS): void {
  for (const [name, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v <= 0 || v > 0xfffffffe) throw new RangeError(`parse limit ${name} must be a positive integer, got ${v}`);
  }
  scanner.setLimits(limits.maxMessage, limits.maxHeaders, limits.maxHeaderLine);
  if (scanner !== fallbackScanner) fallbackScanner.setLimits(limits.maxMessage, limits.maxHeaders, limits.maxHeaderLine);
}

const utf8 = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);

/**
 * Kamailio's ds_get_hash(x, y) (dispatcher algorithms 0-3, 5, 7) over strings
 * or bytes; y null/undefined = absent. Same value as the Kamailio
 * `dispatcher.hash` RPC.
 */
export function dsHash(x: string | Uint8Array, y?: string | Uint8Array | null): number {
  const a = utf8(x);
  return y == null ? dsGetHashBytes(a, 0, a.length) : dsGetHashBytes(a, 0, a.length, utf8(y), 0, utf8(y).length);
}

/**
 * ds_get_hash over strings that hold wire bytes one per character (what
 * SipMessage getters return, latin1): hashes exactly the bytes Kamailio saw.
 */
export function dsHashWire(x: string, y?: string | null): number {
  const a = Buffer.from(x, 'latin1');
  if (y == null) return dsGetHashBytes(a, 0, a.length);
  const b = Buffer.from(y, 'latin1');
  return dsGetHashBytes(a, 0, a.length, b, 0, b.length);
}

/** core_case_hash over a wire-byte (latin1) string, unreduced. */
export function coreCaseHashWire(x: string): number {
  const a = Buffer.from(x, 'latin1');
  return coreCaseHashBytes(a, 0, a.length);
}

/** core_case_hash(x, y) (htable, dispatcher call-load table), unreduced. */
export function coreCaseHash(x: string | Uint8Array, y?: string | Uint8Array | null): number {
  const a = utf8(x);
  return y == null ? coreCaseHashBytes(a, 0, a.length) : coreCaseHashBytes(a, 0, a.length, utf8(y), 0, utf8(y).length);
}

/** Call-ID -> { hash, bucket }: the dispatcher alg-0 hash and its bucket of 512. */
export function callIdBucket(callId: string | Uint8Array): { hash: number; bucket: number } {
  const h = dsHash(callId);
  return { hash: h, bucket: h & (BUCKETS - 1) };
}
