/**
 * Output layout of the SIP scanner, mirrored from native/layout.h. The loader
 * (./index.ts) checks the addon's exported layout against these numbers and
 * refuses to use an addon built from other sources.
 *
 * Every position is an absolute byte offset into the scanned Buffer.
 */

export const NONE = 0xffffffff;

/** Fixed slots per message. */
export const S = {
  KIND: 0,
  ERROR: 1,
  MSG_OFF: 2,
  MSG_LEN: 3,
  METHOD: 4,
  METHOD_OFF: 5,
  METHOD_LEN: 6,
  RURI_OFF: 7,
  RURI_LEN: 8,
  STATUS: 9,
  REASON_OFF: 10,
  REASON_LEN: 11,
  HDRS_OFF: 12,
  HDRS_END: 13,
  BODY_OFF: 14,
  BODY_LEN: 15,
  FROM_OFF: 16,
  FROM_LEN: 17,
  FROM_URI_OFF: 18,
  FROM_URI_LEN: 19,
  FROM_TAG_OFF: 20,
  FROM_TAG_LEN: 21,
  TO_OFF: 22,
  TO_LEN: 23,
  TO_URI_OFF: 24,
  TO_URI_LEN: 25,
  TO_TAG_OFF: 26,
  TO_TAG_LEN: 27,
  CALLID_OFF: 28,
  CALLID_LEN: 29,
  CSEQ_NUM: 30,
  CSEQ_METHOD: 31,
  CSEQ_METHOD_OFF: 32,
  CSEQ_METHOD_LEN: 33,
  MAXFWD: 34,
  MAXFWD_OFF: 35,
  MAXFWD_LEN: 36,
  CONTACT_OFF: 37,
  CONTACT_LEN: 38,
  CONTACT_URI_OFF: 39,
  CONTACT_URI_LEN: 40,
  CL: 41,
  CT_OFF: 42,
  CT_LEN: 43,
  CALLID_HASH: 44,
  BUCKET: 45,
  VIA_COUNT: 46,
  ROUTE_COUNT: 47,
  RR_COUNT: 48,
  HDR_COUNT: 49,
  ENTRY_COUNT: 50,
  ERROR_AT: 51,
  FIXED_END: 52,
} as const;

/** Slots of one repeated value (Via, Route, Record-Route), in wire order. */
export const E = {
  TYPE: 0,
  LINE_OFF: 1,
  LINE_END: 2,
  VAL_OFF: 3,
  VAL_LEN: 4,
  VIA_HOST_OFF: 5,
  VIA_HOST_LEN: 6,
  VIA_PORT: 7,
  VIA_BRANCH_OFF: 8,
  VIA_BRANCH_LEN: 9,
  VIA_RECEIVED_OFF: 10,
  VIA_RECEIVED_LEN: 11,
  VIA_RPORT_OFF: 12,
  VIA_RPORT_LEN: 13,
  VIA_TRANSPORT_OFF: 14,
  VIA_TRANSPORT_LEN: 15,
  RT_URI_OFF: 5,
  RT_URI_LEN: 6,
  RT_LR: 7,
} as const;

export const EntryType = { VIA: 1, ROUTE: 2, RR: 3 } as const;

export const FIXED = 64;
export const E_SIZE = 16;
export const MAX_ENTRIES = 64;
export const STRIDE = FIXED + MAX_ENTRIES * E_SIZE;
/** Call-ID buckets: 2^9, the unit of sharding. */
export const BUCKETS = 512;

export const Method = {
  NONE: 0,
  INVITE: 1,
  ACK: 2,
  BYE: 3,
  CANCEL: 4,
  OPTIONS: 5,
  REGISTER: 6,
  PRACK: 7,
  SUBSCRIBE: 8,
  NOTIFY: 9,
  PUBLISH: 10,
  INFO: 11,
  REFER: 12,
  MESSAGE: 13,
  UPDATE: 14,
  KDMQ: 15,
  OTHER: 31,
} as const;
export type MethodId = (typeof Method)[keyof typeof Method];

