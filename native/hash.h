// Kamailio-compatible hashes.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sy {

// dispatch.c:ds_get_hash(x, y) of Kamailio's dispatcher, bit for bit: the
// hash of algorithms 0-3, 5 and 7. `y` may be null (absent, adds nothing).
// Bytes are taken as signed chars, as on x86-64 where Kamailio runs.
uint32_t ds_get_hash(const uint8_t* x, size_t xlen, const uint8_t* y, size_t ylen);

// core/hashes.h:core_case_hash(): the same mixing with A-Z folded to a-z,
// used by htable and by the dispatcher call-load table (ds_ht.c). Returns the
// unreduced value; callers mask it with (size - 1).
uint32_t core_case_hash(const uint8_t* x, size_t xlen, const uint8_t* y, size_t ylen);

}  // namespace sy
