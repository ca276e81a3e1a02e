// Zero-copy SIP scanner (RFC 3261 §7, §20, §25 grammar, as far as a proxy
// needs it). See parser.h for the contract and layout.h for the output.
//
// Reading rules:
// - Lines end in CRLF; a message whose lines all end in bare LF is accepted
//   (as Kamailio does), a message that mixes the two, or holds a CR that does
//   not end a line, is refused (E_BAD_LINE_ENDING).
// - A header line that starts with SP or HT continues the previous one (§7.3.1
//   folding); values are scanned across the fold with CR/LF as whitespace.
// - The header section must not hold NUL bytes; the body may.
// - Leading CRLFs before the start line are skipped (§7.5); a datagram of
//   nothing else is a keep-alive (E_EMPTY).
//
// Speed: line ends come from a bit mask of the control bytes of each 64-byte
// chunk (SpecialCursor), names, tokens and URIs are scanned 16 bytes at a
// time (SSE2, the x86-64 baseline); every shortcut gives the output of the
// byte-by-byte reading of the rules, slot for slot, errors included.
#include "parser.h"

#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "hash.h"

namespace sy {
namespace {

#if defined(__GNUC__)
#define SY_INLINE inline __attribute__((always_inline))
#define SY_NOINLINE __attribute__((noinline))
#else
#define SY_INLINE inline
#define SY_NOINLINE
#endif

// Character classes, one table lookup per byte on the hot loops.
enum : uint8_t {
  C_TOKEN = 1,    // RFC 3261 token: alphanum and -.!%*_+`'~
  C_LWS = 2,      // SP HT CR LF
  C_WS = 4,       // SP HT
  C_VALSEP = 8,   // bytes value_end() must look at: " < > ,
  C_URIBAD = 16,  // not allowed inside a bracketed URI here: LWS < "
  C_HOST = 32,    // sent-by host characters: alphanum - . _
  C_DIGIT = 64,
  C_ANGLE_END = 128,  // '>'
};
struct ClassTable {
  uint8_t t[256];
  constexpr ClassTable() : t() {
    for (int c = '0'; c <= '9'; c++) t[c] |= C_TOKEN | C_HOST | C_DIGIT;
    for (int c = 'a'; c <= 'z'; c++) t[c] |= C_TOKEN | C_HOST;
    for (int c = 'A'; c <= 'Z'; c++) t[c] |= C_TOKEN | C_HOST;
    const char* extra = "-.!%*_+`'~";
    for (const char* p = extra; *p; p++) t[static_cast<unsigned char>(*p)] |= C_TOKEN;
    t[static_cast<unsigned char>('-')] |= C_HOST;
    t[static_cast<unsigned char>('.')] |= C_HOST;
    t[static_cast<unsigned char>('_')] |= C_HOST;
    t[' '] |= C_LWS | C_WS | C_URIBAD;
    t['\t'] |= C_LWS | C_WS | C_URIBAD;
    t['\r'] |= C_LWS | C_URIBAD;
    t['\n'] |= C_LWS | C_URIBAD;
    t[static_cast<unsigned char>('"')] |= C_VALSEP | C_URIBAD;
    t[static_cast<unsigned char>('<')] |= C_VALSEP | C_URIBAD;
    t[static_cast<unsigned char>('>')] |= C_VALSEP | C_ANGLE_END;
    t[static_cast<unsigned char>(',')] |= C_VALSEP;
  }
};
constexpr ClassTable kClass;

inline bool is_token(uint8_t c) { return kClass.t[c] & C_TOKEN; }
inline bool is_ws(uint8_t c) { return kClass.t[c] & C_WS; }
inline bool is_lws(uint8_t c) { return kClass.t[c] & C_LWS; }
inline bool is_digit(uint8_t c) { return kClass.t[c] & C_DIGIT; }
inline bool is_host(uint8_t c) { return kClass.t[c] & C_HOST; }
inline uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c | 0x20) : c; }

