/**
 * TypeScript ports of Kamailio's string hashes, bit for bit the same as
 * native/hash.cc. Kamailio reads keys through signed `char` (x86-64): a byte
 * >= 0x80 adds a negative, sign-extended value. All arithmetic is mod 2^32.
 */

function mix(h: number, s: Uint8Array, off: number, len: number, fold: boolean): number {
  let p = off;
  const end = off + len;
  for (; p + 4 <= end; p += 4) {
    let b0 = s[p]!, b1 = s[p + 1]!, b2 = s[p + 2]!, b3 = s[p + 3]!;
    if (fold) {
      if (b0 >= 65 && b0 <= 90) b0 |= 0x20;
      if (b1 >= 65 && b1 <= 90) b1 |= 0x20;
      if (b2 >= 65 && b2 <= 90) b2 |= 0x20;
      if (b3 >= 65 && b3 <= 90) b3 |= 0x20;
    }
    // (int8 << k) sign-extends; >>> 0 keeps the sum a uint32.
    const v = (((b0 << 24) >> 24) * 0x1000000 + ((b1 << 24) >> 24) * 0x10000 + ((b2 << 24) >> 24) * 0x100 + ((b3 << 24) >> 24)) >>> 0;
    h = (h + ((v ^ (v >>> 3)) >>> 0)) >>> 0;
  }
  let v = 0;
  for (; p < end; p++) {
    let c = s[p]!;
    if (fold && c >= 65 && c <= 90) c |= 0x20;
    v = ((v << 8) + ((c << 24) >> 24)) >>> 0;
  }
  return (h + ((v ^ (v >>> 3)) >>> 0)) >>> 0;
}

function finish(h: number): number {
  return ((h + (h >>> 11)) + ((h >>> 13) + (h >>> 23))) >>> 0;
}

/** dispatch.c:ds_get_hash() over one or two byte ranges (the second may be absent). */
export function dsGetHashBytes(buf: Uint8Array, off: number, len: number, buf2?: Uint8Array, off2 = 0, len2 = 0): number {
  let h = mix(0, buf, off, len, false);
  if (buf2) h = mix(h, buf2, off2, len2, false);
  h = finish(h);
  return h === 0 ? 1 : h;
}

/** core/hashes.h:core_hash() (dialog h_entry): ds_get_hash's mixing, unreduced, 0 kept. */
export function coreHashBytes(buf: Uint8Array, off: number, len: number): number {
  return finish(mix(0, buf, off, len, false));
}

/** core/hashes.h:core_case_hash(): A-Z folded; not reduced (mask it with size - 1). */
export function coreCaseHashBytes(buf: Uint8Array, off: number, len: number, buf2?: Uint8Array, off2 = 0, len2 = 0): number {
  let h = mix(0, buf, off, len, true);
  if (buf2) h = mix(h, buf2, off2, len2, true);
  return finish(h);
}
