// libFuzzer target for the native SIP scanner (native/parser.cc) and the
// Kamailio hashes (native/hash.cc). Built and run by test/fuzz/run.sh:
//
//   clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
//     -fno-sanitize-recover=undefined -Inative test/fuzz/fuzz_parser.cc \
//     native/parser.cc native/hash.cc -o test/fuzz/out/fuzz_parser
//
// Every input is scanned several ways (see LLVMFuzzerTestOneInput) and each
// result is checked against the contract in native/parser.h / layout.h. A
// violated invariant prints what broke and calls abort(), which libFuzzer
// records as a crash (crash-<sha1> in the artifact directory).
#include <sanitizer/asan_interface.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hash.h"
#include "layout.h"
#include "parser.h"

using namespace sy;

namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n==fuzz_parser== INVARIANT VIOLATED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

// CHECK(cond, "format", args...): abort with a message when cond is false.
#define CHECK(cond, fmt, ...) \
  do {                                                                              \
    if (!(cond)) fail("line %d: " fmt " [failed: %s]", __LINE__, ##__VA_ARGS__, #cond); \
  } while (0)

// (offset, length) slot pairs among the fixed slots. Absent when OFF == NONE.
const uint32_t kPairs[] = {S_METHOD_OFF,   S_RURI_OFF,        S_REASON_OFF,   S_FROM_OFF,    S_FROM_URI_OFF,
                           S_FROM_TAG_OFF, S_TO_OFF,          S_TO_URI_OFF,   S_TO_TAG_OFF,  S_CALLID_OFF,
                           S_CSEQ_METHOD_OFF, S_MAXFWD_OFF,   S_CONTACT_OFF,  S_CONTACT_URI_OFF, S_CT_OFF};
// Fixed slots that hold absolute positions (shift with the message offset).
const uint32_t kPosSlots[] = {S_MSG_OFF,  S_METHOD_OFF,   S_RURI_OFF,     S_REASON_OFF,  S_HDRS_OFF,
                              S_HDRS_END, S_BODY_OFF,     S_FROM_OFF,     S_FROM_URI_OFF, S_FROM_TAG_OFF,
                              S_TO_OFF,   S_TO_URI_OFF,   S_TO_TAG_OFF,   S_CALLID_OFF,  S_CSEQ_METHOD_OFF,
                              S_MAXFWD_OFF, S_CONTACT_OFF, S_CONTACT_URI_OFF, S_CT_OFF,   S_ERROR_AT};
// Entry (Via) offset/length pairs after E_VAL.
const uint32_t kViaPairs[] = {E_VIA_HOST_OFF, E_VIA_BRANCH_OFF, E_VIA_RECEIVED_OFF, E_VIA_RPORT_OFF,
                              E_VIA_TRANSPORT_OFF};

bool is_pos_slot(uint32_t s) {
  for (uint32_t p : kPosSlots)
    if (p == s) return true;
  return false;
}
bool is_pos_entry_slot(uint32_t type, uint32_t k) {
  if (k == E_LINE_OFF || k == E_LINE_END || k == E_VAL_OFF) return true;
  if (type == T_VIA)
    return k == E_VIA_HOST_OFF || k == E_VIA_BRANCH_OFF || k == E_VIA_RECEIVED_OFF || k == E_VIA_RPORT_OFF ||
           k == E_VIA_TRANSPORT_OFF;
  return k == E_RT_URI_OFF;
}

bool is_limit_error(uint32_t e) {
  return e == E_TOO_MANY_HEADERS || e == E_HEADER_TOO_LONG || e == E_MESSAGE_TOO_LONG;
}

// [o, o+l) inside [lo, hi]?
inline bool within(uint64_t o, uint64_t l, uint64_t lo, uint64_t hi) { return o >= lo && o + l <= hi; }

// Reference ds_get_hash written after Kamailio dispatch.c (signed char bytes,
// p <= end - 4 loop), independent of the template in native/hash.cc.
uint32_t ref_mix(uint32_t h, const uint8_t* s, size_t n, bool fold) {
  auto at = [&](size_t i) -> uint32_t {
    uint8_t c = s[i];
    if (fold && c >= 'A' && c <= 'Z') c |= 0x20;
    return static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(c)));
  };
  size_t i = 0;
  uint32_t v;
  if (n >= 4)
    for (; i <= n - 4; i += 4) {
      v = (at(i) << 24) + (at(i + 1) << 16) + (at(i + 2) << 8) + at(i + 3);
      h += v ^ (v >> 3);
    }
  v = 0;
  for (; i < n; i++) {
    v <<= 8;
    v += at(i);
  }
  h += v ^ (v >> 3);
  return h;
}
uint32_t ref_hash(const uint8_t* x, size_t xl, const uint8_t* y, size_t yl, bool fold) {
  uint32_t h = 0;
  if (x) h = ref_mix(h, x, xl, fold);
  if (y) h = ref_mix(h, y, yl, fold);
  return (h + (h >> 11)) + ((h >> 13) + (h >> 23));
}