// Vector helpers. SSE2 is the x86-64 baseline; every vector path has a
// byte-by-byte twin that gives the same answer (the only path without SSE2).
//
// `rl` (read limit) is the end of the message: a helper scanning [p, e) may
// load 16 bytes at p as long as p + 16 <= rl, i.e. past e but never past the
// message, and it ignores whatever it sees at or after e.
#ifdef __SSE2__
inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline unsigned mask16(__m128i m) { return static_cast<unsigned>(_mm_movemask_epi8(m)); }
inline __m128i eq8(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }
// Bytes <= c (unsigned): v - c saturates to 0.
inline __m128i le8(__m128i v, uint8_t c) {
  return _mm_cmpeq_epi8(_mm_subs_epu8(v, _mm_set1_epi8(static_cast<char>(c))), _mm_setzero_si128());
}
// Bytes in [lo, hi] (unsigned, hi - lo < 127): moving lo to -128 leaves one
// signed compare.
inline __m128i in_range8(__m128i v, uint8_t lo, uint8_t hi) {
  const __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - lo)));
  return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(0x80 + (hi - lo) + 1)));
}
// Letters, digits, '-' and '.': nearly every byte of a token, a host or a
// header name on the wire. (c | 0x20) lands in a-z exactly for A-Z and a-z.
inline unsigned common_mask(__m128i v) {
  const __m128i alpha = in_range8(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i digit = in_range8(v, '0', '9');
  const __m128i dash_dot = in_range8(v, '-', '.');
  return mask16(_mm_or_si128(_mm_or_si128(alpha, digit), dash_dot));
}
#endif

// The first byte in [p, e) equal to one of Cs, or e: 16 bytes at a time while
// they lie before rl, then byte by byte.
template <char... Cs>
inline const uint8_t* find_any(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
#ifdef __SSE2__
  if (p >= e) return e;
  while (rl - p >= 16) {
    const __m128i v = load16(p);
    __m128i hit = _mm_setzero_si128();
    ((hit = _mm_or_si128(hit, eq8(v, Cs))), ...);
    const unsigned m = mask16(hit);
    if (m) {
      p += __builtin_ctz(m);
      return p < e ? p : e;
    }
    p += 16;
    if (p >= e) return e;
  }
#else
  (void)rl;
#endif
  for (; p < e; p++) {
    const uint8_t c = *p;
    if (((c == static_cast<uint8_t>(Cs)) || ...)) return p;
  }
  return e;
}

// Byte classes for skip_run().
struct TokenChar {
  static bool in(uint8_t c) { return is_token(c); }
};
struct HostChar {
  static bool in(uint8_t c) { return is_host(c); }
};
struct TokenOrColon {  // a Via parameter value (token, or host:port in received=)
  static bool in(uint8_t c) { return is_token(c) || c == ':'; }
};

// `while (p < e && Cls::in(*p)) p++`: the first byte in [p, e) outside the
// class, or e (p when p >= e). The vector path skips letters, digits, '-' and
// '.' (members of every class above) 16 at a time and looks any other byte up.
template <class Cls>
inline const uint8_t* skip_run(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
#ifdef __SSE2__
  if (p >= e) return p;
  while (rl - p >= 16) {
    const unsigned m = ~common_mask(load16(p)) & 0xFFFFu;  // bytes to look up
    if (!m) {
      p += 16;
      if (p >= e) return e;
      continue;
    }
    p += __builtin_ctz(m);
    if (p >= e) return e;
    if (!Cls::in(*p)) return p;
    p++;
  }
#else
  (void)rl;
#endif
  while (p < e && Cls::in(*p)) p++;
  return p;
}
#define SKIP_TOKEN(p, e, rl) skip_run<TokenChar>((p), (e), (rl))

// The first byte in [p, e) that is SP, HT, CR or LF, or e. The vector path
// picks the bytes <= SP and looks each up (other control bytes go on).
inline const uint8_t* find_lws(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
#ifdef __SSE2__
  if (p >= e) return e;
  while (rl - p >= 16) {
    for (unsigned m = mask16(le8(load16(p), ' ')); m; m &= m - 1) {
      const uint8_t* q = p + __builtin_ctz(m);
      if (q >= e) return e;
      if (is_lws(*q)) return q;
    }
    p += 16;
    if (p >= e) return e;
  }
#else
  (void)rl;
#endif
  for (; p < e; p++)
    if (is_lws(*p)) return p;
  return e;
}

// The end of a bracketed URI: the first byte in [p, e) that is '>', '<',
// '"', SP, HT, CR or LF, or e.
inline const uint8_t* find_uri_end(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
#ifdef __SSE2__
  while (p < e && rl - p >= 16) {
    const __m128i v = load16(p);
    // Candidates: bytes <= SP, '<' and '>' (the bytes with c | 2 == '>'), '"';
    // a control byte other than HT, CR and LF goes on.
    const __m128i angle = eq8(_mm_or_si128(v, _mm_set1_epi8(2)), '>');
    for (unsigned m = mask16(_mm_or_si128(_mm_or_si128(le8(v, ' '), angle), eq8(v, '"'))); m; m &= m - 1) {
      const uint8_t* q = p + __builtin_ctz(m);
      if (q >= e) return e;
      if (kClass.t[*q] & (C_URIBAD | C_ANGLE_END)) return q;
    }
    p += 16;
  }
#else
  (void)rl;
#endif
  for (; p < e; p++)
    if (kClass.t[*p] & (C_URIBAD | C_ANGLE_END)) return p;
  return e;
}

// Whether the URI [u, ue) holds a ':'. Its scheme ("sip:", "sips:", "tel:")
// usually puts one at index 3 or 4.
inline bool has_colon(const uint8_t* u, const uint8_t* ue, const uint8_t* rl) {
  if ((ue - u > 3 && u[3] == ':') || (ue - u > 4 && u[4] == ':')) return true;
  return find_any<':'>(u, ue, rl) != ue;
}

// Finds NUL, CR and LF bytes 64 at a time, as a bit mask per 64-byte chunk,
// and hands them out in order: one pass over the header section instead of a
// vector search restarted on every line. Reads only [lo, end).
class SpecialCursor {
 public:
  SpecialCursor(const uint8_t* lo, const uint8_t* end, const uint8_t* p) : lo_(lo), end_(end) { load(p); }

  // The first NUL, CR or LF in [p, end), or end. p may lie before the chunk
  // (candidate() went further on the same line).
  const uint8_t* next(const uint8_t* p) {
    if (p < base_) load(p);
    size_t i = static_cast<size_t>(p - base_);
    for (;;) {
      if (i < 64) {
        uint64_t m = mask_ & (~0ull << i);
        while (m) {
          const uint8_t* q = base_ + __builtin_ctzll(m);
          // Candidates are bytes <= 0x0D; bit c of 0x2401 is set for c = NUL, LF, CR.
          if ((0x2401u >> *q) & 1) return q;
          m &= m - 1;
        }
        if (end_ - base_ <= 64) return end_;
        i = 64;
      }
      load(base_ + i);
      i = 0;
    }
  }

  // The first byte <= 0x0D in [p, end) (a NUL, CR or LF, or HT or another
  // control byte), or end. p only moves forward: it is at or after the chunk
  // of the previous call.
  const uint8_t* candidate(const uint8_t* p) {
    size_t i = static_cast<size_t>(p - base_);
    for (;;) {
      if (i < 64) {
        const uint64_t m = mask_ & (~0ull << i);
        if (m) return base_ + __builtin_ctzll(m);
        if (end_ - base_ <= 64) return end_;
        i = 64;
      }
      load(base_ + i);
      i = 0;
    }
  }

 private:
  // Bit k set when byte k of the chunk at c is <= 0x0D (bytes at or past the
  // end are left clear).
  void load(const uint8_t* c) {
    base_ = c;
    const size_t n = static_cast<size_t>(end_ - c) < 64 ? static_cast<size_t>(end_ - c) : 64;
    uint64_t m = 0;
#ifdef __SSE2__
    size_t i = 0;
    if (n == 64) {
      m = static_cast<uint64_t>(ctl16(c)) | static_cast<uint64_t>(ctl16(c + 16)) << 16 |
          static_cast<uint64_t>(ctl16(c + 32)) << 32 | static_cast<uint64_t>(ctl16(c + 48)) << 48;
      i = 64;
    } else {
      for (; i + 16 <= n; i += 16) m |= static_cast<uint64_t>(ctl16(c + i)) << i;
    }
    if (i < n && end_ - lo_ >= 16) {
      // The last 1-15 bytes: load the 16 bytes that end at end_ and drop the
      // bits of those before c + i.
      m |= static_cast<uint64_t>(ctl16(end_ - 16) >> (16 - (n - i))) << i;
      i = n;
    }
    for (; i < n; i++)
      if (c[i] <= 0x0D) m |= 1ull << i;
#else
    for (size_t i = 0; i < n; i++)
      if (c[i] <= 0x0D) m |= 1ull << i;
#endif
    mask_ = m;
  }
#ifdef __SSE2__
  static unsigned ctl16(const uint8_t* p) { return mask16(le8(load16(p), 0x0D)); }
#endif

  const uint8_t* lo_;
  const uint8_t* end_;
  const uint8_t* base_ = nullptr;
  uint64_t mask_ = 0;
};

// Finds the end of the line starting at p: sets *nl to its LF and returns the
// end of its content (the CR of a CRLF, or the LF), or an Err when a NUL, a
// bare CR or no LF comes first.
inline uint32_t find_line(SpecialCursor& cur, const uint8_t* p, const uint8_t* end, const uint8_t** ce,
                          const uint8_t** nl, const uint8_t** at) {
  const uint8_t* q = cur.next(p);
  if (q == end) {
    *at = p;
    return E_NO_HEADER_END;
  }
  if (*q == '\n') {
    *ce = q;
    *nl = q;
    return OK;
  }
  if (*q == '\r') {
    if (q + 1 < end && q[1] == '\n') {
      *ce = q;
      *nl = q + 1;
      return OK;
    }
    *at = q;
    return q + 1 == end ? E_NO_HEADER_END : E_BAD_LINE_ENDING;
  }
  *at = q;
  return E_NUL_BYTE;
}

// Case-insensitive compare of [p, p+n) with a lowercase literal of length n.
inline bool eqi(const uint8_t* p, size_t n, const char* lit, size_t litn) {
  if (n != litn) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(p[i]) != static_cast<uint8_t>(lit[i])) return false;
  return true;
}
#define EQI(p, n, lit) eqi((p), (n), lit, sizeof(lit) - 1)

