/**
 * Shard telemetry in shared memory: each shard owns one block of float64
 * slots in a SharedArrayBuffer and is its only writer; the main thread reads
 * every block when metrics are scraped. Nothing crosses threads per message:
 * counters on the message path are plain array increments, the rest is
 * copied from the shard's stats once per timer tick.
 */
import { PARSE_ERRORS } from '../native/layout';

/** Slot layout of one shard's block. */
export const T = {
  /** Requests in, by method id (32 slots). */
  REQ_IN: 0,
  /** Replies in, by class 1..6 (index = class). */
  REPLY_IN: 32,
  /** Parse errors by scanner error code (32 slots). */
  PARSE_ERR: 40,
  DATAGRAMS_SENT: 72,
  SEND_DROPS: 73,
  SEND_BATCHES: 74,
  BATCHES: 75,
  /** Batch size histogram: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64+ (7 slots). */
  BATCH_HIST: 76,
  RELAYED: 83,
  STATELESS_RELAYED: 84,
  RETR_ABSORBED: 85,
  RETR_SENT: 86,
  LOCAL_REPLIES: 87,
  TIMEOUTS: 88,
  FAILURE_ROUTES: 89,
  STRAY_REPLIES: 90,
  ROUTE_ERRORS: 91,
  TRANSACTIONS_TOTAL: 92,
  TRANSACTIONS_ACTIVE: 93,
  DIALOGS_ACTIVE: 94,
  BAD_REQUEST_REPLIES: 95,
  /** Event loop delay of the shard's thread, ms. */
  LOOP_DELAY_P50: 96,
  LOOP_DELAY_P99: 97,
  LOOP_DELAY_MAX: 98,
  /** Timers pending in the shard's wheel. */
  TIMERS: 99,
  /** Dialogs by state 1..5 (index = state). */
  DIALOG_STATE: 100,
  /** Server transactions without a final reply yet (what a drain waits for). */
  TRANSACTIONS_PENDING: 106,
  SIZE: 112,
} as const;

/** Upper bound of batch-size histogram bucket i (inclusive). */
export const BATCH_BUCKETS = [1, 3, 7, 15, 31, 63, Infinity] as const;

export function batchBucket(n: number): number {
  return n <= 1 ? 0 : Math.min(6, 31 - Math.clz32(n));
}

export class Telemetry {
  readonly buffer: SharedArrayBuffer;
  readonly shards: number;
  private readonly f: Float64Array;

  constructor(shards: number, buffer?: SharedArrayBuffer) {
    this.shards = shards;
    this.buffer = buffer ?? new SharedArrayBuffer(shards * T.SIZE * 8);
    this.f = new Float64Array(this.buffer);
  }

  /** The writable block of one shard. */
  block(shard: number): Float64Array {
    return this.f.subarray(shard * T.SIZE, (shard + 1) * T.SIZE);
  }

  /** Sum of one slot over every shard. */
  sum(slot: number): number {
    let s = 0;
    for (let k = 0; k < this.shards; k++) s += this.f[k * T.SIZE + slot]!;
    return s;
  }

  /** One slot of one shard. */
  get(shard: number, slot: number): number {
    return this.f[shard * T.SIZE + slot]!;
  }

  /** Parse error names with their totals (non-zero only). */
  parseErrors(): { error: string; count: number }[] {
    const out: { error: string; count: number }[] = [];
    for (let code = 1; code < PARSE_ERRORS.length; code++) {
      const n = this.sum(T.PARSE_ERR + code);
      if (n > 0) out.push({ error: PARSE_ERRORS[code]!, count: n });
    }
    return out;
  }
}
