/**
 * Alg 10 call-load table (Kamailio 5.6.3 `ds_ht.c`, `dispatch.c:ds_load_*`,
 * `ds_ht_timer()`; spec shared/spec/dispatcher.md §6).
 *
 * Contract:
 * - `ds_hash_size = k > 0` gives 2^k buckets. An entry is keyed by the
 *   Call-ID (case-sensitive, byte-exact compare); its bucket is
 *   `core_case_hash(callid) & (2^k - 1)`; inside a bucket entries are kept
 *   sorted by that (unreduced) hash, a new one after existing equal hashes.
 * - Entry = Call-ID, duid of the chosen destination, set id, state (INIT or
 *   CONFIRMED), `expire = now + ds_hash_expire` and `initexpire = now +
 *   ds_hash_initexpire` in whole seconds (Kamailio `time(NULL)`), fixed at
 *   creation and never refreshed.
 * - The purge (`ds_hash_check_interval`, s) removes an entry when
 *   `expire < now` or (INIT and `initexpire < now`) and decrements its
 *   destination's load.
 * - The table is PER SHARD: a Call-ID is always handled by the same shard, so
 *   its entry lives there and needs no lock. The load counters (`dload`) it
 *   increments/decrements live in the shared DsState (Atomics), so every
 *   shard's alg 10 selection sees the total. A reload keeps the table (and its
 *   entries) and re-targets it to the new list: decrements then find the
 *   destination by set id + duid in the current list (case-insensitive, like
 *   `ds_load_remove_byid()`), floor 0.
 * - Hooks for the dialog module: `loadUpdate(callId, 'confirmed' | 'ended')`
 *   and `loadRemove(callId)`; `loadUpdateMessage()` is Kamailio's
 *   `ds_load_update()` on a request/reply (BYE/CANCEL remove, 2xx to INVITE
 *   confirms).
 */
import { coreCaseHashWire } from '../native';

/** Entry state (ds_ht.h). */
export const DS_LOAD_INIT = 0;
export const DS_LOAD_CONFIRMED = 1;

export interface DsLoadCell {
  readonly callId: string;
  readonly duid: string;
  readonly setId: number;
  /** core_case_hash(callId), unreduced (Kamailio `cellid`). */
  readonly hash: number;
  state: number;
  /** Absolute, seconds. */
  readonly expire: number;
  /** Absolute, seconds. */
  readonly initexpire: number;
}

/**
 * What the table updates: the current list's destinations (implemented by
 * `Dispatcher`). Indexes are DsState global indexes.
 */
export interface DsLoadTarget {
  /** True when the set id exists in the current list. */
  loadHasSet(setId: number): boolean;
  /** Global index of the first destination of `setId` whose duid equals `duid` case-insensitively; -1 when none. */
  loadFind(setId: number, duid: string): number;
  /** Same scan as `ds_load_replace()`: indexes of the old and new duid in one pass. */
  loadFindPair(setId: number, oldDuid: string, newDuid: string): { old: number; new: number };
  /** Duid of a destination ('' when it has none). */
  loadDuid(index: number): string;
  loadInc(index: number): void;
  loadDec(index: number): void;
}

export interface CallLoadOptions {
  /** `ds_hash_size`: 2^hashSize buckets, 1..30. */
  readonly hashSize: number;
  /** `ds_hash_expire`, s (default 7200). */
  readonly expire?: number;
  /** `ds_hash_initexpire`, s (default 7200). */
  readonly initExpire?: number;
  /** Clock in whole seconds (default `Math.floor(Date.now() / 1000)`). */
  readonly clock?: () => number;
}

/** A SIP message as far as `ds_load_update()` looks at it. */
export type DsLoadMessage =
  | { readonly kind: 'request'; readonly method: string }
  | { readonly kind: 'reply'; readonly cseqMethod: string; readonly status: number };

const systemClock = (): number => Math.floor(Date.now() / 1000);