inline const uint8_t* skip_lws(const uint8_t* p, const uint8_t* e) {
  while (p < e && is_lws(*p)) p++;
  return p;
}
inline const uint8_t* rtrim_lws(const uint8_t* s, const uint8_t* e) {
  while (e > s && is_lws(e[-1])) e--;
  return e;
}

// Compares a header name (token characters only) with a lowercase literal:
// for token characters `c | 0x20` folds exactly A-Z, so words compare at once.
inline bool name_is(const uint8_t* p, size_t n, const char* lit, size_t litn) {
  if (n != litn) return false;
  if (n >= 8 && n <= 16) {
    // Two 8-byte words, overlapping when n < 16.
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, lit, 8);
    memcpy(&c, p + n - 8, 8);
    memcpy(&d, lit + n - 8, 8);
    return ((a | 0x2020202020202020ull) == b) & ((c | 0x2020202020202020ull) == d);
  }
  if (n >= 4 && n < 8) {
    uint32_t a, b, c, d;
    memcpy(&a, p, 4);
    memcpy(&b, lit, 4);
    memcpy(&c, p + n - 4, 4);
    memcpy(&d, lit + n - 4, 4);
    return ((a | 0x20202020u) == b) & ((c | 0x20202020u) == d);
  }
  if (n == 2 || n == 3) {
    uint16_t a, b;
    memcpy(&a, p, 2);
    memcpy(&b, lit, 2);
    return ((a | 0x2020u) == b) & ((p[n - 1] | 0x20) == static_cast<uint8_t>(lit[n - 1]));
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, lit + i, 8);
    if ((a | 0x2020202020202020ull) != b) return false;
  }
  for (; i + 4 <= n; i += 4) {
    uint32_t a, b;
    memcpy(&a, p + i, 4);
    memcpy(&b, lit + i, 4);
    if ((a | 0x20202020u) != b) return false;
  }
  for (; i < n; i++)
    if ((p[i] | 0x20) != static_cast<uint8_t>(lit[i])) return false;
  return true;
}
#define NAME_IS(p, n, lit) name_is((p), (n), lit, sizeof(lit) - 1)

enum Hdr { H_OTHER, H_VIA, H_FROM, H_TO, H_CALLID, H_CSEQ, H_MAXFWD, H_ROUTE, H_RR, H_CONTACT, H_CL, H_CT };

inline Hdr header_id(const uint8_t* p, size_t n) {
  switch (n) {
    case 1:
      switch (p[0] | 0x20) {
        case 'v': return H_VIA;
        case 'f': return H_FROM;
        case 't': return H_TO;
        case 'i': return H_CALLID;
        case 'm': return H_CONTACT;
        case 'l': return H_CL;
        case 'c': return H_CT;
        default: return H_OTHER;  // k s e o u r b ...: known compact forms we do not extract
      }
    case 2: return NAME_IS(p, n, "to") ? H_TO : H_OTHER;
    case 3: return NAME_IS(p, n, "via") ? H_VIA : H_OTHER;
    case 4:
      if (NAME_IS(p, n, "from")) return H_FROM;
      if (NAME_IS(p, n, "cseq")) return H_CSEQ;
      return H_OTHER;
    case 5: return NAME_IS(p, n, "route") ? H_ROUTE : H_OTHER;
    case 7:
      if (NAME_IS(p, n, "call-id")) return H_CALLID;
      if (NAME_IS(p, n, "contact")) return H_CONTACT;
      return H_OTHER;
    case 12:
      if (NAME_IS(p, n, "max-forwards")) return H_MAXFWD;
      if (NAME_IS(p, n, "content-type")) return H_CT;
      if (NAME_IS(p, n, "record-route")) return H_RR;
      return H_OTHER;
    case 14: return NAME_IS(p, n, "content-length") ? H_CL : H_OTHER;
    default: return H_OTHER;
  }
}

// The header name at p, i.e. the token run `while (is_token(*q)) q++` (which
// stops at the line's CR/LF at the latest), and its Hdr. Fast path for a name
// we extract followed by ':': the match itself proves the run, as name_is()
// folds with | 0x20, which maps only letters (and CR, absent before ce) onto
// the letters and '-' of those names.
inline const uint8_t* scan_name(const uint8_t* p, const uint8_t* ce, const uint8_t* end, Hdr* id) {
  const uint8_t* q = p;
#ifdef __SSE2__
  if (end - p >= 16) {
    const __m128i v = load16(p);
    const unsigned colon = mask16(eq8(v, ':'));
    unsigned m;  // bytes to look up
    if (colon) {
      const unsigned k = static_cast<unsigned>(__builtin_ctz(colon));
      if (p + k < ce) {
        const Hdr h = header_id(p, k);
        if (h != H_OTHER) {
          *id = h;
          return p + k;
        }
        // Else the run ends at the ':' too when all bytes before it are
        // letters, digits, '-' or '.'.
        m = ~common_mask(v) & 0xFFFFu;
        if (!(m & ((1u << k) - 1))) {
          *id = H_OTHER;
          return p + k;
        }
      } else {
        m = ~common_mask(v) & 0xFFFFu;
      }
    } else {
      m = ~common_mask(v) & 0xFFFFu;
    }
    if (!m) {
      q = p + 16;
    } else {
      q = p + __builtin_ctz(m);
      if (is_token(*q)) q++;
      else goto done;
    }
  }
#else
  (void)ce;
  (void)end;
#endif
  while (is_token(*q)) q++;
#ifdef __SSE2__
done:
#endif
  *id = header_id(p, static_cast<size_t>(q - p));
  return q;
}

// Parses a run of decimal digits into *v; fails on no digits or when the
// value exceeds `max`.
inline bool parse_uint(const uint8_t*& p, const uint8_t* e, uint64_t max, uint32_t* v) {
  const uint8_t* s = p;
  uint64_t acc = 0;
  while (p < e && is_digit(*p)) {
    acc = acc * 10 + static_cast<uint64_t>(*p - '0');
    if (acc > max) return false;
    p++;
  }
  if (p == s) return false;
  *v = static_cast<uint32_t>(acc);
  return true;
}

// Skips a quoted-string starting at the opening quote; returns the position
// after the closing quote, or nullptr when it is not closed.
inline const uint8_t* skip_quoted(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
  p++;
  for (;;) {
    p = find_any<'\\', '"'>(p, e, rl);
    if (p >= e) return nullptr;
    if (*p == '"') return p + 1;
    if (p + 1 >= e) return nullptr;  // '\\' escapes the next byte
    p += 2;
  }
}

