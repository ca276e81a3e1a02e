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
#include "parser.h"

#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "hash.h"

namespace sy {
namespace {

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

// The first byte in [p, e) equal to one of Cs, or e. SSE2 compares 16 bytes
// at a time (x86-64 baseline); the tail and other targets go byte by byte.
template <char... Cs>
inline const uint8_t* find_any(const uint8_t* p, const uint8_t* e) {
#ifdef __SSE2__
  while (e - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hit = _mm_setzero_si128();
    ((hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(Cs)))), ...);
    const int m = _mm_movemask_epi8(hit);
    if (m) return p + __builtin_ctz(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  for (; p < e; p++) {
    const uint8_t c = *p;
    if (((c == static_cast<uint8_t>(Cs)) || ...)) return p;
  }
  return e;
}

// The next NUL, CR or LF: one pass finds the end of a line and anything that
// makes it malformed.
inline const uint8_t* next_special(const uint8_t* p, const uint8_t* end) { return find_any<'\0', '\r', '\n'>(p, end); }

// Finds the end of the line starting at p: sets *nl to its LF and returns the
// end of its content (the CR of a CRLF, or the LF), or an Err when a NUL, a
// bare CR or no LF comes first.
inline uint32_t find_line(const uint8_t* p, const uint8_t* end, const uint8_t** ce, const uint8_t** nl, const uint8_t** at) {
  const uint8_t* q = next_special(p, end);
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
inline const uint8_t* skip_quoted(const uint8_t* p, const uint8_t* e) {
  p++;
  while (p < e) {
    if (*p == '\\') {
      if (p + 1 >= e) return nullptr;
      p += 2;
    } else if (*p == '"') {
      return p + 1;
    } else {
      p++;
    }
  }
  return nullptr;
}

// Finds the end of one comma-separated value at depth 0 (outside quotes and
// angle brackets). Returns nullptr on an unbalanced quote.
inline const uint8_t* value_end(const uint8_t* p, const uint8_t* e) {
  bool in_angle = false;
  for (;;) {
    p = find_any<'"', '<', '>', ','>(p, e);
    if (p == e) return e;
    const uint8_t c = *p;
    if (c == '"') {
      p = skip_quoted(p, e);
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
inline const uint8_t* host_part(const uint8_t* u, const uint8_t* ue) {
  const uint8_t* h = u;
  for (const uint8_t* p = u; p < ue; p++)
    if (*p == '@') h = p + 1;
  return h;
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
bool parse_addr(const uint8_t* s, const uint8_t* e, Addr* a) {
  s = skip_lws(s, e);
  e = rtrim_lws(s, e);
  if (s >= e) return false;
  const uint8_t* p = s;
  if (*p == '"') {
    p = skip_quoted(p, e);
    if (!p) return false;
    p = skip_lws(p, e);
    if (p >= e || *p != '<') return false;
  } else {
    // Token display name (tokens and LWS) before '<', or an addr-spec.
    const uint8_t* q = p;
    while (q < e && *q != '<' && *q != ';' && *q != ',') q++;
    if (q < e && *q == '<') {
      for (const uint8_t* d = p; d < q; d++)
        if (!is_token(*d) && !is_lws(*d)) return false;
      p = q;
    } else {
      // addr-spec: the URI runs to the first ';' (header params follow).
      const uint8_t* ue = rtrim_lws(p, q);
      if (ue == p) return false;
      // RFC 3261 §20.10: a URI with ',', '?' or ';' needs <>; here ';' already ended it.
      for (const uint8_t* d = p; d < ue; d++)
        if (is_lws(*d) || *d == '>' || *d == '"') return false;
      if (memchr(host_part(p, ue), '?', static_cast<size_t>(ue - host_part(p, ue)))) return false;
      if (ue - p == 1 && *p == '*') {
        a->star = true;
      } else if (!memchr(p, ':', static_cast<size_t>(ue - p))) {
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
    const uint8_t* gt = find_any<'>', '<', '"', ' ', '\t', '\r', '\n'>(us, e);
    if (gt >= e || *gt != '>') return false;
    const uint8_t* ue = gt;
    if (us == ue || !memchr(us, ':', static_cast<size_t>(ue - us))) return false;
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
    while (p < e && is_token(*p)) p++;
    if (p == n) return false;
    const uint8_t* ne = p;
    p = skip_lws(p, e);
    const uint8_t* v = nullptr;
    const uint8_t* ve = nullptr;
    if (p < e && *p == '=') {
      p = skip_lws(p + 1, e);
      v = p;
      if (p < e && *p == '"') {
        p = skip_quoted(p, e);
        if (!p) return false;
      } else if (p < e && *p == '[') {
        const uint8_t* rb = static_cast<const uint8_t*>(memchr(p, ']', static_cast<size_t>(e - p)));
        if (!rb) return false;
        p = rb + 1;
      } else {
        while (p < e && is_token(*p)) p++;
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

// True when the URI [u, ue) carries the `lr` parameter (RFC 3261 §19.1.1).
// Parameters follow the host part: the user part (before the last '@') may
// itself hold ';' and '?'.
bool uri_has_lr(const uint8_t* u, const uint8_t* ue) {
  const uint8_t* h = host_part(u, ue);
  const uint8_t* q = static_cast<const uint8_t*>(memchr(h, '?', static_cast<size_t>(ue - h)));
  if (q) ue = q;  // URI headers follow '?'
  const uint8_t* p = h;
  while (p < ue) {
    const uint8_t* semi = static_cast<const uint8_t*>(memchr(p, ';', static_cast<size_t>(ue - p)));
    if (!semi) return false;
    p = semi + 1;
    if (ue - p >= 2 && lower(p[0]) == 'l' && lower(p[1]) == 'r' && (p + 2 == ue || p[2] == ';' || p[2] == '='))
      return true;
  }
  return false;
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
  int32_t header(const uint8_t* line, const uint8_t* name_end, const uint8_t* v, const uint8_t* ve,
                 const uint8_t* line_end);
  int32_t via(const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end);
  int32_t route(uint32_t type, const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end);
  int32_t from_to(bool is_from, const uint8_t* v, const uint8_t* ve);

  const uint8_t* b_;
  const Limits& lim_;
  uint32_t* out_;
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
  const uint8_t* p = s;
  while (p < e && is_token(*p)) p++;
  if (p == s || p >= e || *p != ' ') return fail(E_BAD_START_LINE, p);
  out_[S_KIND] = 1;
  range(S_METHOD_OFF, s, p);
  out_[S_METHOD] = method_id(s, static_cast<size_t>(p - s));
  const uint8_t* u = p + 1;
  const uint8_t* q = u;
  while (q < e && *q > ' ' && *q != 0x7f) q++;  // e is followed by CR/LF: the loop is bounded
  // RFC 3261 §19.1.5 / RFC 4475 §3.1.2.13: no URI headers ('?') in a Request-URI.
  if (q == u || q >= e || *q != ' ' || *u == '<' || !memchr(u, ':', static_cast<size_t>(q - u)) ||
      memchr(host_part(u, q), '?', static_cast<size_t>(q - host_part(u, q))))
    return fail(E_BAD_START_LINE, u);
  range(S_RURI_OFF, u, q);
  const uint8_t* ver = q + 1;
  if (eqi(ver, static_cast<size_t>(e - ver), kVersion, 7)) return 0;
  if (e - ver >= 4 && EQI(ver, 4, "sip/")) {
    // "SIP/2.0 " (trailing whitespace) is a bad start line, "SIP/7.0" a bad version.
    const uint8_t* t = ver + 4;
    while (t < e && (is_digit(*t) || *t == '.')) t++;
    if (t == e) return fail(E_BAD_VERSION, ver);
  }
  return fail(E_BAD_START_LINE, ver);
}

int32_t Scanner::via(const uint8_t* line, const uint8_t* v, const uint8_t* ve, const uint8_t* line_end) {
  const uint8_t* p = v;
  for (;;) {
    const uint8_t* s = skip_lws(p, ve);
    const uint8_t* e = value_end(s, ve);
    if (!e) return fail(E_BAD_VIA, s);
    const uint8_t* te = rtrim_lws(s, e);
    if (s == te) return fail(E_BAD_VIA, s);
    uint32_t* en = new_entry(T_VIA, line, line_end);
    if (!en) return fail(E_TOO_MANY_VALUES, s);
    en[E_VAL_OFF] = pos(s);
    en[E_VAL_LEN] = static_cast<uint32_t>(te - s);
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport (LWS allowed around '/')
    const uint8_t* q = s;
    for (int part = 0; part < 3; part++) {
      q = skip_lws(q, te);
      const uint8_t* t = q;
      while (q < te && is_token(*q)) q++;
      if (q == t) return fail(E_BAD_VIA, q);
      if (part == 2) {
        en[E_VIA_TRANSPORT_OFF] = pos(t);
        en[E_VIA_TRANSPORT_LEN] = static_cast<uint32_t>(q - t);
        break;
      }
      q = skip_lws(q, te);
      if (q >= te || *q != '/') return fail(E_BAD_VIA, q);
      q++;
    }
    // sent-by = host [ COLON port ]
    const uint8_t* h0 = q;
    q = skip_lws(q, te);
    if (q == h0 || q >= te) return fail(E_BAD_VIA, q);
    const uint8_t* h = q;
    if (*q == '[') {
      const uint8_t* rb = static_cast<const uint8_t*>(memchr(q, ']', static_cast<size_t>(te - q)));
      if (!rb) return fail(E_BAD_VIA, q);
      q = rb + 1;
    } else {
      while (q < te && is_host(*q)) q++;
    }
    if (q == h) return fail(E_BAD_VIA, q);
    en[E_VIA_HOST_OFF] = pos(h);
    en[E_VIA_HOST_LEN] = static_cast<uint32_t>(q - h);
    en[E_VIA_PORT] = 0;
    q = skip_lws(q, te);
    if (q < te && *q == ':') {
      q = skip_lws(q + 1, te);
      uint32_t port;
      if (!parse_uint(q, te, 65535, &port)) return fail(E_BAD_VIA, q);
      en[E_VIA_PORT] = port;
    }
    // via-params
    while (q < te) {
      q = skip_lws(q, te);
      if (q >= te) break;
      if (*q != ';') return fail(E_BAD_VIA, q);
      q = skip_lws(q + 1, te);
      const uint8_t* n = q;
      while (q < te && is_token(*q)) q++;
      if (q == n) return fail(E_BAD_VIA, q);
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
          q = skip_quoted(q, te);
          if (!q) return fail(E_BAD_VIA, pv);
        } else if (q < te && *q == '[') {
          const uint8_t* rb = static_cast<const uint8_t*>(memchr(q, ']', static_cast<size_t>(te - q)));
          if (!rb) return fail(E_BAD_VIA, q);
          q = rb + 1;
        } else {
          while (q < te && (is_token(*q) || *q == ':')) q++;
        }
        pve = q;
        if (pv == pve) return fail(E_BAD_VIA, pv);
      }
      size_t nl = static_cast<size_t>(ne - n);
      if (NAME_IS(n, nl, "branch")) {
        if (!has_value) return fail(E_BAD_VIA, n);
        en[E_VIA_BRANCH_OFF] = pos(pv);
        en[E_VIA_BRANCH_LEN] = static_cast<uint32_t>(pve - pv);
      } else if (NAME_IS(n, nl, "received")) {
        if (!has_value) return fail(E_BAD_VIA, n);
        en[E_VIA_RECEIVED_OFF] = pos(pv);
        en[E_VIA_RECEIVED_LEN] = static_cast<uint32_t>(pve - pv);
      } else if (NAME_IS(n, nl, "rport")) {
        en[E_VIA_RPORT_OFF] = pos(n);
        en[E_VIA_RPORT_LEN] = static_cast<uint32_t>((has_value ? pve : ne) - n);
      }
    }
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
    const uint8_t* e = value_end(s, ve);
    if (!e) return fail(E_BAD_ROUTE, s);
    const uint8_t* te = rtrim_lws(s, e);
    Addr a;
    if (s == te || !parse_addr(s, te, &a) || a.star) return fail(E_BAD_ROUTE, s);
    uint32_t* en = new_entry(type, line, line_end);
    if (!en) return fail(E_TOO_MANY_VALUES, s);
    en[E_VAL_OFF] = pos(s);
    en[E_VAL_LEN] = static_cast<uint32_t>(te - s);
    en[E_RT_URI_OFF] = pos(a.uri);
    en[E_RT_URI_LEN] = static_cast<uint32_t>(a.uri_end - a.uri);
    en[E_RT_LR] = uri_has_lr(a.uri, a.uri_end) ? 1 : 0;
    out_[type == T_ROUTE ? S_ROUTE_COUNT : S_RR_COUNT]++;
    if (e >= ve) return 0;
    p = e + 1;
  }
}

int32_t Scanner::from_to(bool is_from, const uint8_t* v, const uint8_t* ve) {
  uint32_t base = is_from ? S_FROM_OFF : S_TO_OFF;
  if (out_[base] != NONE) return fail(E_DUPLICATE_HEADER, v);
  Addr a;
  if (!parse_addr(v, ve, &a) || a.star) return fail(is_from ? E_BAD_FROM : E_BAD_TO, v);
  range(base, v, ve);
  range(base + 2, a.uri, a.uri_end);
  if (a.tag) range(base + 4, a.tag, a.tag_end);
  return 0;
}

int32_t Scanner::header(const uint8_t* line, const uint8_t* name_end, const uint8_t* v, const uint8_t* ve,
                        const uint8_t* line_end) {
  switch (header_id(line, static_cast<size_t>(name_end - line))) {
    case H_VIA:
      return via(line, v, ve, line_end);
    case H_FROM:
      return from_to(true, v, ve);
    case H_TO:
      return from_to(false, v, ve);
    case H_CALLID: {
      if (out_[S_CALLID_OFF] != NONE) return fail(E_DUPLICATE_HEADER, line);
      if (v == ve) return fail(E_BAD_CALLID, v);
      const uint8_t* ws = find_any<' ', '\t', '\r', '\n'>(v, ve);
      if (ws != ve) return fail(E_BAD_CALLID, ws);
      range(S_CALLID_OFF, v, ve);
      return 0;
    }
    case H_CSEQ: {
      if (out_[S_CSEQ_METHOD_OFF] != NONE) return fail(E_DUPLICATE_HEADER, line);
      const uint8_t* p = v;
      uint32_t num;
      // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2^31.
      if (!parse_uint(p, ve, 0x7FFFFFFFu, &num)) return fail(E_BAD_CSEQ, p);
      const uint8_t* m = skip_lws(p, ve);
      if (m == p || m >= ve) return fail(E_BAD_CSEQ, p);
      const uint8_t* me = m;
      while (me < ve && is_token(*me)) me++;
      if (me != ve) return fail(E_BAD_CSEQ, me);
      out_[S_CSEQ_NUM] = num;
      range(S_CSEQ_METHOD_OFF, m, me);
      out_[S_CSEQ_METHOD] = method_id(m, static_cast<size_t>(me - m));
      return 0;
    }
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
    case H_CONTACT: {
      if (out_[S_CONTACT_OFF] != NONE) return 0;  // the first Contact is the one we read
      const uint8_t* e = value_end(v, ve);
      if (!e) return fail(E_BAD_CONTACT, v);
      Addr a;
      if (!parse_addr(v, e, &a)) return fail(E_BAD_CONTACT, v);
      range(S_CONTACT_OFF, v, ve);
      range(S_CONTACT_URI_OFF, a.uri, a.uri_end);
      return 0;
    }
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

int32_t Scanner::run(uint32_t off, uint32_t len) {
  uint32_t* o = out_;
  for (uint32_t i = 0; i < FIXED; i++) o[i] = 0;
  const uint32_t none_slots[] = {S_METHOD_OFF, S_RURI_OFF, S_REASON_OFF, S_FROM_OFF, S_FROM_URI_OFF,
                                 S_FROM_TAG_OFF, S_TO_OFF, S_TO_URI_OFF, S_TO_TAG_OFF, S_CALLID_OFF,
                                 S_CSEQ_METHOD_OFF, S_MAXFWD, S_MAXFWD_OFF, S_CONTACT_OFF,
                                 S_CONTACT_URI_OFF, S_CL, S_CT_OFF, S_ERROR_AT};
  for (uint32_t s : none_slots) o[s] = NONE;
  o[S_MSG_OFF] = off;
  o[S_MSG_LEN] = len;

  const uint8_t* p = b_ + off;
  const uint8_t* end = p + len;
  if (len > lim_.max_message) return fail(E_MESSAGE_TOO_LONG, nullptr);
  while (p < end && (*p == '\r' || *p == '\n')) p++;
  if (p == end) return fail(E_EMPTY, nullptr);

  // Start line.
  const uint8_t* ce;
  const uint8_t* nl;
  const uint8_t* bad = nullptr;
  uint32_t e0 = find_line(p, end, &ce, &nl, &bad);
  if (e0) return fail(e0, bad);
  const bool crlf = ce != nl;
  int32_t r = start_line(p, ce);
  if (r) return r;
  p = nl + 1;
  o[S_HDRS_OFF] = pos(p);

  // Header fields. A field is handed to header() once its folded
  // continuation lines (if any) are known.
  const uint8_t* f_line = nullptr;  // current field: start of its name
  const uint8_t* f_name_end = nullptr;
  const uint8_t* f_val = nullptr;
  const uint8_t* f_val_end = nullptr;
  const uint8_t* f_line_end = nullptr;
  const uint8_t* body = nullptr;
  for (;;) {
    if (p >= end) break;  // headers end with the datagram: no body (lenient, like Kamailio)
    uint32_t le = find_line(p, end, &ce, &nl, &bad);
    if (le) return fail(le, bad);
    if ((ce != nl) != crlf) return fail(E_BAD_LINE_ENDING, nl);
    size_t n = static_cast<size_t>(ce - p);
    if (n == 0) {
      body = nl + 1;
      break;
    }
    if (is_ws(*p)) {
      // §7.3.1 folding: continue the current field.
      if (!f_line) return fail(E_BAD_HEADER, p);
      f_val_end = ce;
      f_line_end = nl + 1;
      if (static_cast<size_t>(f_line_end - f_line) > lim_.max_header_line) return fail(E_HEADER_TOO_LONG, f_line);
      p = nl + 1;
      continue;
    }
    if (f_line) {
      const uint8_t* vs = skip_lws(f_val, f_val_end);
      r = header(f_line, f_name_end, vs, rtrim_lws(vs, f_val_end), f_line_end);
      if (r) return r;
    }
    const uint8_t* q = p;
    while (is_token(*q)) q++;  // stops at the line's CR/LF at the latest
    if (q == p) return fail(E_BAD_HEADER, p);
    f_line = p;
    f_name_end = q;
    while (q < ce && is_ws(*q)) q++;
    if (q >= ce || *q != ':') return fail(E_BAD_HEADER, q);
    f_val = q + 1;
    f_val_end = ce;
    f_line_end = nl + 1;
    if (static_cast<size_t>(f_line_end - f_line) > lim_.max_header_line) return fail(E_HEADER_TOO_LONG, f_line);
    if (++o[S_HDR_COUNT] > lim_.max_headers) return fail(E_TOO_MANY_HEADERS, p);
    p = nl + 1;
  }
  if (f_line) {
    const uint8_t* vs = skip_lws(f_val, f_val_end);
    r = header(f_line, f_name_end, vs, rtrim_lws(vs, f_val_end), f_line_end);
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
    // §8.1.1.5 / §17.2.3: the CSeq method matches the request method.
    if (o[S_CSEQ_METHOD_LEN] != o[S_METHOD_LEN] ||
        memcmp(b_ + o[S_CSEQ_METHOD_OFF], b_ + o[S_METHOD_OFF], o[S_METHOD_LEN]) != 0)
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