/** Method token -> id (case-sensitive, RFC 3261 §7.1). */
export const METHOD_IDS: ReadonlyMap<string, MethodId> = new Map(
  Object.entries(Method).filter(([k]) => k !== 'NONE' && k !== 'OTHER') as [string, MethodId][],
);

/**
 * Scanner outcomes, in native order (index = code). Each name is what logs,
 * metrics and the 400 reason use.
 */
export const PARSE_ERRORS = [
  'OK',
  'EMPTY',
  'BAD_START_LINE',
  'BAD_VERSION',
  'BAD_STATUS',
  'MISSING_VIA',
  'MISSING_FROM',
  'MISSING_TO',
  'MISSING_CALLID',
  'MISSING_CSEQ',
  'CSEQ_MISMATCH',
  'BAD_CSEQ',
  'BAD_CONTENT_LENGTH',
  'TOO_MANY_HEADERS',
  'HEADER_TOO_LONG',
  'MESSAGE_TOO_LONG',
  'NUL_BYTE',
  'BAD_LINE_ENDING',
  'BAD_HEADER',
  'NO_HEADER_END',
  'BAD_VIA',
  'BAD_FROM',
  'BAD_TO',
  'BAD_MAX_FORWARDS',
  'TOO_MANY_VALUES',
  'BAD_CALLID',
  'DUPLICATE_HEADER',
  'BAD_CONTACT',
  'BAD_ROUTE',
  'ARGS',
] as const;
export type ParseErrorName = (typeof PARSE_ERRORS)[number];
export const ParseError = Object.fromEntries(PARSE_ERRORS.map((n, i) => [n, i])) as {
  readonly [K in ParseErrorName]: number;
};

/** Fixed slots holding absolute byte offsets (NONE when absent). */
export const FIXED_OFFSET_SLOTS: readonly number[] = [
  S.MSG_OFF, S.METHOD_OFF, S.RURI_OFF, S.REASON_OFF, S.HDRS_OFF, S.HDRS_END, S.BODY_OFF,
  S.FROM_OFF, S.FROM_URI_OFF, S.FROM_TAG_OFF, S.TO_OFF, S.TO_URI_OFF, S.TO_TAG_OFF, S.CALLID_OFF,
  S.CSEQ_METHOD_OFF, S.MAXFWD_OFF, S.CONTACT_OFF, S.CONTACT_URI_OFF, S.CT_OFF, S.ERROR_AT,
];
/** Entry slots holding absolute byte offsets, per entry type. */
export const VIA_OFFSET_SLOTS: readonly number[] = [
  E.LINE_OFF, E.LINE_END, E.VAL_OFF, E.VIA_HOST_OFF, E.VIA_BRANCH_OFF, E.VIA_RECEIVED_OFF, E.VIA_RPORT_OFF, E.VIA_TRANSPORT_OFF,
];
export const ROUTE_OFFSET_SLOTS: readonly number[] = [E.LINE_OFF, E.LINE_END, E.VAL_OFF, E.RT_URI_OFF];

/**
 * Copies one message's slots from `src[at...]` to `dst[0...]`, moving every
 * offset by -`delta` (the message copied out of a batch buffer to offset 0):
 * a kept message without scanning it again.
 */
export function rebaseSlots(src: Uint32Array, at: number, dst: Uint32Array, delta: number): void {
  const entries = src[at + S.ENTRY_COUNT]!;
  const n = FIXED + entries * E_SIZE;
  dst.set(src.subarray(at, at + n));
  for (const s of FIXED_OFFSET_SLOTS) if (dst[s] !== NONE) dst[s] = dst[s]! - delta;
  for (let i = 0; i < entries; i++) {
    const b = FIXED + i * E_SIZE;
    const slots = dst[b + E.TYPE] === EntryType.VIA ? VIA_OFFSET_SLOTS : ROUTE_OFFSET_SLOTS;
    for (const s of slots) if (dst[b + s] !== NONE) dst[b + s] = dst[b + s]! - delta;
  }
}

/** Safety limits of the scanner (config `sip.*`). */
export interface ParseLimits {
  maxMessage: number;
  maxHeaders: number;
  maxHeaderLine: number;
}
export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxMessage: 65535,
  maxHeaders: 128,
  maxHeaderLine: 8192,
});