// Finds the end of one comma-separated value at depth 0 (outside quotes and
// angle brackets). Returns nullptr on an unbalanced quote.
inline const uint8_t* value_end(const uint8_t* p, const uint8_t* e, const uint8_t* rl) {
  bool in_angle = false;
  for (;;) {
    p = find_any<'"', '<', '>', ','>(p, e, rl);
    if (p == e) return e;
    const uint8_t c = *p;
    if (c == '"') {
      p = skip_quoted(p, e, rl);
      if (!p) return nullptr;
      continue;
    }
    if (c == '<') in_angle = true;
    else if (c == '>') in_angle = false;
    else if (!in_angle) return p;  // ','
    p++;
  }
}

// Start of the host part of URI [u, ue): after the last '@' (the user part
// may hold ';', '?' and ',' escaped or not), else u.
inline const uint8_t* host_part(const uint8_t* u, const uint8_t* ue, const uint8_t* rl) {
  const uint8_t* p = ue;
#ifdef __SSE2__
  // Backwards 16 bytes at a time; the highest set bit is the last '@'.
  while (p - u >= 16) {
    p -= 16;
    const unsigned m = mask16(eq8(load16(p), '@'));
    if (m) return p + (32 - __builtin_clz(m));
  }
  if (p > u && rl - u >= 16) {
    const unsigned m = mask16(eq8(load16(u), '@')) & ((1u << (p - u)) - 1);
    return m ? u + (32 - __builtin_clz(m)) : u;
  }
#else
  (void)rl;
#endif
  for (; p > u; p--)
    if (p[-1] == '@') return p;
  return u;
}

// The parts of a name-addr / addr-spec value (From, To, Contact, Route...).
struct Addr {
  const uint8_t* uri = nullptr;
  const uint8_t* uri_end = nullptr;
  const uint8_t* params = nullptr;  // first ';' of the header params, or end
  const uint8_t* tag = nullptr;
  const uint8_t* tag_end = nullptr;
  bool star = false;
};

// RFC 3261 §20.10 / §25.1 name-addr or addr-spec, followed by ;params.
// In the addr-spec form the parameters belong to the header, not the URI.
// `gt`, when not null, is the '>' closing a '<' at s, from addr_value_end().
bool parse_addr(const uint8_t* s, const uint8_t* e, Addr* a, const uint8_t* rl, const uint8_t* gt = nullptr) {
  s = skip_lws(s, e);
  e = rtrim_lws(s, e);
  if (s >= e) return false;
  const uint8_t* p = s;
  if (*p == '"') {
    p = skip_quoted(p, e, rl);
    if (!p) return false;
    p = skip_lws(p, e);
    if (p >= e || *p != '<') return false;
  } else {
    // Token display name (tokens and LWS) before '<', or an addr-spec.
    const uint8_t* q = *p == '<' ? p : find_any<'<', ';', ','>(p, e, rl);
    if (q < e && *q == '<') {
      for (const uint8_t* d = p; d < q; d++)
        if (!is_token(*d) && !is_lws(*d)) return false;
      p = q;
    } else {
      // addr-spec: the URI runs to the first ';' (header params follow).
      const uint8_t* ue = rtrim_lws(p, q);
      if (ue == p) return false;
      // RFC 3261 §20.10: a URI with ',', '?' or ';' needs <>; here ';' already ended it.
      if (find_any<' ', '\t', '\r', '\n', '>', '"'>(p, ue, rl) != ue) return false;
      const uint8_t* h = host_part(p, ue, rl);
      if (find_any<'?'>(h, ue, rl) != ue) return false;
      if (ue - p == 1 && *p == '*') {
        a->star = true;
      } else if (!has_colon(p, ue, rl)) {
        return false;
      }
      a->uri = p;
      a->uri_end = ue;
      p = q;
      goto params;
    }
  }
  {
    // p at '<'
    // One pass to '>': no LWS, '<' or '"' inside the brackets (RFC 3261 §20.10).
    const uint8_t* us = p + 1;
    if (!(gt && us == s + 1 && gt < e)) gt = find_uri_end(us, e, rl);
    if (gt >= e || *gt != '>') return false;
    const uint8_t* ue = gt;
    if (us == ue || !has_colon(us, ue, rl)) return false;
    a->uri = us;
    a->uri_end = ue;
    p = skip_lws(gt + 1, e);
    if (p < e && *p != ';') return false;
  }
params:
  a->params = p;
  while (p < e) {
    p = skip_lws(p, e);
    if (p >= e) break;
    if (*p != ';') return false;
    p = skip_lws(p + 1, e);
    const uint8_t* n = p;
    p = SKIP_TOKEN(p, e, rl);
    if (p == n) return false;
    const uint8_t* ne = p;
    p = skip_lws(p, e);
    const uint8_t* v = nullptr;
    const uint8_t* ve = nullptr;
    if (p < e && *p == '=') {
      p = skip_lws(p + 1, e);
      v = p;
      if (p < e && *p == '"') {
        p = skip_quoted(p, e, rl);
        if (!p) return false;
      } else if (p < e && *p == '[') {
        const uint8_t* rb = static_cast<const uint8_t*>(memchr(p, ']', static_cast<size_t>(e - p)));
        if (!rb) return false;
        p = rb + 1;
      } else {
        p = SKIP_TOKEN(p, e, rl);
      }
      ve = p;
      if (v == ve) return false;
    }
    if (NAME_IS(n, static_cast<size_t>(ne - n), "tag") && v) {
      a->tag = v;
      a->tag_end = ve;
    }
  }
  return true;
}

// value_end(s, ve), with the '>' of a leading <URI> in *gt (else null) for
// parse_addr(), so that such a URI is scanned once: value_end() passes the
// '<', finds nothing to stop at inside the brackets but ',' (which it skips
// there) and goes on after the '>' with no bracket open, as a scan from there.
inline const uint8_t* addr_value_end(const uint8_t* s, const uint8_t* ve, const uint8_t* rl, const uint8_t** gt) {
  if (s < ve && *s == '<') {
    const uint8_t* g = find_uri_end(s + 1, ve, rl);
    if (g < ve && *g == '>') {
      *gt = g;
      return value_end(g + 1, ve, rl);
    }
  }
  *gt = nullptr;
  return value_end(s, ve, rl);
}

// True when the URI [u, ue) carries the `lr` parameter (RFC 3261 §19.1.1).
// Parameters follow the host part: the user part (before the last '@') may
// itself hold ';' and '?'.
bool uri_has_lr(const uint8_t* u, const uint8_t* ue, const uint8_t* rl) {
  const uint8_t* h = host_part(u, ue, rl);
  ue = find_any<'?'>(h, ue, rl);  // URI headers follow '?'
  const uint8_t* p = h;
  while (p < ue) {
    const uint8_t* semi = find_any<';'>(p, ue, rl);
    if (semi == ue) return false;
    p = semi + 1;
    // (c | 0x20) == 'l' exactly for 'l' and 'L', as lower(c) == 'l'; same for 'r'.
    if (ue - p >= 2 && ((p[0] | 0x20) == 'l') & ((p[1] | 0x20) == 'r') && (p + 2 == ue || p[2] == ';' || p[2] == '='))
      return true;
  }
  return false;
}