// Checks one parse_message() result. `base` is the buffer passed in, the
// message is [base + off, base + off + len).
void check_result(const char* mode, int32_t rc, const uint32_t* o, const uint8_t* base, uint32_t off, uint32_t len,
                  const Limits& lim) {
  const uint64_t lo = off, hi = static_cast<uint64_t>(off) + len;
  CHECK(o[S_MSG_OFF] == off && o[S_MSG_LEN] == len, "%s: MSG_OFF/LEN %u/%u want %u/%u", mode, o[S_MSG_OFF],
        o[S_MSG_LEN], off, len);
  if (rc != 0) {
    CHECK(rc < 0, "%s: rc=%d", mode, rc);
    CHECK(o[S_ERROR] >= 1 && o[S_ERROR] < E_COUNT, "%s: S_ERROR=%u", mode, o[S_ERROR]);
    CHECK(rc == -static_cast<int32_t>(o[S_ERROR]), "%s: rc=%d S_ERROR=%u", mode, rc, o[S_ERROR]);
    CHECK(o[S_ERROR] != E_ARGS, "%s: parse_message returned E_ARGS", mode);
    CHECK(o[S_ERROR_AT] == NONE || within(o[S_ERROR_AT], 0, lo, hi), "%s: S_ERROR_AT=%u outside [%u,%llu]", mode,
          o[S_ERROR_AT], off, static_cast<unsigned long long>(hi));
    return;
  }

  // Success.
  CHECK(o[S_ERROR] == 0 && o[S_ERROR_AT] == NONE, "%s: ok but S_ERROR=%u S_ERROR_AT=%u", mode, o[S_ERROR],
        o[S_ERROR_AT]);
  CHECK(len <= lim.max_message, "%s: ok with len %u > max_message %u", mode, len, lim.max_message);
  for (uint32_t s : kPairs) {
    if (o[s] == NONE) continue;
    CHECK(within(o[s], o[s + 1], lo, hi), "%s: slot %u = (%u,%u) outside [%u,%llu]", mode, s, o[s], o[s + 1], off,
          static_cast<unsigned long long>(hi));
  }
  const uint32_t hs = o[S_HDRS_OFF], he = o[S_HDRS_END], bo = o[S_BODY_OFF], bl = o[S_BODY_LEN];
  CHECK(lo <= hs && hs <= he && he <= bo && bo <= hi, "%s: HDRS_OFF=%u HDRS_END=%u BODY_OFF=%u msg=[%u,%llu]", mode,
        hs, he, bo, off, static_cast<unsigned long long>(hi));
  CHECK(static_cast<uint64_t>(bo) + bl <= hi, "%s: BODY_OFF+BODY_LEN=%u+%u > end %llu", mode, bo, bl,
        static_cast<unsigned long long>(hi));
  if (o[S_CL] != NONE) CHECK(bl == o[S_CL], "%s: BODY_LEN %u != Content-Length %u", mode, bl, o[S_CL]);
  else CHECK(static_cast<uint64_t>(bo) + bl == hi, "%s: no Content-Length but body does not reach the end", mode);

  // Start line.
  if (o[S_KIND] == 1) {
    CHECK(o[S_METHOD_OFF] != NONE && o[S_RURI_OFF] != NONE && o[S_REASON_OFF] == NONE && o[S_STATUS] == 0,
          "%s: request start-line slots", mode);
    CHECK(o[S_METHOD_LEN] > 0 && o[S_RURI_LEN] > 0 && o[S_METHOD_OFF] + o[S_METHOD_LEN] < o[S_RURI_OFF] &&
              o[S_RURI_OFF] + o[S_RURI_LEN] < hs,
          "%s: request line positions", mode);
    CHECK(o[S_METHOD] == method_id(base + o[S_METHOD_OFF], o[S_METHOD_LEN]), "%s: S_METHOD", mode);
    CHECK(o[S_CSEQ_METHOD_LEN] == o[S_METHOD_LEN] &&
              memcmp(base + o[S_CSEQ_METHOD_OFF], base + o[S_METHOD_OFF], o[S_METHOD_LEN]) == 0 &&
              o[S_CSEQ_METHOD] == o[S_METHOD],
          "%s: CSeq method differs from the request method", mode);
  } else {
    CHECK(o[S_KIND] == 2, "%s: S_KIND=%u", mode, o[S_KIND]);
    CHECK(o[S_METHOD] == 0 && o[S_METHOD_OFF] == NONE && o[S_RURI_OFF] == NONE && o[S_REASON_OFF] != NONE,
          "%s: response start-line slots", mode);
    CHECK(o[S_STATUS] >= 100 && o[S_STATUS] <= 699, "%s: S_STATUS=%u", mode, o[S_STATUS]);
    CHECK(o[S_REASON_OFF] + o[S_REASON_LEN] < hs, "%s: reason runs into the headers", mode);
  }

  // Mandatory headers and their sub-fields, all inside the header section.
  const uint32_t mandatory[] = {S_FROM_OFF, S_FROM_URI_OFF, S_TO_OFF, S_TO_URI_OFF, S_CALLID_OFF, S_CSEQ_METHOD_OFF};
  for (uint32_t s : mandatory) CHECK(o[s] != NONE, "%s: mandatory slot %u absent", mode, s);
  const uint32_t in_hdrs[] = {S_FROM_OFF,   S_TO_OFF,      S_CALLID_OFF,      S_CSEQ_METHOD_OFF,
                              S_MAXFWD_OFF, S_CONTACT_OFF, S_CONTACT_URI_OFF, S_CT_OFF};
  for (uint32_t s : in_hdrs)
    if (o[s] != NONE) CHECK(within(o[s], o[s + 1], hs, he), "%s: slot %u outside the header section", mode, s);
  const uint32_t sub[][2] = {{S_FROM_URI_OFF, S_FROM_OFF}, {S_FROM_TAG_OFF, S_FROM_OFF}, {S_TO_URI_OFF, S_TO_OFF},
                             {S_TO_TAG_OFF, S_TO_OFF},     {S_CONTACT_URI_OFF, S_CONTACT_OFF}};
  for (auto& sp : sub) {
    if (o[sp[0]] == NONE) continue;
    CHECK(o[sp[1]] != NONE && within(o[sp[0]], o[sp[0] + 1], o[sp[1]], static_cast<uint64_t>(o[sp[1]]) + o[sp[1] + 1]),
          "%s: slot %u not inside slot %u", mode, sp[0], sp[1]);
  }
  CHECK(o[S_FROM_URI_LEN] > 0 && o[S_TO_URI_LEN] > 0 && o[S_CALLID_LEN] > 0 && o[S_CSEQ_METHOD_LEN] > 0,
        "%s: empty mandatory field", mode);
  for (uint32_t i = 0; i < o[S_CALLID_LEN]; i++) {
    uint8_t c = base[o[S_CALLID_OFF] + i];
    CHECK(c != ' ' && c != '\t' && c != '\r' && c != '\n', "%s: whitespace in Call-ID", mode);
  }
  CHECK(o[S_CSEQ_NUM] <= 0x7FFFFFFFu, "%s: CSEQ_NUM=%u", mode, o[S_CSEQ_NUM]);
  CHECK(o[S_CSEQ_METHOD] == method_id(base + o[S_CSEQ_METHOD_OFF], o[S_CSEQ_METHOD_LEN]), "%s: S_CSEQ_METHOD", mode);
  CHECK((o[S_MAXFWD] == NONE) == (o[S_MAXFWD_OFF] == NONE), "%s: MAXFWD / MAXFWD_OFF disagree", mode);
  CHECK(o[S_MAXFWD] == NONE || o[S_MAXFWD] <= 255, "%s: S_MAXFWD=%u", mode, o[S_MAXFWD]);
  CHECK((o[S_CONTACT_OFF] == NONE) == (o[S_CONTACT_URI_OFF] == NONE), "%s: CONTACT / CONTACT_URI disagree", mode);

  // Hash and bucket.
  const uint32_t h = ds_get_hash(base + o[S_CALLID_OFF], o[S_CALLID_LEN], nullptr, 0);
  CHECK(o[S_CALLID_HASH] == h && h != 0, "%s: CALLID_HASH=%u want %u", mode, o[S_CALLID_HASH], h);
  CHECK(o[S_BUCKET] == (o[S_CALLID_HASH] & 511u) && o[S_BUCKET] == (o[S_CALLID_HASH] & (BUCKETS - 1)),
        "%s: BUCKET=%u HASH=%u", mode, o[S_BUCKET], o[S_CALLID_HASH]);

  // Counts.
  const uint32_t n = o[S_ENTRY_COUNT];
  CHECK(n <= MAX_ENTRIES, "%s: ENTRY_COUNT=%u > MAX_ENTRIES", mode, n);
  CHECK(static_cast<uint64_t>(o[S_VIA_COUNT]) + o[S_ROUTE_COUNT] + o[S_RR_COUNT] == n,
        "%s: VIA %u + ROUTE %u + RR %u != ENTRY_COUNT %u", mode, o[S_VIA_COUNT], o[S_ROUTE_COUNT], o[S_RR_COUNT], n);
  CHECK(o[S_VIA_COUNT] >= 1, "%s: ok without Via", mode);
  CHECK(o[S_HDR_COUNT] >= 5 && o[S_HDR_COUNT] <= lim.max_headers, "%s: HDR_COUNT=%u max_headers=%u", mode,
        o[S_HDR_COUNT], lim.max_headers);

  // Entries.
  uint32_t per_type[4] = {0, 0, 0, 0};
  uint32_t prev_line = 0, prev_val = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t* en = o + FIXED + i * E_SIZE;
    const uint32_t t = en[E_TYPE];
    CHECK(t == T_VIA || t == T_ROUTE || t == T_RR, "%s: entry %u type %u", mode, i, t);
    per_type[t]++;
    const uint32_t ls = en[E_LINE_OFF], le = en[E_LINE_END];
    CHECK(hs <= ls && ls < le && le <= he, "%s: entry %u line [%u,%u) hdrs [%u,%u]", mode, i, ls, le,
          hs, he);
    CHECK(en[E_VAL_OFF] != NONE && en[E_VAL_LEN] > 0 && within(en[E_VAL_OFF], en[E_VAL_LEN], ls, le),
          "%s: entry %u value (%u,%u) outside its line [%u,%u)", mode, i, en[E_VAL_OFF], en[E_VAL_LEN], ls, le);
    CHECK(ls >= prev_line && (i == 0 || en[E_VAL_OFF] > prev_val), "%s: entry %u out of wire order", mode, i);
    prev_line = ls;
    prev_val = en[E_VAL_OFF];
    const uint64_t vs = en[E_VAL_OFF], ve = vs + en[E_VAL_LEN];
    if (t == T_VIA) {
      CHECK(en[E_VIA_HOST_OFF] != NONE && en[E_VIA_HOST_LEN] > 0, "%s: entry %u Via without host", mode, i);
      CHECK(en[E_VIA_TRANSPORT_OFF] != NONE && en[E_VIA_TRANSPORT_LEN] > 0, "%s: entry %u Via without transport",
            mode, i);
      CHECK(en[E_VIA_PORT] <= 65535, "%s: entry %u port %u", mode, i, en[E_VIA_PORT]);
      for (uint32_t k : kViaPairs) {
        if (en[k] == NONE) continue;
        CHECK(within(en[k], en[k + 1], vs, ve), "%s: entry %u slot %u = (%u,%u) outside value [%llu,%llu)", mode, i,
              k, en[k], en[k + 1], static_cast<unsigned long long>(vs), static_cast<unsigned long long>(ve));
      }
      CHECK(en[E_VIA_BRANCH_OFF] == NONE || en[E_VIA_BRANCH_LEN] > 0, "%s: empty branch", mode);
      CHECK(en[E_VIA_RECEIVED_OFF] == NONE || en[E_VIA_RECEIVED_LEN] > 0, "%s: empty received", mode);
    } else {
      CHECK(en[E_RT_URI_OFF] != NONE && en[E_RT_URI_LEN] > 0 && within(en[E_RT_URI_OFF], en[E_RT_URI_LEN], vs, ve),
            "%s: entry %u route URI outside its value", mode, i);
      CHECK(en[E_RT_LR] == 0 || en[E_RT_LR] == 1, "%s: entry %u LR=%u", mode, i, en[E_RT_LR]);
      for (uint32_t k = E_RT_LR + 1; k < E_SIZE; k++)
        CHECK(en[k] == NONE, "%s: entry %u unused slot %u = %u", mode, i, k, en[k]);
    }
  }
  CHECK(per_type[T_VIA] == o[S_VIA_COUNT] && per_type[T_ROUTE] == o[S_ROUTE_COUNT] && per_type[T_RR] == o[S_RR_COUNT],
        "%s: entry types %u/%u/%u vs counts %u/%u/%u", mode, per_type[1], per_type[2], per_type[3], o[S_VIA_COUNT],
        o[S_ROUTE_COUNT], o[S_RR_COUNT]);
}

