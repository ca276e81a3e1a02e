/**
 * Edits of a received message applied in one pass when it is sent —
 * Kamailio's "lumps": insert our Via and Record-Route, rewrite
 * Max-Forwards, drop our Route, strip our Via from a reply. The received
 * bytes are never rebuilt from parsed fields.
 */

import { allocBytes } from './pool';

export interface Edit {
  /** Absolute offset in the source buffer. */
  at: number;
  /** Bytes of the source removed from `at`. */
  del: number;
  /** Inserted at `at` (after nothing, before what follows the deleted run). */
  ins: string | Buffer | undefined;
}

export class EditList {
  readonly edits: Edit[] = [];

  insert(at: number, text: string | Buffer): this {
    this.edits.push({ at, del: 0, ins: text });
    return this;
  }
  remove(at: number, len: number): this {
    if (len > 0) this.edits.push({ at, del: len, ins: undefined });
    return this;
  }
  replace(at: number, len: number, text: string | Buffer): this {
    this.edits.push({ at, del: len, ins: text });
    return this;
  }

  /**
   * The bytes src[off, off+len) with the edits applied. Edits are applied in
   * offset order (stable: same-offset inserts keep their call order);
   * overlapping deletions are a programming error.
   */
  apply(src: Buffer, off: number, len: number): Buffer {
    const edits = this.edits.length > 1 ? [...this.edits].sort((a, b) => a.at - b.at) : this.edits;
    const end = off + len;
    let size = len;
    for (const e of edits) size += (e.ins === undefined ? 0 : Buffer.byteLength(e.ins as string)) - e.del;
    const out = allocBytes(size);
    let w = 0;
    let r = off;
    for (const e of edits) {
      if (e.at < r) throw new RangeError(`overlapping edits at ${e.at}`);
      w += src.copy(out, w, r, e.at);
      if (e.ins !== undefined) w += typeof e.ins === 'string' ? out.write(e.ins, w, 'latin1') : e.ins.copy(out, w);
      r = e.at + e.del;
    }
    w += src.copy(out, w, r, end);
    return w === size ? out : out.subarray(0, w);
  }
}

/**
 * Removes one value of a comma-separated header line: the whole line when it
 * is the only value, else the value and its separating comma.
 */
export function removeListValue(
  edits: EditList,
  buf: Buffer,
  v: { valOff: number; valLen: number; lineOff: number; lineEnd: number },
): void {
  const colon = buf.indexOf(58, v.lineOff);
  let lineValEnd = v.lineEnd;
  while (lineValEnd > v.lineOff && (buf[lineValEnd - 1] === 10 || buf[lineValEnd - 1] === 13)) lineValEnd--;
  // What else is on the line besides this value?
  const before = buf.toString('latin1', colon + 1, v.valOff).trim();
  const after = buf.toString('latin1', v.valOff + v.valLen, lineValEnd).trim();
  if (before === '' && after === '') {
    edits.remove(v.lineOff, v.lineEnd - v.lineOff);
    return;
  }
  if (after.startsWith(',')) {
    // value, next...  -> drop "value," and the blanks after the comma
    let e = buf.indexOf(44, v.valOff + v.valLen) + 1;
    while (e < lineValEnd && (buf[e] === 32 || buf[e] === 9)) e++;
    edits.remove(v.valOff, e - v.valOff);
  } else {
    // ..., value  -> drop ", value"
    let s = v.valOff;
    while (s > colon && buf[s - 1] !== 44) s--;
    edits.remove(s - 1, v.valOff + v.valLen - (s - 1));
  }
}