// The end of the Request-URI starting at u: the first byte <= SP or DEL, or
// e.
inline const uint8_t* ruri_end(const uint8_t* u, const uint8_t* e, const uint8_t* rl) {
  const uint8_t* q = u;
#ifdef __SSE2__
  while (q < e && rl - q >= 16) {
    const __m128i v = load16(q);
    const unsigned stop = mask16(_mm_or_si128(le8(v, ' '), eq8(v, 0x7f)));
    if (stop) {
      q += __builtin_ctz(stop);
      return q < e ? q : e;
    }
    q += 16;
  }
#else
  (void)rl;
#endif
  while (q < e && *q > ' ' && *q != 0x7f) q++;
  return q < e ? q : e;
}

class Scanner {
 public:
  Scanner(const uint8_t* base, const Limits& lim, uint32_t* out) : b_(base), lim_(lim), out_(out) {}

  int32_t run(uint32_t off, uint32_t len);

 private:
  uint32_t pos(const uint8_t* p) const { return static_cast<uint32_t>(p - b_); }
  void range(uint32_t slot, const uint8_t* s, const uint8_t* e) {
    out_[slot] = pos(s);
    out_[slot + 1] = static_cast<uint32_t>(e - s);
  }
  int32_t fail(uint32_t err, const uint8_t* at) {
    out_[S_ERROR] = err;
    out_[S_ERROR_AT] = at ? pos(at) : NONE;
    return -static_cast<int32_t>(err);
  }
  uint32_t* new_entry(uint32_t type, const uint8_t* line, const uint8_t* line_end) {
    uint32_t n = out_[S_ENTRY_COUNT];
    if (n >= MAX_ENTRIES) return nullptr;
    out_[S_ENTRY_COUNT] = n + 1;
    uint32_t* en = out_ + FIXED + n * E_SIZE;
    for (uint32_t i = 0; i < E_SIZE; i++) en[i] = NONE;
    en[E_TYPE] = type;
    en[E_LINE_OFF] = pos(line);
    en[E_LINE_END] = pos(line_end);
    return en;
  }

  int32_t start_line(const uint8_t* s, const uint8_t* e);
  int32_t header(Hdr id, const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end);
  SY_NOINLINE int32_t via(const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end);
  enum { VIA_OK, VIA_BAD, VIA_UNSURE };
  template <bool Spec>
  int via_value(const uint8_t* s, const uint8_t* te, uint32_t* en, const uint8_t** at);
  SY_NOINLINE int32_t route(uint32_t type, const uint8_t* line, const uint8_t* v, const uint8_t* ve,
                            const uint8_t* line_end);
  SY_INLINE int32_t from_to(bool is_from, const uint8_t* v, const uint8_t* ve);
  SY_INLINE int32_t callid(const uint8_t* line, const uint8_t* v, const uint8_t* ve);
  SY_INLINE int32_t cseq(const uint8_t* line, const uint8_t* v, const uint8_t* ve);
  SY_NOINLINE int32_t contact(const uint8_t* v, const uint8_t* ve);

  const uint8_t* b_;
  const Limits& lim_;
  uint32_t* out_;
  const uint8_t* end_ = nullptr;  // end of the message: the read limit of the vector helpers
};

