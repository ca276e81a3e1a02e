// Output layout of the SIP scanner: what parse() writes into a Uint32Array.
//
// Every position is an absolute byte offset into the Buffer that was scanned,
// so JavaScript reads fields straight out of that Buffer (no copies, no
// strings built here). A position is valid only while that Buffer is.
// src/native/layout.ts mirrors these numbers; the addon exports them and the
// loader refuses to run when the two disagree.
#pragma once
#include <cstdint>

namespace sy {

constexpr uint32_t NONE = 0xFFFFFFFFu;

// Fixed slots, per message.
enum Slot : uint32_t {
  S_KIND = 0,          // 0 invalid, 1 request, 2 response
  S_ERROR,             // 0 or an Err (positive)
  S_MSG_OFF,
  S_MSG_LEN,
  S_METHOD,            // Method id (request), 0 for a response
  S_METHOD_OFF,
  S_METHOD_LEN,
  S_RURI_OFF,
  S_RURI_LEN,
  S_STATUS,            // 100..699 (response), 0 for a request
  S_REASON_OFF,
  S_REASON_LEN,
  S_HDRS_OFF,          // first header line
  S_HDRS_END,          // start of the empty line that ends the headers
  S_BODY_OFF,
  S_BODY_LEN,          // Content-Length if present, else the rest of the datagram
  S_FROM_OFF, S_FROM_LEN, S_FROM_URI_OFF, S_FROM_URI_LEN, S_FROM_TAG_OFF, S_FROM_TAG_LEN,
  S_TO_OFF, S_TO_LEN, S_TO_URI_OFF, S_TO_URI_LEN, S_TO_TAG_OFF, S_TO_TAG_LEN,
  S_CALLID_OFF, S_CALLID_LEN,
  S_CSEQ_NUM, S_CSEQ_METHOD, S_CSEQ_METHOD_OFF, S_CSEQ_METHOD_LEN,
  S_MAXFWD,            // value, NONE if absent
  S_MAXFWD_OFF, S_MAXFWD_LEN,
  S_CONTACT_OFF, S_CONTACT_LEN, S_CONTACT_URI_OFF, S_CONTACT_URI_LEN,
  S_CL,                // Content-Length value, NONE if absent
  S_CT_OFF, S_CT_LEN,
  S_CALLID_HASH,       // ds_get_hash(Call-ID), Kamailio dispatcher algorithm 0
  S_BUCKET,            // S_CALLID_HASH & (BUCKETS - 1)
  S_VIA_COUNT, S_ROUTE_COUNT, S_RR_COUNT, S_HDR_COUNT,
  S_ENTRY_COUNT,
  S_ERROR_AT,          // byte offset near the problem (for logs), NONE if n/a
  S_FIXED_END
};

constexpr uint32_t FIXED = 64;      // fixed slots (room to grow)
static_assert(S_FIXED_END <= FIXED, "fixed slots overflow");

// Repeated values (every Via, Route, Record-Route value), in wire order.
enum EntrySlot : uint32_t {
  E_TYPE = 0,          // EntryType
  E_LINE_OFF,          // start of the header line holding this value (its name)
  E_LINE_END,          // end of that line, after its CRLF (and any folded lines)
  E_VAL_OFF, E_VAL_LEN,
  // Via
  E_VIA_HOST_OFF = 5, E_VIA_HOST_LEN, E_VIA_PORT,
  E_VIA_BRANCH_OFF, E_VIA_BRANCH_LEN,
  E_VIA_RECEIVED_OFF, E_VIA_RECEIVED_LEN,
  E_VIA_RPORT_OFF, E_VIA_RPORT_LEN,       // RPORT_OFF NONE when ;rport is absent
  E_VIA_TRANSPORT_OFF, E_VIA_TRANSPORT_LEN,
  // Route / Record-Route
  E_RT_URI_OFF = 5, E_RT_URI_LEN, E_RT_LR,
  E_SIZE = 16
};

enum EntryType : uint32_t { T_VIA = 1, T_ROUTE = 2, T_RR = 3 };

constexpr uint32_t MAX_ENTRIES = 64;
constexpr uint32_t STRIDE = FIXED + MAX_ENTRIES * E_SIZE;  // 1088 slots per message
constexpr uint32_t BUCKETS = 512;                          // 2^9 Call-ID buckets

// SIP methods (case-sensitive, RFC 3261 §7.1). OTHER: any other token.
enum Method : uint32_t {
  M_NONE = 0, M_INVITE, M_ACK, M_BYE, M_CANCEL, M_OPTIONS, M_REGISTER, M_PRACK,
  M_SUBSCRIBE, M_NOTIFY, M_PUBLISH, M_INFO, M_REFER, M_MESSAGE, M_UPDATE, M_KDMQ,
  M_OTHER = 31
};

// Scanner outcomes. parse() returns 0 or -Err.
enum Err : uint32_t {
  OK = 0,
  E_EMPTY = 1,              // zero bytes, or only CR/LF (a keep-alive)
  E_BAD_START_LINE,
  E_BAD_VERSION,
  E_BAD_STATUS,
  E_MISSING_VIA,
  E_MISSING_FROM,
  E_MISSING_TO,
  E_MISSING_CALLID,
  E_MISSING_CSEQ,
  E_CSEQ_MISMATCH,
  E_BAD_CSEQ,
  E_BAD_CONTENT_LENGTH,
  E_TOO_MANY_HEADERS,
  E_HEADER_TOO_LONG,
  E_MESSAGE_TOO_LONG,
  E_NUL_BYTE,
  E_BAD_LINE_ENDING,
  E_BAD_HEADER,
  E_NO_HEADER_END,
  E_BAD_VIA,
  E_BAD_FROM,
  E_BAD_TO,
  E_BAD_MAX_FORWARDS,
  E_TOO_MANY_VALUES,
  E_BAD_CALLID,
  E_DUPLICATE_HEADER,
  E_BAD_CONTACT,
  E_BAD_ROUTE,
  E_ARGS,                   // the caller passed ranges outside its buffers
  E_COUNT
};

struct Limits {
  uint32_t max_message = 65535;     // bytes in one datagram
  uint32_t max_headers = 128;       // header fields (not values)
  uint32_t max_header_line = 8192;  // bytes of one header field, folded lines included
};

}  // namespace sy
