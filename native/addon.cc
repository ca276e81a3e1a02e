// N-API surface of the addon. Only numbers and buffers cross: callers pass a
// byte buffer and a preallocated Uint32Array, and get a count or a negative
// code back. Arguments are checked in TypeScript (src/native/); here a range
// outside its buffer yields -E_ARGS instead of a read past the end.
#include <napi.h>

#include "hash.h"
#include "layout.h"
#include "parser.h"
#include "udp.h"

namespace sy {
namespace {

// Per-environment state: every worker thread that loads the addon gets its own.
struct Instance {
  Limits limits;
};

// The per-message entry points use the N-API C calls directly: one
// napi_get_typedarray_info per array and no wrapper objects keep the
// JS->C++ crossing near 100 ns (node-addon-api's checks cost ~4x that).

// Reads a typed array of the expected element type.
inline bool raw_array(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok) return false;
  return type == want;
}

inline uint32_t u32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : NONE; }

inline uint32_t raw_u32(napi_env env, napi_value v) {
  uint32_t r;
  return napi_get_value_uint32(env, v, &r) == napi_ok ? r : NONE;
}

inline napi_value raw_int(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

inline Limits* limits_of(napi_env env) {
  void* d = nullptr;
  napi_get_instance_data(env, &d);
  return &static_cast<Instance*>(d)->limits;
}

// parse(buf, off, len, out, outIndex) -> 0 | -Err
napi_value RawParse(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* bd;
  void* od;
  size_t blen, olen;
  if (argc < 5 || !raw_array(env, argv[0], napi_uint8_array, &bd, &blen) ||
      !raw_array(env, argv[3], napi_uint32_array, &od, &olen))
    return raw_int(env, -static_cast<int32_t>(E_ARGS));
  uint32_t off = raw_u32(env, argv[1]), len = raw_u32(env, argv[2]), at = raw_u32(env, argv[4]);
  if (off == NONE || len == NONE || at == NONE || static_cast<uint64_t>(off) + len > blen ||
      static_cast<uint64_t>(at) + STRIDE > olen)
    return raw_int(env, -static_cast<int32_t>(E_ARGS));
  return raw_int(env, parse_message(static_cast<const uint8_t*>(bd), off, len, *limits_of(env),
                                    static_cast<uint32_t*>(od) + at));
}

// parseBatch(buf, spans, count, out) -> number of well-formed messages.
// spans holds [offset, length] pairs; message i is written at out[i * STRIDE].
napi_value RawParseBatch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* bd;
  void* sd;
  void* od;
  size_t blen, slen, olen;
  if (argc < 4 || !raw_array(env, argv[0], napi_uint8_array, &bd, &blen) ||
      !raw_array(env, argv[1], napi_uint32_array, &sd, &slen) ||
      !raw_array(env, argv[3], napi_uint32_array, &od, &olen))
    return raw_int(env, -static_cast<int32_t>(E_ARGS));
  uint32_t count = raw_u32(env, argv[2]);
  if (count == NONE || static_cast<uint64_t>(count) * 2 > slen || static_cast<uint64_t>(count) * STRIDE > olen)
    return raw_int(env, -static_cast<int32_t>(E_ARGS));
  const uint8_t* b = static_cast<const uint8_t*>(bd);
  const uint32_t* spans = static_cast<const uint32_t*>(sd);
  const Limits& lim = *limits_of(env);
  int32_t good = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t off = spans[2 * i], len = spans[2 * i + 1];
    uint32_t* out = static_cast<uint32_t*>(od) + static_cast<size_t>(i) * STRIDE;
    if (static_cast<uint64_t>(off) + len > blen) {
      for (uint32_t k = 0; k < FIXED; k++) out[k] = 0;
      out[S_ERROR] = E_ARGS;
      out[S_ERROR_AT] = NONE;
      continue;
    }
    if (parse_message(b, off, len, lim, out) == 0) good++;
  }
  return raw_int(env, good);
}

// hash(buf, off, len [, off2, len2]) -> ds_get_hash; caseHash: core_case_hash.
// Bad arguments -> undefined.
template <bool Case>
napi_value RawHash(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_value undef;
  napi_get_undefined(env, &undef);
  void* bd;
  size_t blen;
  if (argc < 3 || !raw_array(env, argv[0], napi_uint8_array, &bd, &blen)) return undef;
  uint32_t off = raw_u32(env, argv[1]), len = raw_u32(env, argv[2]);
  uint32_t off2 = argc > 4 ? raw_u32(env, argv[3]) : NONE;
  uint32_t len2 = argc > 4 ? raw_u32(env, argv[4]) : NONE;
  if (off == NONE || len == NONE || static_cast<uint64_t>(off) + len > blen) return undef;
  const uint8_t* b = static_cast<const uint8_t*>(bd);
  const uint8_t* y = nullptr;
  size_t ylen = 0;
  if (off2 != NONE && len2 != NONE) {
    if (static_cast<uint64_t>(off2) + len2 > blen) return undef;
    y = b + off2;
    ylen = len2;
  }
  uint32_t h = Case ? core_case_hash(b + off, len, y, ylen) : ds_get_hash(b + off, len, y, ylen);
  napi_value r;
  napi_create_uint32(env, h, &r);
  return r;
}

Napi::Function Raw(Napi::Env env, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  return Napi::Function(env, fn);
}

// setLimits(maxMessage, maxHeaders, maxHeaderLine)
Napi::Value SetLimits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance* inst = env.GetInstanceData<Instance>();
  uint32_t m = u32(info[0]), h = u32(info[1]), l = u32(info[2]);
  if (m == NONE || h == NONE || l == NONE || m == 0 || h == 0 || l == 0) return Napi::Boolean::New(env, false);
  inst->limits.max_message = m;
  inst->limits.max_headers = h;
  inst->limits.max_header_line = l;
  return Napi::Boolean::New(env, true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new Instance());
  exports.Set("parse", Raw(env, "parse", RawParse));
  exports.Set("parseBatch", Raw(env, "parseBatch", RawParseBatch));
  exports.Set("hash", Raw(env, "hash", RawHash<false>));
  exports.Set("caseHash", Raw(env, "caseHash", RawHash<true>));
  exports.Set("setLimits", Napi::Function::New(env, SetLimits, "setLimits"));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("FIXED", FIXED);
  layout.Set("E_SIZE", static_cast<uint32_t>(E_SIZE));
  layout.Set("MAX_ENTRIES", MAX_ENTRIES);
  layout.Set("STRIDE", STRIDE);
  layout.Set("BUCKETS", BUCKETS);
  layout.Set("FIXED_END", static_cast<uint32_t>(S_FIXED_END));
  layout.Set("ERR_COUNT", static_cast<uint32_t>(E_COUNT));
  exports.Set("layout", layout);
  InitUdp(env, exports);
  return exports;
}

}  // namespace
}  // namespace sy

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return sy::Init(env, exports); }
NODE_API_MODULE(switchyard, InitModule)