/** The per-shard call-load table. */
export class CallLoadTable {
  /** Number of buckets (2^hashSize). */
  readonly buckets: number;
  readonly expire: number;
  readonly initExpire: number;
  /** The list the load counters belong to; set by the Dispatcher (again on every reload). */
  target: DsLoadTarget | undefined;

  private readonly table: Array<DsLoadCell[] | undefined>;
  private readonly mask: number;
  private readonly clock: () => number;
  private count = 0;

  constructor(options: CallLoadOptions) {
    const k = options.hashSize;
    if (!Number.isInteger(k) || k < 1 || k > 30) throw new RangeError(`ds_hash_size must be an integer 1..30, got ${k}`);
    this.buckets = 2 ** k;
    this.mask = this.buckets - 1;
    this.expire = options.expire ?? 7200;
    this.initExpire = options.initExpire ?? 7200;
    this.clock = options.clock ?? systemClock;
    this.table = new Array<DsLoadCell[] | undefined>(this.buckets);
  }

  /** Entries in the table. */
  get size(): number {
    return this.count;
  }

  /** Bucket of a Call-ID: `core_case_hash(callid) & (2^k - 1)`. */
  bucketOf(callId: string): number {
    return coreCaseHashWire(callId) & this.mask;
  }

  /** `ds_add_cell()`: 0 added, -2 Call-ID already present. */
  add(callId: string, duid: string, setId: number): 0 | -2 {
    const hash = coreCaseHashWire(callId);
    const b = hash & this.mask;
    let list = this.table[b];
    if (!list) {
      list = [];
      this.table[b] = list;
    }
    let at = 0;
    while (at < list.length && list[at]!.hash < hash) at++;
    while (at < list.length && list[at]!.hash === hash) {
      if (list[at]!.callId === callId) return -2;
      at++;
    }
    const now = this.clock();
    list.splice(at, 0, { callId, duid, setId, hash, state: DS_LOAD_INIT, expire: now + this.expire, initexpire: now + this.initExpire });
    this.count++;
    return 0;
  }

  /** `ds_get_cell()`. */
  get(callId: string): DsLoadCell | undefined {
    const hash = coreCaseHashWire(callId);
    const list = this.table[hash & this.mask];
    if (!list) return undefined;
    for (const c of list) {
      if (c.hash > hash) break;
      if (c.hash === hash && c.callId === callId) return c;
    }
    return undefined;
  }

  /** `ds_del_cell()`: removes the entry without touching load counters. */
  delete(callId: string): boolean {
    const hash = coreCaseHashWire(callId);
    const list = this.table[hash & this.mask];
    if (!list) return false;
    for (let k = 0; k < list.length; k++) {
      const c = list[k]!;
      if (c.hash > hash) break;
      if (c.hash === hash && c.callId === callId) {
        list.splice(k, 1);
        this.count--;
        return true;
      }
    }
    return false;
  }

  /** Every entry, bucket by bucket (RPC/debug). */
  *entries(): IterableIterator<DsLoadCell> {
    for (const list of this.table) if (list) yield* list;
  }

  /** Drops every entry (no load changes). */
  clear(): void {
    this.table.fill(undefined);
    this.count = 0;
  }

  /**
   * `ds_load_add()`: records the call on destination `index` of `setId`
   * (INIT) and increments its load. False (nothing recorded) when the
   * destination has no duid or the Call-ID is already in the table.
   */
  loadAdd(callId: string, setId: number, index: number): boolean {
    const t = this.target;
    if (!t) return false;
    const duid = t.loadDuid(index);
    if (duid.length === 0) return false;
    if (this.add(callId, duid, setId) < 0) return false;
    t.loadInc(index);
    return true;
  }

  /** `ds_load_remove_byid()`: decrements the destination with that duid in the current list. */
  private removeById(setId: number, duid: string): boolean {
    const t = this.target;
    if (!t || !t.loadHasSet(setId)) return false;
    const i = t.loadFind(setId, duid);
    if (i < 0) return false;
    t.loadDec(i);
    return true;
  }

