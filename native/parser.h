// Zero-copy SIP scanner: finds the start line and the headers the engine
// needs and writes their positions into a caller-owned uint32 array
// (layout.h). It never allocates, never throws and never reads outside
// [buf + off, buf + off + len).
#pragma once
#include <cstddef>
#include <cstdint>

#include "layout.h"

namespace sy {

// Scans one message of `len` bytes starting at `buf + off`. Positions written
// to `out` (STRIDE slots) are absolute (they include `off`). Returns 0, or
// -Err when the message is malformed (then out[S_ERROR] holds the Err too).
int32_t parse_message(const uint8_t* buf, uint32_t off, uint32_t len, const Limits& lim, uint32_t* out);

// Method id of a method token (case-sensitive, RFC 3261 §7.1).
uint32_t method_id(const uint8_t* p, size_t n);

}  // namespace sy
