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

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool ok = false;
};

inline Bytes bytes_of(const Napi::Value& v) {
  Bytes b;
  if (!v.IsTypedArray()) return b;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return b;
  Napi::Uint8Array u = v.As<Napi::Uint8Array>();
  b.data = u.Data();
  b.size = u.ByteLength();
  b.ok = true;
  return b;
}

struct Words {
  uint32_t* data = nullptr;
  size_t size = 0;
  bool ok = false;
};

inline Words words_of(const Napi::Value& v) {
  Words w;
  if (!v.IsTypedArray()) return w;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint32_array) return w;
  Napi::Uint32Array u = v.As<Napi::Uint32Array>();
  w.data = u.Data();
  w.size = u.ElementLength();
  w.ok = true;
  return w;
}

inline uint32_t u32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : NONE; }

Napi::Value Code(Napi::Env env, int32_t c) { return Napi::Number::New(env, c); }

// parse(buf, off, len, out, outIndex) -> 0 | -Err
Napi::Value Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance* inst = env.GetInstanceData<Instance>();
  Bytes b = bytes_of(info[0]);
  Words w = words_of(info[3]);
  uint32_t off = u32(info[1]), len = u32(info[2]), at = u32(info[4]);
  if (!b.ok || !w.ok || off == NONE || len == NONE || at == NONE || static_cast<uint64_t>(off) + len > b.size ||
      static_cast<uint64_t>(at) + STRIDE > w.size)
    return Code(env, -static_cast<int32_t>(E_ARGS));
  return Code(env, parse_message(b.data, off, len, inst->limits, w.data + at));
}

// parseBatch(buf, spans, count, out) -> number of well-formed messages.
// spans holds [offset, length] pairs; message i is written at out[i * STRIDE].
Napi::Value ParseBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance* inst = env.GetInstanceData<Instance>();
  Bytes b = bytes_of(info[0]);
  Words spans = words_of(info[1]);
  uint32_t count = u32(info[2]);
  Words w = words_of(info[3]);
  if (!b.ok || !spans.ok || !w.ok || count == NONE || static_cast<uint64_t>(count) * 2 > spans.size ||
      static_cast<uint64_t>(count) * STRIDE > w.size)
    return Code(env, -static_cast<int32_t>(E_ARGS));
  int32_t good = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t off = spans.data[2 * i], len = spans.data[2 * i + 1];
    uint32_t* out = w.data + static_cast<size_t>(i) * STRIDE;
    if (static_cast<uint64_t>(off) + len > b.size) {
      for (uint32_t k = 0; k < FIXED; k++) out[k] = 0;
      out[S_ERROR] = E_ARGS;
      out[S_ERROR_AT] = NONE;
      continue;
    }
    if (parse_message(b.data, off, len, inst->limits, out) == 0) good++;
  }
  return Code(env, good);
}

// hash(buf, off, len [, off2, len2]) -> ds_get_hash; caseHash: core_case_hash.
template <bool Case>
Napi::Value Hash(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes b = bytes_of(info[0]);
  uint32_t off = u32(info[1]), len = u32(info[2]);
  uint32_t off2 = info.Length() > 4 ? u32(info[3]) : NONE;
  uint32_t len2 = info.Length() > 4 ? u32(info[4]) : NONE;
  if (!b.ok || off == NONE || len == NONE || static_cast<uint64_t>(off) + len > b.size)
    return env.Undefined();
  const uint8_t* y = nullptr;
  size_t ylen = 0;
  if (off2 != NONE && len2 != NONE) {
    if (static_cast<uint64_t>(off2) + len2 > b.size) return env.Undefined();
    y = b.data + off2;
    ylen = len2;
  }
  uint32_t h = Case ? core_case_hash(b.data + off, len, y, ylen) : ds_get_hash(b.data + off, len, y, ylen);
  return Napi::Number::New(env, h);
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
  exports.Set("parse", Napi::Function::New(env, Parse, "parse"));
  exports.Set("parseBatch", Napi::Function::New(env, ParseBatch, "parseBatch"));
  exports.Set("hash", Napi::Function::New(env, Hash<false>, "hash"));
  exports.Set("caseHash", Napi::Function::New(env, Hash<true>, "caseHash"));
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
