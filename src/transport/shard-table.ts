/**
 * The Call-ID bucket -> shard table. A Call-ID hashes (Kamailio ds_get_hash)
 * into one of 512 buckets; each bucket belongs to one shard, so every message
 * of a call - requests, replies, CANCEL, ACK, BYE - lands on the same shard.
 */
import { BUCKETS } from '../native/layout';

/** Buckets dealt round-robin: shard k owns buckets k, k+n, k+2n, ... */
export function buildShardTable(shards: number): Uint8Array {
  if (!Number.isInteger(shards) || shards < 1 || shards > 255) throw new RangeError(`shards must be 1..255, got ${shards}`);
  const table = new Uint8Array(BUCKETS);
  for (let b = 0; b < BUCKETS; b++) table[b] = b % shards;
  return table;
}