int32_t Scanner::start_line(const uint8_t* s, const uint8_t* e) {
  static const char kVersion[] = "sip/2.0";
  if (e - s >= 4 && EQI(s, 4, "sip/")) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    const uint8_t* sp = static_cast<const uint8_t*>(memchr(s, ' ', static_cast<size_t>(e - s)));
    if (!sp) return fail(E_BAD_START_LINE, s);
    if (!eqi(s, static_cast<size_t>(sp - s), kVersion, 7)) return fail(E_BAD_VERSION, s);
    out_[S_KIND] = 2;
    const uint8_t* c = sp + 1;
    if (e - c < 3 || !is_digit(c[0]) || !is_digit(c[1]) || !is_digit(c[2]) || (e - c > 3 && c[3] != ' '))
      return fail(E_BAD_STATUS, c);
    uint32_t code = static_cast<uint32_t>((c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0'));
    if (code < 100 || code > 699) return fail(E_BAD_STATUS, c);
    out_[S_STATUS] = code;
    const uint8_t* r = c + 3 < e ? c + 4 : e;
    range(S_REASON_OFF, r, e);
    return 0;
  }
  // Request-Line = Method SP Request-URI SP SIP-Version
  const uint8_t* p = SKIP_TOKEN(s, e, end_);
  if (p == s || p >= e || *p != ' ') return fail(E_BAD_START_LINE, p);
  out_[S_KIND] = 1;
  range(S_METHOD_OFF, s, p);
  out_[S_METHOD] = method_id(s, static_cast<size_t>(p - s));
  const uint8_t* u = p + 1;
  const uint8_t* q = ruri_end(u, e, end_);
  // RFC 3261 §19.1.5 / RFC 4475 §3.1.2.13: no URI headers ('?') in a Request-URI.
  if (q == u || q >= e || *q != ' ' || *u == '<' || !has_colon(u, q, end_)) return fail(E_BAD_START_LINE, u);
  const uint8_t* h = host_part(u, q, end_);
  if (find_any<'?'>(h, q, end_) != q) return fail(E_BAD_START_LINE, u);
  range(S_RURI_OFF, u, q);
  const uint8_t* ver = q + 1;
  if (e - ver == 7 && (memcmp(ver, "SIP/2.0", 7) == 0 || eqi(ver, 7, kVersion, 7))) return 0;
  if (e - ver >= 4 && EQI(ver, 4, "sip/")) {
    // "SIP/2.0 " (trailing whitespace) is a bad start line, "SIP/7.0" a bad version.
    const uint8_t* t = ver + 4;
    while (t < e && (is_digit(*t) || *t == '.')) t++;
    if (t == e) return fail(E_BAD_VERSION, ver);
  }
  return fail(E_BAD_START_LINE, ver);
}

// Parses the Via value [s, te) into the entry en (but its E_VAL_* slots):
// VIA_OK, or VIA_BAD with *at where it is malformed. With Spec it gives up
// (VIA_UNSURE) at a quoted-string or an IP-literal, the only places where it
// does not look at each byte.
template <bool Spec>
int Scanner::via_value(const uint8_t* s, const uint8_t* te, uint32_t* en, const uint8_t** at) {
#define BAD(x)    \
  do {            \
    *at = (x);    \
    return VIA_BAD; \
  } while (0)
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport (LWS allowed around '/')
  const uint8_t* q = s;
  int part = 0;
  if (te - s >= 8 && memcmp(s, "SIP/2.0/", 8) == 0) {
    q = s + 8;  // what the loop below makes of the usual "SIP/2.0/": on to the transport
    part = 2;
  }
  for (; part < 3; part++) {
    q = skip_lws(q, te);
    const uint8_t* t = q;
    q = SKIP_TOKEN(q, te, end_);
    if (q == t) BAD(q);
    if (part == 2) {
      en[E_VIA_TRANSPORT_OFF] = pos(t);
      en[E_VIA_TRANSPORT_LEN] = static_cast<uint32_t>(q - t);
      break;
    }
    q = skip_lws(q, te);
    if (q >= te || *q != '/') BAD(q);
    q++;
  }
  // sent-by = host [ COLON port ]
  const uint8_t* h0 = q;
  q = skip_lws(q, te);
  if (q == h0 || q >= te) BAD(q);
  const uint8_t* h = q;
  if (*q == '[') {
    if (Spec) return VIA_UNSURE;
    const uint8_t* rb = static_cast<const uint8_t*>(memchr(q, ']', static_cast<size_t>(te - q)));
    if (!rb) BAD(q);
    q = rb + 1;
  } else {
    q = skip_run<HostChar>(q, te, end_);
  }
  if (q == h) BAD(q);
  en[E_VIA_HOST_OFF] = pos(h);
  en[E_VIA_HOST_LEN] = static_cast<uint32_t>(q - h);
  en[E_VIA_PORT] = 0;
  q = skip_lws(q, te);
  if (q < te && *q == ':') {
    q = skip_lws(q + 1, te);
    uint32_t port;
    if (!parse_uint(q, te, 65535, &port)) BAD(q);
    en[E_VIA_PORT] = port;
  }
  // via-params
  while (q < te) {
    q = skip_lws(q, te);
    if (q >= te) break;
    if (*q != ';') BAD(q);
    q = skip_lws(q + 1, te);
    const uint8_t* n = q;
    q = SKIP_TOKEN(q, te, end_);
    if (q == n) BAD(q);
    const uint8_t* ne = q;
    q = skip_lws(q, te);
    const uint8_t* pv = q;
    const uint8_t* pve = q;
    bool has_value = false;
    if (q < te && *q == '=') {
      has_value = true;
      q = skip_lws(q + 1, te);
      pv = q;
      if (q < te && *q == '"') {
        if (Spec) return VIA_UNSURE;
        q = skip_quoted(q, te, end_);
        if (!q) BAD(pv);
      } else if (q < te && *q == '[') {
        if (Spec) return VIA_UNSURE;
        const uint8_t* rb = static_cast<const uint8_t*>(memchr(q, ']', static_cast<size_t>(te - q)));
        if (!rb) BAD(q);
        q = rb + 1;
      } else {
        q = skip_run<TokenOrColon>(q, te, end_);
      }
      pve = q;
      if (pv == pve) BAD(pv);
    }
    size_t nl = static_cast<size_t>(ne - n);
    if (NAME_IS(n, nl, "branch")) {
      if (!has_value) BAD(n);
      en[E_VIA_BRANCH_OFF] = pos(pv);
      en[E_VIA_BRANCH_LEN] = static_cast<uint32_t>(pve - pv);
    } else if (NAME_IS(n, nl, "received")) {
      if (!has_value) BAD(n);
      en[E_VIA_RECEIVED_OFF] = pos(pv);
      en[E_VIA_RECEIVED_LEN] = static_cast<uint32_t>(pve - pv);
    } else if (NAME_IS(n, nl, "rport")) {
      en[E_VIA_RPORT_OFF] = pos(n);
      en[E_VIA_RPORT_LEN] = static_cast<uint32_t>((has_value ? pve : ne) - n);
    }
  }
  return VIA_OK;
#undef BAD
}

int32_t Scanner::via(const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end) {
  const uint8_t* p = v;
  for (;;) {
    const uint8_t* s = skip_lws(p, ve);
    const uint8_t* at;
    // First guess: the value runs to the end of the field. If [s, rtrim(ve))
    // parses, every byte of it was looked at and none is one of " < > , so
    // value_end() below would say ve too: the entry is the one written below.
    if (out_[S_ENTRY_COUNT] < MAX_ENTRIES) {
      const uint8_t* te = rtrim_lws(s, ve);
      uint32_t tmp[E_SIZE];
      for (uint32_t i = 0; i < E_SIZE; i++) tmp[i] = NONE;
      if (s != te && via_value<true>(s, te, tmp, &at) == VIA_OK) {
        uint32_t* en = new_entry(T_VIA, line, line_end);
        memcpy(en + E_VAL_OFF, tmp + E_VAL_OFF, (E_SIZE - E_VAL_OFF) * sizeof(uint32_t));
        en[E_VAL_OFF] = pos(s);
        en[E_VAL_LEN] = static_cast<uint32_t>(te - s);
        out_[S_VIA_COUNT]++;
        return 0;
      }
    }
    const uint8_t* e = value_end(s, ve, end_);
    if (!e) return fail(E_BAD_VIA, s);
    const uint8_t* te = rtrim_lws(s, e);
    if (s == te) return fail(E_BAD_VIA, s);
    uint32_t* en = new_entry(T_VIA, line, line_end);
    if (!en) return fail(E_TOO_MANY_VALUES, s);
    en[E_VAL_OFF] = pos(s);
    en[E_VAL_LEN] = static_cast<uint32_t>(te - s);
    if (via_value<false>(s, te, en, &at) != VIA_OK) return fail(E_BAD_VIA, at);
    out_[S_VIA_COUNT]++;
    if (e >= ve) return 0;
    p = e + 1;
  }
}

int32_t Scanner::route(uint32_t type, const uint8_t* line, const uint8_t* v, const uint8_t* ve,
                       const uint8_t* line_end) {
  const uint8_t* p = v;
  for (;;) {
    const uint8_t* s = skip_lws(p, ve);
    const uint8_t* gt;
    const uint8_t* e = addr_value_end(s, ve, end_, &gt);
    if (!e) return fail(E_BAD_ROUTE, s);
    const uint8_t* te = rtrim_lws(s, e);
    Addr a;
    if (s == te || !parse_addr(s, te, &a, end_, gt) || a.star) return fail(E_BAD_ROUTE, s);
    uint32_t* en = new_entry(type, line, line_end);
    if (!en) return fail(E_TOO_MANY_VALUES, s);
    en[E_VAL_OFF] = pos(s);
    en[E_VAL_LEN] = static_cast<uint32_t>(te - s);
    en[E_RT_URI_OFF] = pos(a.uri);
    en[E_RT_URI_LEN] = static_cast<uint32_t>(a.uri_end - a.uri);
    en[E_RT_LR] = uri_has_lr(a.uri, a.uri_end, end_) ? 1 : 0;
    out_[type == T_ROUTE ? S_ROUTE_COUNT : S_RR_COUNT]++;
    if (e >= ve) return 0;
    p = e + 1;
  }
}

static_assert(S_FROM_TAG_LEN == S_FROM_OFF + 5 && S_TO_TAG_LEN == S_TO_OFF + 5, "From/To slots");

int32_t Scanner::from_to(bool is_from, const uint8_t* v, const uint8_t* ve) {
  uint32_t* o = out_ + (is_from ? S_FROM_OFF : S_TO_OFF);  // OFF LEN URI_OFF URI_LEN TAG_OFF TAG_LEN
  if (o[0] != NONE) return fail(E_DUPLICATE_HEADER, v);
  Addr a;
  if (!parse_addr(v, ve, &a, end_) || a.star) return fail(is_from ? E_BAD_FROM : E_BAD_TO, v);
  o[0] = pos(v);
  o[1] = static_cast<uint32_t>(ve - v);
  o[2] = pos(a.uri);
  o[3] = static_cast<uint32_t>(a.uri_end - a.uri);
  if (a.tag) {
    o[4] = pos(a.tag);
    o[5] = static_cast<uint32_t>(a.tag_end - a.tag);
  }
  return 0;
}

// The fields with more to check than a number live in their own functions;
// header() itself is inlined into the line loop of run().
int32_t Scanner::callid(const uint8_t* line, const uint8_t* v, const uint8_t* ve) {
  if (out_[S_CALLID_OFF] != NONE) return fail(E_DUPLICATE_HEADER, line);
  if (v == ve) return fail(E_BAD_CALLID, v);
  const uint8_t* ws = find_lws(v, ve, end_);
  if (ws != ve) return fail(E_BAD_CALLID, ws);
  range(S_CALLID_OFF, v, ve);
  return 0;
}

int32_t Scanner::cseq(const uint8_t* line, const uint8_t* v, const uint8_t* ve) {
  if (out_[S_CSEQ_METHOD_OFF] != NONE) return fail(E_DUPLICATE_HEADER, line);
  const uint8_t* p = v;
  uint32_t num;
  // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2^31.
  if (!parse_uint(p, ve, 0x7FFFFFFFu, &num)) return fail(E_BAD_CSEQ, p);
  const uint8_t* m = skip_lws(p, ve);
  if (m == p || m >= ve) return fail(E_BAD_CSEQ, p);
  const uint8_t* me = SKIP_TOKEN(m, ve, end_);
  if (me != ve) return fail(E_BAD_CSEQ, me);
  out_[S_CSEQ_NUM] = num;
  range(S_CSEQ_METHOD_OFF, m, me);
  out_[S_CSEQ_METHOD] = method_id(m, static_cast<size_t>(me - m));
  return 0;
}

int32_t Scanner::contact(const uint8_t* v, const uint8_t* ve) {
  const uint8_t* gt;
  const uint8_t* e = addr_value_end(v, ve, end_, &gt);
  if (!e) return fail(E_BAD_CONTACT, v);
  Addr a;
  if (!parse_addr(v, e, &a, end_, gt)) return fail(E_BAD_CONTACT, v);
  range(S_CONTACT_OFF, v, ve);
  range(S_CONTACT_URI_OFF, a.uri, a.uri_end);
  return 0;
}

SY_INLINE int32_t Scanner::header(Hdr id, const uint8_t* line, const uint8_t* v, const uint8_t* ve,
                               const uint8_t* line_end) {
  switch (id) {
    case H_VIA:
      return via(line, v, ve, line_end);
    case H_FROM:
      return from_to(true, v, ve);
    case H_TO:
      return from_to(false, v, ve);
    case H_CALLID:
      return callid(line, v, ve);
    case H_CSEQ:
      return cseq(line, v, ve);
    case H_MAXFWD: {
      if (out_[S_MAXFWD] != NONE) return fail(E_DUPLICATE_HEADER, line);
      const uint8_t* p = v;
      uint32_t mf;
      if (!parse_uint(p, ve, 255, &mf) || p != ve) return fail(E_BAD_MAX_FORWARDS, v);
      out_[S_MAXFWD] = mf;
      range(S_MAXFWD_OFF, v, ve);
      return 0;
    }
    case H_ROUTE:
      return route(T_ROUTE, line, v, ve, line_end);
    case H_RR:
      return route(T_RR, line, v, ve, line_end);
    case H_CONTACT:
      if (out_[S_CONTACT_OFF] != NONE) return 0;  // the first Contact is the one we read
      return contact(v, ve);
    case H_CL: {
      if (out_[S_CL] != NONE) return fail(E_BAD_CONTENT_LENGTH, line);
      const uint8_t* p = v;
      uint32_t cl;
      if (!parse_uint(p, ve, 0xFFFFFFFEu, &cl) || p != ve) return fail(E_BAD_CONTENT_LENGTH, v);
      out_[S_CL] = cl;
      return 0;
    }
    case H_CT:
      if (out_[S_CT_OFF] == NONE) range(S_CT_OFF, v, ve);
      return 0;
    case H_OTHER:
      return 0;
  }
  return 0;
}

// The fixed slots before a scan: 0, and NONE for the fields that may be absent.
struct FixedInit {
  uint32_t v[FIXED];
  constexpr FixedInit() : v() {
    const uint32_t none_slots[] = {S_METHOD_OFF, S_RURI_OFF, S_REASON_OFF, S_FROM_OFF, S_FROM_URI_OFF,
                                   S_FROM_TAG_OFF, S_TO_OFF, S_TO_URI_OFF, S_TO_TAG_OFF, S_CALLID_OFF,
                                   S_CSEQ_METHOD_OFF, S_MAXFWD, S_MAXFWD_OFF, S_CONTACT_OFF,
                                   S_CONTACT_URI_OFF, S_CL, S_CT_OFF, S_ERROR_AT};
    for (uint32_t s : none_slots) v[s] = NONE;
  }
};
constexpr FixedInit kFixedInit;

int32_t Scanner::run(uint32_t off, uint32_t len) {
  uint32_t* o = out_;
  memcpy(o, kFixedInit.v, sizeof(kFixedInit.v));
  o[S_MSG_OFF] = off;
  o[S_MSG_LEN] = len;

  const uint8_t* p = b_ + off;
  const uint8_t* end = p + len;
  end_ = end;
  if (len > lim_.max_message) return fail(E_MESSAGE_TOO_LONG, nullptr);
  while (p < end && (*p == '\r' || *p == '\n')) p++;
  if (p == end) return fail(E_EMPTY, nullptr);

  // Start line.
  SpecialCursor cur(b_ + off, end, p);
  const uint8_t* ce;
  const uint8_t* nl;
  const uint8_t* bad = nullptr;
  uint32_t e0 = find_line(cur, p, end, &ce, &nl, &bad);
  if (e0) return fail(e0, bad);
  const bool crlf = ce != nl;
  int32_t r = start_line(p, ce);
  if (r) return r;
  p = nl + 1;
  o[S_HDRS_OFF] = pos(p);

  // Header fields. A field is handed to header() once its folded
  // continuation lines (if any) are known: it ends where the line at p
  // starts, its value eol bytes earlier (at the CR or LF).
  const uint8_t* f_line = nullptr;  // current field: start of its name
  Hdr f_id = H_OTHER;               // header() has nothing to do for H_OTHER
  const uint8_t* f_val = nullptr;   // after its ':'
  const size_t eol = crlf ? 2 : 1;
  const uint8_t* body = nullptr;
  const size_t max_line = lim_.max_header_line;
  const bool long_lines = static_cast<size_t>(end - p) > max_line;  // else no field can be too long
  const uint32_t max_headers = lim_.max_headers;
  uint32_t hdrs = 0;
  for (;;) {
    if (p >= end) break;  // headers end with the datagram: no body (lenient, like Kamailio)
    // The line's end. The usual case: its first byte <= 0x0D is the CR of a
    // CRLF (or the LF); anything else takes find_line(), which has the rules.
    const uint8_t* c = cur.candidate(p);
    uint16_t two = 0, crlf2;  // the candidate and the byte after it; "\r\n" as read the same way
    memcpy(&crlf2, "\r\n", 2);
    if (end - c >= 2) memcpy(&two, c, 2);
    if (two == crlf2) {
      ce = c;
      nl = c + 1;
    } else if (c < end && *c == '\n') {
      ce = nl = c;
    } else {
      uint32_t le = find_line(cur, p, end, &ce, &nl, &bad);
      if (le) return fail(le, bad);
    }
    if ((ce != nl) != crlf) return fail(E_BAD_LINE_ENDING, nl);
    size_t n = static_cast<size_t>(ce - p);
    if (n == 0) {
      body = nl + 1;
      break;
    }
    if (is_ws(*p)) {
      // §7.3.1 folding: continue the current field.
      if (!f_line) return fail(E_BAD_HEADER, p);
      if (long_lines && static_cast<size_t>(nl + 1 - f_line) > max_line) return fail(E_HEADER_TOO_LONG, f_line);
      p = nl + 1;
      continue;
    }
    if (f_id != H_OTHER) {
      const uint8_t* vs = skip_lws(f_val, p - eol);
      r = header(f_id, f_line, vs, rtrim_lws(vs, p - eol), p);
      if (r) return r;
    }
    const uint8_t* q = scan_name(p, ce, end, &f_id);
    if (q == p) return fail(E_BAD_HEADER, p);
    f_line = p;
    if (*q != ':') {  // else q < ce: *ce is CR or LF
      while (q < ce && is_ws(*q)) q++;
      if (q >= ce || *q != ':') return fail(E_BAD_HEADER, q);
    }
    f_val = q + 1;
    if (long_lines && static_cast<size_t>(nl + 1 - f_line) > max_line) return fail(E_HEADER_TOO_LONG, f_line);
    o[S_HDR_COUNT] = ++hdrs;
    if (hdrs > max_headers) return fail(E_TOO_MANY_HEADERS, p);
    p = nl + 1;
  }
  if (f_id != H_OTHER) {
    const uint8_t* vs = skip_lws(f_val, p - eol);
    r = header(f_id, f_line, vs, rtrim_lws(vs, p - eol), p);
    if (r) return r;
  }
  if (body) {
    o[S_HDRS_END] = pos(body) - (crlf ? 2 : 1);
    o[S_BODY_OFF] = pos(body);
  } else {
    o[S_HDRS_END] = pos(end);
    o[S_BODY_OFF] = pos(end);
  }
  uint32_t avail = static_cast<uint32_t>(end - (b_ + o[S_BODY_OFF]));
  if (o[S_CL] != NONE) {
    // §18.3: over UDP a Content-Length larger than the datagram is an error;
    // bytes past Content-Length are ignored.
    if (o[S_CL] > avail) return fail(E_BAD_CONTENT_LENGTH, b_ + o[S_BODY_OFF]);
    o[S_BODY_LEN] = o[S_CL];
  } else {
    o[S_BODY_LEN] = avail;
  }

  // §8.1.1: the header fields a proxy cannot work without (Max-Forwards may
  // be absent: the proxy inserts it, as Kamailio does).
  if (o[S_VIA_COUNT] == 0) return fail(E_MISSING_VIA, nullptr);
  if (o[S_FROM_OFF] == NONE) return fail(E_MISSING_FROM, nullptr);
  if (o[S_TO_OFF] == NONE) return fail(E_MISSING_TO, nullptr);
  if (o[S_CALLID_OFF] == NONE) return fail(E_MISSING_CALLID, nullptr);
  if (o[S_CSEQ_METHOD_OFF] == NONE) return fail(E_MISSING_CSEQ, nullptr);
  if (o[S_KIND] == 1) {
    // §8.1.1.5 / §17.2.3: the CSeq method matches the request method. Equal
    // ids other than M_OTHER stand for equal bytes, different ids for
    // different bytes.
    if (o[S_CSEQ_METHOD] != o[S_METHOD] ||
        (o[S_METHOD] == M_OTHER &&
         (o[S_CSEQ_METHOD_LEN] != o[S_METHOD_LEN] ||
          memcmp(b_ + o[S_CSEQ_METHOD_OFF], b_ + o[S_METHOD_OFF], o[S_METHOD_LEN]) != 0)))
      return fail(E_CSEQ_MISMATCH, b_ + o[S_CSEQ_METHOD_OFF]);
  }
  uint32_t h = ds_get_hash(b_ + o[S_CALLID_OFF], o[S_CALLID_LEN], nullptr, 0);
  o[S_CALLID_HASH] = h;
  o[S_BUCKET] = h & (BUCKETS - 1);
  return 0;
}

}  // namespace

uint32_t method_id(const uint8_t* p, size_t n) {
#define M(lit, id) \
  if (n == sizeof(lit) - 1 && memcmp(p, lit, n) == 0) return id;
  switch (n) {
    case 3:
      M("ACK", M_ACK) M("BYE", M_BYE) break;
    case 4:
      M("INFO", M_INFO) M("KDMQ", M_KDMQ) break;
    case 5:
      M("PRACK", M_PRACK) M("REFER", M_REFER) break;
    case 6:
      M("INVITE", M_INVITE) M("CANCEL", M_CANCEL) M("NOTIFY", M_NOTIFY) M("UPDATE", M_UPDATE) break;
    case 7:
      M("OPTIONS", M_OPTIONS) M("PUBLISH", M_PUBLISH) M("MESSAGE", M_MESSAGE) break;
    case 8:
      M("REGISTER", M_REGISTER) break;
    case 9:
      M("SUBSCRIBE", M_SUBSCRIBE) break;
    default:
      break;
  }
#undef M
  return M_OTHER;
}

int32_t parse_message(const uint8_t* buf, uint32_t off, uint32_t len, const Limits& lim, uint32_t* out) {
  Scanner s(buf, lim, out);
  return s.run(off, len);
}

}  // namespace sy