// a was parsed at offset 0 of its buffer, b at offset `shift`: same outcome,
// every position moved by `shift`.
void check_same(const char* mode, int32_t ra, const uint32_t* a, int32_t rb, const uint32_t* b, uint32_t shift) {
  CHECK(ra == rb, "%s: rc %d vs %d at offset 0", mode, rb, ra);
  auto fixed_eq = [&](uint32_t s) {
    uint32_t want = a[s];
    if (is_pos_slot(s) && want != NONE) want += shift;
    CHECK(b[s] == want, "%s: fixed slot %u = %u, want %u (offset-0 value %u + %u)", mode, s, b[s], want, a[s], shift);
  };
  if (ra != 0) {
    fixed_eq(S_ERROR);
    fixed_eq(S_ERROR_AT);
    fixed_eq(S_MSG_OFF);
    fixed_eq(S_MSG_LEN);
    return;
  }
  for (uint32_t s = 0; s < FIXED; s++) fixed_eq(s);
  for (uint32_t i = 0; i < a[S_ENTRY_COUNT]; i++) {
    const uint32_t* ea = a + FIXED + i * E_SIZE;
    const uint32_t* eb = b + FIXED + i * E_SIZE;
    for (uint32_t k = 0; k < E_SIZE; k++) {
      uint32_t want = ea[k];
      if (is_pos_entry_slot(ea[E_TYPE], k) && want != NONE) want += shift;
      CHECK(eb[k] == want, "%s: entry %u slot %u = %u, want %u", mode, i, k, eb[k], want);
    }
  }
}

