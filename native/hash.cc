// Bit-exact ports of Kamailio's string hashes (see hash.h).
//
// Kamailio reads the key through `char`, which is signed on x86-64: a byte
// >= 0x80 enters the sum as a negative number, sign-extended through the
// shifts. All arithmetic is mod 2^32.
#include "hash.h"

namespace sy {
namespace {

inline uint32_t sc(uint8_t b) { return static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(b))); }
inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c | 0x20) : c; }

template <bool Fold>
inline uint32_t mix(uint32_t h, const uint8_t* s, size_t n) {
  size_t p = 0;
  for (; p + 4 <= n; p += 4) {
    uint8_t b0 = s[p], b1 = s[p + 1], b2 = s[p + 2], b3 = s[p + 3];
    if (Fold) { b0 = lower(b0); b1 = lower(b1); b2 = lower(b2); b3 = lower(b3); }
    uint32_t v = (sc(b0) << 24) + (sc(b1) << 16) + (sc(b2) << 8) + sc(b3);
    h += v ^ (v >> 3);
  }
  uint32_t v = 0;
  for (; p < n; p++) v = (v << 8) + sc(Fold ? lower(s[p]) : s[p]);
  h += v ^ (v >> 3);  // applied even with no tail bytes (adds 0), as in dispatch.c
  return h;
}

template <bool Fold>
inline uint32_t hash2(const uint8_t* x, size_t xlen, const uint8_t* y, size_t ylen) {
  uint32_t h = 0;
  if (x) h = mix<Fold>(h, x, xlen);
  if (y) h = mix<Fold>(h, y, ylen);
  h = (h + (h >> 11)) + ((h >> 13) + (h >> 23));
  return h;
}

}  // namespace

uint32_t ds_get_hash(const uint8_t* x, size_t xlen, const uint8_t* y, size_t ylen) {
  uint32_t h = hash2<false>(x, xlen, y, ylen);
  return h ? h : 1;
}

uint32_t core_case_hash(const uint8_t* x, size_t xlen, const uint8_t* y, size_t ylen) {
  return hash2<true>(x, xlen, y, ylen);
}

}  // namespace sy