  /**
   * `ds_load_remove()`: the call ended (BYE/CANCEL, negative INVITE reply):
   * decrements the load of its destination and removes the entry. False when
   * the Call-ID is unknown, or (entry kept, like Kamailio) when its set/duid
   * is no longer in the list.
   */
  loadRemove(callId: string): boolean {
    const c = this.get(callId);
    if (!c) return false;
    if (!this.removeById(c.setId, c.duid)) return false;
    this.delete(callId);
    return true;
  }

  /** `ds_load_state()`: sets INIT/CONFIRMED; false when unknown. */
  loadState(callId: string, state: number): boolean {
    const c = this.get(callId);
    if (!c) return false;
    c.state = state;
    return true;
  }

  /** Dialog hook: `'confirmed'` (2xx to the INVITE) or `'ended'` (BYE, CANCEL, failure). */
  loadUpdate(callId: string, state: 'confirmed' | 'ended'): boolean {
    return state === 'confirmed' ? this.loadState(callId, DS_LOAD_CONFIRMED) : this.loadRemove(callId);
  }

  /**
   * `ds_load_update()`: a BYE or CANCEL request removes the call; a 2xx reply
   * whose CSeq method is INVITE confirms it; anything else does nothing.
   */
  loadUpdateMessage(callId: string, msg: DsLoadMessage): void {
    if (msg.kind === 'request') {
      const m = msg.method.toUpperCase();
      if (m === 'BYE' || m === 'CANCEL') this.loadRemove(callId);
      return;
    }
    if (msg.cseqMethod.toUpperCase() === 'INVITE' && Math.trunc(msg.status / 100) === 2) {
      this.loadState(callId, DS_LOAD_CONFIRMED);
    }
  }

  /**
   * `ds_load_unset()`: for an INVITE whose selection recorded no load (no
   * `dstid` record) it does nothing; otherwise `loadRemove()`.
   */
  loadUnset(callId: string, isInvite: boolean, hasDstid: boolean): boolean {
    if (isInvite && !hasDstid) return true;
    return this.loadRemove(callId);
  }

  /**
   * `ds_load_replace()` (ds_next_dst() with alg 10): moves the call from its
   * current duid to `duid`. 0 done; -1 no entry / unknown set / add failed;
   * -2 `duid` no longer in the set (the caller skips that record).
   */
  loadReplace(callId: string, duid: string): 0 | -1 | -2 {
    const t = this.target;
    if (duid.length === 0 || !t) return -1;
    const c = this.get(callId);
    if (!c) return -1;
    if (!t.loadHasSet(c.setId)) return -1;
    const pair = t.loadFindPair(c.setId, c.duid, duid);
    if (pair.new < 0) return -2;
    this.delete(callId);
    if (pair.old >= 0) t.loadDec(pair.old);
    return this.loadAdd(callId, c.setId, pair.new) ? 0 : -1;
  }

  /**
   * `ds_ht_timer()`: removes expired entries (`expire < now`, or INIT and
   * `initexpire < now`) and decrements their destinations. Returns how many
   * were removed.
   */
  purge(now: number = this.clock()): number {
    let removed = 0;
    for (let b = 0; b < this.table.length; b++) {
      const list = this.table[b];
      if (!list || list.length === 0) continue;
      let keep = 0;
      for (let k = 0; k < list.length; k++) {
        const c = list[k]!;
        if ((c.expire !== 0 && c.expire < now) || (c.state === DS_LOAD_INIT && c.initexpire !== 0 && c.initexpire < now)) {
          this.removeById(c.setId, c.duid);
          removed++;
        } else {
          list[keep++] = c;
        }
      }
      list.length = keep;
    }
    this.count -= removed;
    return removed;
  }

  /** Runs `purge()` every `intervalS` seconds (`ds_hash_check_interval`); unref'd. Returns the stop function. */
  startPurgeTimer(intervalS: number): () => void {
    if (!(intervalS > 0)) throw new RangeError(`ds_hash_check_interval must be > 0, got ${intervalS}`);
    const t = setInterval(() => this.purge(), intervalS * 1000);
    t.unref();
    return () => clearInterval(t);
  }
}