struct Run {
  int32_t rc;
  std::vector<uint32_t> out;  // exactly STRIDE slots: ASan catches writes past the end
};

Run parse(const uint8_t* buf, uint32_t off, uint32_t len, const Limits& lim, uint32_t fill) {
  Run r{0, std::vector<uint32_t>(STRIDE, fill)};
  r.rc = parse_message(buf, off, len, lim, r.out.data());
  return r;
}

void fuzz_hashes(const uint8_t* d, size_t n) {
  // Exactly-sized copy so the 4-byte blocks cannot read past the end unnoticed.
  std::vector<uint8_t> copy(d, d + n);
  const uint8_t* x = copy.data();
  const uint32_t h = ds_get_hash(x, n, nullptr, 0);
  CHECK(h != 0, "ds_get_hash returned 0");
  const uint32_t ref = ref_hash(x, n, nullptr, 0, false);
  CHECK(h == (ref ? ref : 1u), "ds_get_hash=%u reference=%u (len %zu)", h, ref, n);
  CHECK(ds_get_hash(x, n, x, 0) == h, "ds_get_hash: empty y changed the value");
  const uint32_t c = core_case_hash(x, n, nullptr, 0);
  CHECK(c == ref_hash(x, n, nullptr, 0, true), "core_case_hash=%u reference=%u", c, ref_hash(x, n, nullptr, 0, true));
  // Folding: core_case_hash ignores A-Z case, i.e. equals the hash of the
  // lowercased bytes.
  std::vector<uint8_t> low(copy);
  for (auto& b : low)
    if (b >= 'A' && b <= 'Z') b |= 0x20;
  CHECK(core_case_hash(low.data(), n, nullptr, 0) == c, "core_case_hash not case-insensitive");
  // Two-part keys (uri_hash: user + host, etc.), split in the middle.
  const size_t k = n / 2;
  const uint32_t h2 = ds_get_hash(x, k, x + k, n - k);
  const uint32_t r2 = ref_hash(x, k, x + k, n - k, false);
  CHECK(h2 == (r2 ? r2 : 1u), "ds_get_hash(x,y)=%u reference=%u", h2, r2);
  CHECK(core_case_hash(x, k, x + k, n - k) == ref_hash(x, k, x + k, n - k, true), "core_case_hash(x,y)");
  CHECK(ds_get_hash(nullptr, 0, x, n) == h, "ds_get_hash(null, x) != ds_get_hash(x, null)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0x10000) return -1;  // -max_len keeps inputs far below this; do not add to the corpus
  const uint32_t len = static_cast<uint32_t>(size);
  const Limits def;

  // 1. The whole input as one message, straight from libFuzzer's buffer.
  Run a = parse(data, 0, len, def, 0);
  check_result("default", a.rc, a.out.data(), data, 0, len, def);

  // 2. Exactly-sized heap copy (any read past the end is a heap-buffer-overflow),
  //    output array pre-filled with junk (results must not depend on it).
  {
    std::vector<uint8_t> exact(data, data + size);
    Run b = parse(exact.data(), 0, len, def, 0xA5A5A5A5u);
    check_result("exact", b.rc, b.out.data(), exact.data(), 0, len, def);
    check_same("exact", a.rc, a.out.data(), b.rc, b.out.data(), 0);
  }

  // 3. Tiny limits. A limit can only turn the outcome into a limit error;
  //    otherwise the result is the default one, slot for slot.
  {
    const uint8_t k = size ? data[size - 1] : 0;
    const Limits tiny[] = {
        {65535, 1, 16},
        {65535, 5, 64},
        {65535, 8, 200},
        {len ? len - 1 : 0, 128, 8192},          // one byte too long
        {65535, static_cast<uint32_t>(k % 16), static_cast<uint32_t>(k)},  // input-derived, incl. 0
    };
    for (const Limits& lim : tiny) {
      Run t = parse(data, 0, len, lim, 0xFFFFFFFFu);
      check_result("tiny", t.rc, t.out.data(), data, 0, len, lim);
      if (t.rc != 0 && is_limit_error(t.out[S_ERROR])) continue;
      check_same("tiny-vs-default", a.rc, a.out.data(), t.rc, t.out.data(), 0);
    }
  }

  // 4. At a non-zero offset inside a larger buffer.
  //    4a. 8-aligned offset, the bytes before and after the message poisoned
  //        with ASan: any read outside [off, off + len) is reported.
  {
    const uint32_t off = 64, tail = 64;
    std::vector<uint8_t> big(off + size + tail, '\n');
    if (size) memcpy(big.data() + off, data, size);
    ASAN_POISON_MEMORY_REGION(big.data(), off);
    ASAN_POISON_MEMORY_REGION(big.data() + off + size, tail);
    Run c = parse(big.data(), off, len, def, 0);
    ASAN_UNPOISON_MEMORY_REGION(big.data(), big.size());
    check_result("offset64", c.rc, c.out.data(), big.data(), off, len, def);
    check_same("offset64", a.rc, a.out.data(), c.rc, c.out.data(), off);
  }
  //    4b. Odd offset, message at the very end of an exactly-sized buffer,
  //        preceded by bytes a scanner could mistake for message content.
  {
    const uint32_t off = 1 + static_cast<uint32_t>(size % 13);
    std::vector<uint8_t> big(off + size);
    static const char kJunk[] = "\r\n: ;,<>\"\\[]SIP/2.0 ";
    for (uint32_t i = 0; i < off; i++) big[i] = static_cast<uint8_t>(kJunk[i % (sizeof(kJunk) - 1)]);
    if (size) memcpy(big.data() + off, data, size);
    Run c = parse(big.data(), off, len, def, 0x5A5A5A5Au);
    check_result("offset-odd", c.rc, c.out.data(), big.data(), off, len, def);
    check_same("offset-odd", a.rc, a.out.data(), c.rc, c.out.data(), off);
  }
  //    4c. A prefix of the input as the message, the rest of the input
  //        following it in the buffer (a datagram shorter than the buffer,
  //        as in parseBatch); the rest is poisoned.
  if (size >= 2) {
    const uint32_t cut = static_cast<uint32_t>(size - 1 - data[0] % (size - 1 < 16 ? size - 1 : 16));
    std::vector<uint8_t> copy(data, data + size);
    ASAN_POISON_MEMORY_REGION(copy.data() + cut, size - cut);
    Run p = parse(copy.data(), 0, cut, def, 0);
    ASAN_UNPOISON_MEMORY_REGION(copy.data(), size);
    check_result("prefix", p.rc, p.out.data(), copy.data(), 0, cut, def);
  }

  // 5. The hashes on the raw input, and method_id on short inputs.
  fuzz_hashes(data, size);
  if (size <= 16) {
    const uint32_t m = method_id(data, size);
    CHECK((m >= M_INVITE && m <= M_KDMQ) || m == M_OTHER, "method_id=%u", m);
  }
  return 0;
}
