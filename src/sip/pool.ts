/**
 * Bump allocation for what outlives a batch: kept message copies, their
 * slots, relayed and locally built messages. Each is a view into a shared
 * slab instead of its own ArrayBuffer (Node's pool is 8 KB, so a SIP-sized
 * Buffer.allocUnsafe starts a new pool every few messages, and every typed
 * array of its own is a separate backing store). A slab is freed by the GC
 * once nothing points into it; transactions live seconds, so a few MB of
 * slabs are live at a time at thousands of calls per second.
 */
const BYTE_SLAB = 256 * 1024;
const WORD_SLAB = 64 * 1024;

let bytes = Buffer.allocUnsafeSlow(BYTE_SLAB);
let bytePos = 0;
let words = new Uint32Array(WORD_SLAB);
let wordPos = 0;

/** n bytes, uninitialised. */
export function allocBytes(n: number): Buffer {
  if (n > BYTE_SLAB >>> 3) return Buffer.allocUnsafeSlow(n);
  if (bytePos + n > BYTE_SLAB) {
    bytes = Buffer.allocUnsafeSlow(BYTE_SLAB);
    bytePos = 0;
  }
  const b = bytes.subarray(bytePos, bytePos + n);
  bytePos = (bytePos + n + 7) & ~7;
  return b;
}

/** n uint32 words, uninitialised. */
export function allocWords(n: number): Uint32Array {
  if (n > WORD_SLAB >>> 3) return new Uint32Array(n);
  if (wordPos + n > WORD_SLAB) {
    words = new Uint32Array(WORD_SLAB);
    wordPos = 0;
  }
  const w = words.subarray(wordPos, wordPos + n);
  wordPos += n;
  return w;
}

/** A string's latin1 bytes in pooled memory. */
export function latin1Bytes(s: string): Buffer {
  const b = allocBytes(s.length);
  b.write(s, 0, s.length, 'latin1');
  return b;
}

// Buffer#latin1Slice is what buf.toString('latin1', s, e) calls after its
// argument checks; the hot paths decode many short fields (tags, Call-IDs,
// URIs) and skip those checks (callers pass in-range offsets).
type Latin1Slicer = (start: number, end: number) => string;
const slicer: Latin1Slicer | undefined = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slicer }).latin1Slice;

/** The bytes [start, end) of buf as a latin1 string (start <= end <= buf.length). */
export const latin1 =
  typeof slicer === 'function'
    ? (buf: Buffer, start: number, end: number): string => (buf as unknown as { latin1Slice: Latin1Slicer }).latin1Slice(start, end)
    : (buf: Buffer, start: number, end: number): string => buf.toString('latin1', start, end);
