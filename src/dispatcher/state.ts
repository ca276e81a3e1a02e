/**
 * Dispatcher runtime state shared by every shard thread without messages
 * (Kamailio 5.6.3 keeps it in shared memory: `dispatch.h:ds_dest_t` flags,
 * message_count, dload, latency_stats and `ds_set_t` last/wlast/rwlast,
 * wlist[100]/rwlist[100]; spec shared/spec/dispatcher.md §1, §4.1, §7.5).
 *
 * Contract:
 * - One SharedArrayBuffer per loaded list. `DsState.create(list)` builds it on
 *   the main thread (file flags, attrs rweight/latency, the alg 9 / alg 11
 *   tables with their random shuffle); a shard gets `{ buffer, list }` by
 *   postMessage (the SAB is shared, the list is cloned) and calls
 *   `DsState.attach(buffer, list)`, which checks the list is the same one
 *   (counts + fingerprint of set ids, URIs, flags, priorities, attrs).
 * - Destination index (`i`, "global index"): sets in `list.sets` order (AVL
 *   post-order), destinations in Kamailio index order inside a set. It is
 *   stable for a list; a reload/add/remove builds a new list and a new state.
 * - Every read-modify-write is an Atomics operation (cursor advance, load
 *   counters). Updates that touch several words (flags + message_count, the
 *   rweight table rebuild, the alg 11/13 cursors) take the per-set lock, a
 *   futex-style mutex on an Int32 word (Atomics.wait works on Node's main
 *   thread too); critical sections are a few dozen instructions.
 * - Latency stats (alg 13, `ds_ping_latency_stats`) are Float64 slots written
 *   by the prober under the set lock; without latency stats they stay 0
 *   (or the `latency=` attr), as in Kamailio.
 * - 5.6.3 quirk kept: state updates clear all of DS_STATES_ALL = 31, which
 *   includes NODNSARES (16), so the first keepalive result or set_state drops
 *   a file flag 16 (it is only used at load time anyway).
 */
import { randomInt } from 'node:crypto';

import { dsHash } from '../native';
import type { DsDestination, DsList } from './list-file';

// ---------------------------------------------------------------------------
// State bits (dispatch.h)

export const DS_INACTIVE_DST = 1;
export const DS_TRYING_DST = 2;
export const DS_DISABLED_DST = 4;
export const DS_PROBING_DST = 8;
export const DS_NODNSARES_DST = 16;
/** Bits reset by ds_update_state()/ds_reinit_state() in 5.6.3 (includes NODNSARES). */
export const DS_STATES_ALL = 31;

/** `ds_skip_dst()`: INACTIVE or DISABLED. TRYING is still selectable. */
export function dsSkipDst(flags: number): boolean {
  return (flags & (DS_INACTIVE_DST | DS_DISABLED_DST)) !== 0;
}

/**
 * The two letters of `dispatcher.list` (`ds_rpc_print_set()`): I > D > T > A,
 * then P or X. File flags 5 (inactive+disabled) show `IX`.
 */
export function dsStateLetters(flags: number): string {
  const first =
    flags & DS_INACTIVE_DST ? 'I' : flags & DS_DISABLED_DST ? 'D' : flags & DS_TRYING_DST ? 'T' : 'A';
  return first + (flags & DS_PROBING_DST ? 'P' : 'X');
}

/**
 * State letters of `ds_mark_dst("...")` / `dispatcher.set_state`: `a` clears,
 * `i` inactive, `t` trying, `d` disabled, `p` probing, case-insensitive and
 * combinable. Returns -1 on any other character (Kamailio: "Failed to parse
 * state flags").
 */
export function parseDsStateLetters(s: string): number {
  let state = 0;
  for (let k = 0; k < s.length; k++) {
    switch (s[k]) {
      case 'a':
      case 'A':
        state = 0;
        break;
      case 'i':
      case 'I':
        state |= DS_INACTIVE_DST;
        break;
      case 't':
      case 'T':
        state |= DS_TRYING_DST;
        break;
      case 'd':
      case 'D':
        state |= DS_DISABLED_DST;
        break;
      case 'p':
      case 'P':
        state |= DS_PROBING_DST;
        break;
      default:
        return -1;
    }
  }
  return state;
}

/** `ds_probing_threshold` / `ds_inactive_threshold`. */
export interface DsThresholds {
  /** failures before INACTIVE (Kamailio default 1). */
  readonly probingThreshold: number;
  /** successes while INACTIVE before ACTIVE (Kamailio default 1). */
  readonly inactiveThreshold: number;
}

/** Outcome of a state update, for logging and `event_route[dispatcher:dst-*]`. */
export interface DsStateChange {
  readonly index: number;
  readonly oldFlags: number;
  readonly flags: number;
  /** `dst-down`: not skipped -> skipped; `dst-up`: the reverse; undefined otherwise. */
  readonly event: 'dst-down' | 'dst-up' | undefined;
}

/** Per-destination overrides used when a state is created (dispatcher.add/remove carry flags and dload over). */
export interface DsInitialDest {
  readonly flags?: number;
  readonly dload?: number;
}

export interface DsStateOptions {
  /** Integer in [0, bound) for the Fisher-Yates shuffles (default crypto.randomInt). */
  readonly random?: (bound: number) => number;
  /** Initial flags/dload per destination (default: file flags, dload 0 = reload semantics). */
  readonly initial?: (dest: DsDestination, index: number) => DsInitialDest | undefined;
}

// ---------------------------------------------------------------------------
// SAB layout (Int32 words, then Float64 latency slots)

const MAGIC = 0x44535354; // "DSST"
const VERSION = 1;

const H_MAGIC = 0;
const H_VERSION = 1;
const H_NDEST = 2;
const H_NSETS = 3;
const H_FINGERPRINT = 4;
const H_GENERATION = 5;
const HDR_INTS = 8;

const D_FLAGS = 0;
const D_COUNT = 1; // message_count
const D_DLOAD = 2;
const D_RWEIGHT = 3; // runtime rweight (congestion control may change it)
const D_RPRIORITY = 4; // alg 13 rpriority (attrs.rpriority)
const DEST_INTS = 8;

const S_LOCK = 0;
const S_LAST = 1;
const S_WLAST = 2;
const S_RWLAST = 3;
const S_NR = 4;
const S_BASE = 5;
const S_ID = 6;
const S_WLIST = 8;
const S_RWLIST = S_WLIST + 100;
const SET_INTS = S_RWLIST + 100;

/** Float64 latency slots per destination (ds_latency_stats_t). */
const L_ESTIMATE = 0;
const L_AVERAGE = 1;
const L_STDEV = 2;
const L_M2 = 3;
const L_MIN = 4;
const L_MAX = 5;
const L_COUNT = 6;
const L_TIMEOUT = 7;
const LAT_F64 = 8;

/** Latency statistics of one destination (alg 13, RPC LATENCY). */
export interface DsLatency {
  estimate: number;
  average: number;
  stdev: number;
  m2: number;
  min: number;
  max: number;
  count: number;
  timeout: number;
}

interface Layout {
  readonly nDest: number;
  readonly nSets: number;
  readonly destOff: number;
  readonly setOff: number;
  readonly latByteOff: number;
  readonly byteLength: number;
}

function layoutFor(list: DsList): Layout {
  let nDest = 0;
  for (const s of list.sets) nDest += s.destinations.length;
  const nSets = list.sets.length;
  const destOff = HDR_INTS;
  const setOff = destOff + nDest * DEST_INTS;
  const intWords = setOff + nSets * SET_INTS;
  const latByteOff = Math.ceil((intWords * 4) / 8) * 8;
  return { nDest, nSets, destOff, setOff, latByteOff, byteLength: latByteOff + nDest * LAT_F64 * 8 };
}

/** ds_get_hash over the list identity: a cheap check that attach() got the list the SAB was built for. */
function fingerprint(list: DsList): number {
  const parts: string[] = [];
  for (const s of list.sets) {
    for (const d of s.destinations) parts.push(`${s.id} ${d.uri} ${d.flags} ${d.priority} ${d.attrs}`);
  }
  return dsHash(parts.join('\n')) | 0;
}

const defaultRandom = (bound: number): number => randomInt(bound);

// ---------------------------------------------------------------------------

/**
 * The shared runtime state of one loaded dispatcher list. Methods taking `i`
 * take a global destination index (see the file comment); methods taking
 * `setId` take a Kamailio set id and return -1/undefined for an unknown set.
 */
export class DsState {
  /** The SharedArrayBuffer to post to shards (with the list). */
  readonly buffer: SharedArrayBuffer;
  readonly list: DsList;
  /** Number of destinations over all sets. */
  readonly size: number;

  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly layout: Layout;
  private readonly slots = new Map<number, number>();
  private readonly dests: DsDestination[] = [];
  private readonly slotOfIndex: Int32Array;
  private readonly random: (bound: number) => number;

  private constructor(buffer: SharedArrayBuffer, list: DsList, layout: Layout, random: (bound: number) => number) {
    this.buffer = buffer;
    this.list = list;
    this.layout = layout;
    this.size = layout.nDest;
    this.i32 = new Int32Array(buffer, 0, layout.setOff + layout.nSets * SET_INTS);
    this.f64 = new Float64Array(buffer, layout.latByteOff, layout.nDest * LAT_F64);
    this.random = random;
    this.slotOfIndex = new Int32Array(layout.nDest);
    list.sets.forEach((s, slot) => {
      this.slots.set(s.id, slot);
      for (const d of s.destinations) {
        this.slotOfIndex[this.dests.length] = slot;
        this.dests.push(d);
      }
    });
  }

  /** Bytes of the SAB for a list. */
  static byteLength(list: DsList): number {
    return layoutFor(list).byteLength;
  }

  /**
   * Builds the state of a freshly loaded list (main thread): file flags,
   * counters 0, cursors 0, weight tables built and shuffled (dp_init_weights,
   * dp_init_relative_weights).
   */
  static create(list: DsList, options: DsStateOptions = {}): DsState {
    const layout = layoutFor(list);
    const sab = new SharedArrayBuffer(layout.byteLength);
    const st = new DsState(sab, list, layout, options.random ?? defaultRandom);
    const w = st.i32;
    w[H_MAGIC] = MAGIC;
    w[H_VERSION] = VERSION;
    w[H_NDEST] = layout.nDest;
    w[H_NSETS] = layout.nSets;
    w[H_FINGERPRINT] = fingerprint(list);
    let base = 0;
    list.sets.forEach((s, slot) => {
      const so = layout.setOff + slot * SET_INTS;
      w[so + S_NR] = s.destinations.length;
      w[so + S_BASE] = base;
      w[so + S_ID] = s.id;
      s.destinations.forEach((d, pos) => {
        const i = base + pos;
        const init = options.initial?.(d, i);
        const o = layout.destOff + i * DEST_INTS;
        w[o + D_FLAGS] = init?.flags ?? d.flags;
        w[o + D_DLOAD] = init?.dload ?? 0;
        w[o + D_RWEIGHT] = d.parsedAttrs.rweight;
        const lat = d.parsedAttrs.latency;
        if (lat !== null) {
          // latency_stats_init(latency, 10000)
          const lo = i * LAT_F64;
          st.f64[lo + L_ESTIMATE] = lat;
          st.f64[lo + L_AVERAGE] = lat;
          st.f64[lo + L_MIN] = lat;
          st.f64[lo + L_MAX] = lat;
          st.f64[lo + L_COUNT] = 10000;
        }
      });
      base += s.destinations.length;
      st.initWeights(slot);
      st.initRelativeWeights(slot);
    });
    return st;
  }

  /** Attaches a shard to a state created elsewhere; `list` must be (a clone of) the list it was created for. */
  static attach(buffer: SharedArrayBuffer, list: DsList, options: Pick<DsStateOptions, 'random'> = {}): DsState {
    if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('DsState.attach: buffer must be a SharedArrayBuffer');
    const layout = layoutFor(list);
    if (buffer.byteLength !== layout.byteLength) {
      throw new RangeError(`DsState.attach: buffer is ${buffer.byteLength} bytes, list needs ${layout.byteLength}`);
    }
    const head = new Int32Array(buffer, 0, HDR_INTS);
    if (head[H_MAGIC] !== MAGIC || head[H_VERSION] !== VERSION) throw new TypeError('DsState.attach: not a dispatcher state buffer');
    if (head[H_NDEST] !== layout.nDest || head[H_NSETS] !== layout.nSets || head[H_FINGERPRINT] !== fingerprint(list)) {
      throw new TypeError('DsState.attach: buffer was created for a different dispatcher list');
    }
    return new DsState(buffer, list, layout, options.random ?? defaultRandom);
  }

  // -------------------------------------------------------------------------
  // Sets and indexes

  /** Internal slot of a set id, -1 when unknown (also for negative ids, like ds_get_index()). */
  setSlot(setId: number): number {
    if (setId < 0) return -1;
    return this.slots.get(setId) ?? -1;
  }

  /** Number of destinations of the set in `slot`. */
  slotSize(slot: number): number {
    return this.i32[this.layout.setOff + slot * SET_INTS + S_NR]!;
  }

  /** Global index of the first destination of the set in `slot`. */
  slotBase(slot: number): number {
    return this.i32[this.layout.setOff + slot * SET_INTS + S_BASE]!;
  }

  /** Set id of `slot`. */
  slotId(slot: number): number {
    return this.i32[this.layout.setOff + slot * SET_INTS + S_ID]!;
  }

  /** Global index of destination `pos` (index order) of a set; -1 when out of range. */
  indexOf(setId: number, pos: number): number {
    const slot = this.setSlot(setId);
    if (slot < 0 || pos < 0 || pos >= this.slotSize(slot)) return -1;
    return this.slotBase(slot) + pos;
  }

  /** Number of destinations of a set; -1 when unknown. */
  setSize(setId: number): number {
    const slot = this.setSlot(setId);
    return slot < 0 ? -1 : this.slotSize(slot);
  }

  /**
   * Global index of a destination by URI inside a set: Kamailio's
   * case-insensitive, full-length compare (`ds_update_state()`,
   * `ds_reinit_state()`); first match; -1 when none.
   */
  findUri(setId: number, uri: string): number {
    const slot = this.setSlot(setId);
    if (slot < 0) return -1;
    const base = this.slotBase(slot);
    const n = this.slotSize(slot);
    const want = uri.toLowerCase();
    for (let k = 0; k < n; k++) {
      const u = this.dests[base + k]!.uri;
      if (u.length === uri.length && u.toLowerCase() === want) return base + k;
    }
    return -1;
  }

  /** The destination (static data) at `i`. */
  destination(i: number): DsDestination {
    const d = this.dests[i];
    if (!d) throw new RangeError(`destination index ${i} out of range 0..${this.size - 1}`);
    return d;
  }

  /** Set id of destination `i`. */
  setIdOf(i: number): number {
    return this.slotId(this.slotOf(i));
  }

  /** Incremented on every state-bit change (cheap "did anything change" check for RPC/metrics). */
  generation(): number {
    return Atomics.load(this.i32, H_GENERATION);
  }

  // -------------------------------------------------------------------------
  // Flags

  private slotOf(i: number): number {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`destination index ${i} out of range 0..${this.size - 1}`);
    return this.slotOfIndex[i]!;
  }

  private d(i: number, field: number): number {
    if (!(i >= 0 && i < this.size)) throw new RangeError(`destination index ${i} out of range 0..${this.size - 1}`);
    return this.layout.destOff + i * DEST_INTS + field;
  }

  /** Current state bits of destination `i`. */
  flags(i: number): number {
    return Atomics.load(this.i32, this.d(i, D_FLAGS));
  }

  /** INACTIVE or DISABLED (`ds_skip_dst`). */
  isSkipped(i: number): boolean {
    return dsSkipDst(this.flags(i));
  }

  /** `dispatcher.list` letters, e.g. `AP`, `IX`. */
  letters(i: number): string {
    return dsStateLetters(this.flags(i));
  }

  /** The shared failure/success counter of §7.5 (`message_count`). */
  messageCount(i: number): number {
    return Atomics.load(this.i32, this.d(i, D_COUNT));
  }

  /**
   * `dispatcher.set_state` / `ds_reinit_state()`: replaces the state bits
   * (clearing all of DS_STATES_ALL) with `state`, does not touch the counter,
   * fires no event; rebuilds the rweight table when a destination with
   * rweight>0 crosses skipped/not skipped.
   */
  setState(i: number, state: number): DsStateChange {
    const slot = this.slotOf(i);
    this.lockSlot(slot);
    let oldFlags: number;
    let flags: number;
    try {
      const at = this.d(i, D_FLAGS);
      oldFlags = this.i32[at]!;
      flags = (oldFlags & ~DS_STATES_ALL) | state;
      Atomics.store(this.i32, at, flags);
      if (flags !== oldFlags) Atomics.add(this.i32, H_GENERATION, 1);
      if (this.rweight(i) > 0 && dsSkipDst(oldFlags) !== dsSkipDst(flags)) this.initRelativeWeightsLocked(slot);
    } finally {
      this.unlockSlot(slot);
    }
    return { index: i, oldFlags, flags, event: undefined };
  }

  /** `ds_reinit_state_all()`: setState on every destination of a set; false for an unknown set. */
  setStateAll(setId: number, state: number): boolean {
    const slot = this.setSlot(setId);
    if (slot < 0) return false;
    const base = this.slotBase(slot);
    const n = this.slotSize(slot);
    for (let k = 0; k < n; k++) this.setState(base + k, state);
    return true;
  }

  /**
   * `ds_update_state()` (5.6.3), the §7.5 machine; used by keepalive results
   * and `ds_mark_dst()`:
   * - state bits reset; TRYING requested while INACTIVE becomes INACTIVE;
   *   DISABLED requested leaves only DISABLED;
   * - TRYING: counter+1, at `probingThreshold` -> INACTIVE, counter 0;
   * - otherwise, if it was INACTIVE and TRYING was not requested: counter+1,
   *   below `inactiveThreshold` stays INACTIVE (keeps PROBING it had), else
   *   counter 0; any other case: counter 0.
   * Returns the change with the event_route to run.
   */
  updateState(i: number, state: number, thresholds: DsThresholds): DsStateChange {
    const at = this.d(i, D_FLAGS);
    const cnt = this.d(i, D_COUNT);
    const slot = this.slotOf(i);
    const w = this.i32;
    this.lockSlot(slot);
    let oldFlags: number;
    let flags: number;
    try {
      oldFlags = w[at]!;
      flags = oldFlags & ~DS_STATES_ALL;
      const initState = state;
      if (state & DS_TRYING_DST && oldFlags & DS_INACTIVE_DST) {
        // it has to go first to active state and then to trying
        state = (state & ~DS_TRYING_DST) | DS_INACTIVE_DST;
      }
      flags |= state & DS_DISABLED_DST ? DS_DISABLED_DST : state;
      let count = w[cnt]!;
      if (state & DS_TRYING_DST) {
        count++;
        if (count >= thresholds.probingThreshold) {
          flags = (flags & ~DS_TRYING_DST) | DS_INACTIVE_DST;
          count = 0;
        }
      } else if (!(initState & DS_TRYING_DST) && oldFlags & DS_INACTIVE_DST) {
        count++;
        if (count < thresholds.inactiveThreshold) {
          flags |= DS_INACTIVE_DST;
          if (oldFlags & DS_PROBING_DST) flags |= DS_PROBING_DST;
        } else {
          count = 0;
        }
      } else {
        count = 0;
      }
      Atomics.store(w, cnt, count);
      Atomics.store(w, at, flags);
      if (flags !== oldFlags) Atomics.add(w, H_GENERATION, 1);
      if (this.rweight(i) > 0 && dsSkipDst(oldFlags) !== dsSkipDst(flags)) this.initRelativeWeightsLocked(slot);
    } finally {
      this.unlockSlot(slot);
    }
    const wasSkipped = dsSkipDst(oldFlags);
    const isSkipped = dsSkipDst(flags);
    return { index: i, oldFlags, flags, event: !wasSkipped && isSkipped ? 'dst-down' : wasSkipped && !isSkipped ? 'dst-up' : undefined };
  }

  /**
   * A failed keepalive (`ds_options_callback()` failure branch): ignored
   * (undefined) for a DISABLED destination, else `updateState(i, TRYING
   * [| PROBING])` with `threshold` = ds_probing_threshold. `probing` is
   * `ds_probing_mode != 0`.
   */
  markFailure(i: number, threshold: number, probing = true): DsStateChange | undefined {
    if (this.flags(i) & DS_DISABLED_DST) return undefined;
    return this.updateState(i, DS_TRYING_DST | (probing ? DS_PROBING_DST : 0), { probingThreshold: threshold, inactiveThreshold: 1 });
  }

  /**
   * A successful keepalive (2xx or a `ds_ping_reply_codes` code): ignored for
   * a DISABLED destination, else `updateState(i, [PROBING])` with `threshold`
   * = ds_inactive_threshold. `probing`: mode 1, or mode 3 with PROBING set.
   */
  markSuccess(i: number, threshold: number, probing = true): DsStateChange | undefined {
    if (this.flags(i) & DS_DISABLED_DST) return undefined;
    return this.updateState(i, probing ? DS_PROBING_DST : 0, { probingThreshold: 1, inactiveThreshold: threshold });
  }

  // -------------------------------------------------------------------------
  // Call load (alg 10)

  /** Active calls recorded for destination `i` (`dload`). */
  dload(i: number): number {
    return Atomics.load(this.i32, this.d(i, D_DLOAD));
  }

  /** `DS_LOAD_INC`. */
  incLoad(i: number): number {
    return Atomics.add(this.i32, this.d(i, D_DLOAD), 1) + 1;
  }

  /** `DS_LOAD_DEC`: decrement, floor 0. */
  decLoad(i: number): number {
    const at = this.d(i, D_DLOAD);
    for (;;) {
      const v = Atomics.load(this.i32, at);
      if (v <= 0) return 0;
      if (Atomics.compareExchange(this.i32, at, v, v - 1) === v) return v - 1;
    }
  }

  // -------------------------------------------------------------------------
  // Weights, latency

  /** Current rweight (attrs value, or what congestion control set). */
  rweight(i: number): number {
    return Atomics.load(this.i32, this.d(i, D_RWEIGHT));
  }

  /** Congestion control update of rweight; rebuilds the set's alg 11 table when it changed. */
  setRweight(i: number, rweight: number): void {
    const slot = this.slotOf(i);
    this.lockSlot(slot);
    try {
      const old = Atomics.exchange(this.i32, this.d(i, D_RWEIGHT), rweight);
      if (old !== rweight) this.initRelativeWeightsLocked(slot);
    } finally {
      this.unlockSlot(slot);
    }
  }

  /** alg 13 relative priority last computed for `i`. */
  rpriority(i: number): number {
    return Atomics.load(this.i32, this.d(i, D_RPRIORITY));
  }

  /** @internal alg 13 writes attrs.rpriority (under the set lock). */
  setRpriority(i: number, v: number): void {
    Atomics.store(this.i32, this.d(i, D_RPRIORITY), v);
  }

  /** Latency statistics of `i` (a copy). */
  latency(i: number): DsLatency {
    this.d(i, 0);
    const o = i * LAT_F64;
    const f = this.f64;
    return {
      estimate: f[o + L_ESTIMATE]!,
      average: f[o + L_AVERAGE]!,
      stdev: f[o + L_STDEV]!,
      m2: f[o + L_M2]!,
      min: f[o + L_MIN]!,
      max: f[o + L_MAX]!,
      count: f[o + L_COUNT]!,
      timeout: f[o + L_TIMEOUT]!,
    };
  }

  /** EWMA latency estimate of `i` (ms). */
  latencyEstimate(i: number): number {
    return this.f64[i * LAT_F64 + L_ESTIMATE]!;
  }

  /** Average latency of `i` (ms). */
  latencyAverage(i: number): number {
    return this.f64[i * LAT_F64 + L_AVERAGE]!;
  }

  /** Writes latency statistics (the prober, `ds_ping_latency_stats`), under the set lock. */
  setLatency(i: number, stats: Partial<DsLatency>): void {
    const slot = this.slotOf(i);
    const o = i * LAT_F64;
    const f = this.f64;
    this.lockSlot(slot);
    try {
      if (stats.estimate !== undefined) f[o + L_ESTIMATE] = stats.estimate;
      if (stats.average !== undefined) f[o + L_AVERAGE] = stats.average;
      if (stats.stdev !== undefined) f[o + L_STDEV] = stats.stdev;
      if (stats.m2 !== undefined) f[o + L_M2] = stats.m2;
      if (stats.min !== undefined) f[o + L_MIN] = stats.min;
      if (stats.max !== undefined) f[o + L_MAX] = stats.max;
      if (stats.count !== undefined) f[o + L_COUNT] = stats.count;
      if (stats.timeout !== undefined) f[o + L_TIMEOUT] = stats.timeout;
    } finally {
      this.unlockSlot(slot);
    }
  }

  // -------------------------------------------------------------------------
  // Cursors and tables

  private s(slot: number, field: number): number {
    return this.layout.setOff + slot * SET_INTS + field;
  }

  /** Round-robin cursor `last` of a set (-1 when unknown). */
  last(setId: number): number {
    const slot = this.setSlot(setId);
    return slot < 0 ? -1 : Atomics.load(this.i32, this.s(slot, S_LAST));
  }

  /** alg 9 cursor `wlast` (-1 when unknown). */
  wlast(setId: number): number {
    const slot = this.setSlot(setId);
    return slot < 0 ? -1 : Atomics.load(this.i32, this.s(slot, S_WLAST));
  }

  /** alg 11 cursor `rwlast` (-1 when unknown). */
  rwlast(setId: number): number {
    const slot = this.setSlot(setId);
    return slot < 0 ? -1 : Atomics.load(this.i32, this.s(slot, S_RWLAST));
  }

  /** Copy of the set's alg 9 table (100 positions in index order); undefined for an unknown set. */
  weightTable(setId: number): number[] | undefined {
    const slot = this.setSlot(setId);
    if (slot < 0) return undefined;
    const o = this.s(slot, S_WLIST);
    return Array.from(this.i32.subarray(o, o + 100));
  }

  /** Copy of the set's alg 11 table; undefined for an unknown set. */
  relativeWeightTable(setId: number): number[] | undefined {
    const slot = this.setSlot(setId);
    if (slot < 0) return undefined;
    this.lockSlot(slot);
    try {
      const o = this.s(slot, S_RWLIST);
      return Array.from(this.i32.subarray(o, o + 100));
    } finally {
      this.unlockSlot(slot);
    }
  }

  /**
   * Round-robin step (algs 4, 5 without credentials): `h = last`,
   * `last = (last+1) mod N` atomically. Returns h; the new `last` (vlast) is
   * `(h + 1) % N`.
   */
  advanceLast(slot: number): number {
    const at = this.s(slot, S_LAST);
    const n = this.slotSize(slot);
    for (;;) {
      const h = Atomics.load(this.i32, at);
      if (Atomics.compareExchange(this.i32, at, h, (h + 1) % n) === h) return h;
    }
  }

  /** §3 step 6: `if (vlast == last) last = (chosen+1) mod N`. */
  fixLast(slot: number, vlast: number, chosen: number): void {
    Atomics.compareExchange(this.i32, this.s(slot, S_LAST), vlast, (chosen + 1) % this.slotSize(slot));
  }

  /** @internal alg 13: read/write `last` (call with the set lock held). */
  lastLocked(slot: number): number {
    return this.i32[this.s(slot, S_LAST)]!;
  }

  /** @internal alg 13. */
  setLastLocked(slot: number, v: number): void {
    Atomics.store(this.i32, this.s(slot, S_LAST), v);
  }

  /** alg 9: `h = wlist[wlast]; wlast = (wlast+1) mod 100` (atomic; wlist never changes after create). */
  nextWeight(slot: number): number {
    const at = this.s(slot, S_WLAST);
    for (;;) {
      const c = Atomics.load(this.i32, at);
      if (Atomics.compareExchange(this.i32, at, c, (c + 1) % 100) === c) return this.i32[this.s(slot, S_WLIST) + c]!;
    }
  }

  /** alg 11: `h = rwlist[rwlast]; rwlast = (rwlast+1) mod 100` under the set lock (the table can be rebuilt). */
  nextRelativeWeight(slot: number): number {
    this.lockSlot(slot);
    try {
      const at = this.s(slot, S_RWLAST);
      const c = this.i32[at]!;
      Atomics.store(this.i32, at, (c + 1) % 100);
      return this.i32[this.s(slot, S_RWLIST) + c]!;
    } finally {
      this.unlockSlot(slot);
    }
  }

  /** Rebuilds the alg 11 table of a set from current states and rweights (`dp_init_relative_weights()`). */
  rebuildRelativeWeights(setId: number): boolean {
    const slot = this.setSlot(setId);
    if (slot < 0) return false;
    this.initRelativeWeights(slot);
    return true;
  }

  private shuffle100(off: number): void {
    // shuffle_uint100array(): k = j + rand() % (100 - j)
    const w = this.i32;
    for (let j = 0; j < 100; j++) {
      const k = j + this.random(100 - j);
      const t = w[off + j]!;
      w[off + j] = w[off + k]!;
      w[off + k] = t;
    }
  }

  /** `dp_init_weights()`: static `weight` attrs, states ignored. */
  private initWeights(slot: number): void {
    const n = this.slotSize(slot);
    const base = this.slotBase(slot);
    const off = this.s(slot, S_WLIST);
    if (n === 0 || this.dests[base]!.parsedAttrs.weight === 0) return; // weighting disabled: all zeros
    let t = 0;
    fill: for (let j = 0; j < n; j++) {
      const weight = this.dests[base + j]!.parsedAttrs.weight;
      for (let k = 0; k < weight; k++) {
        if (t >= 100) break fill;
        this.i32[off + t++] = j;
      }
    }
    for (; t < 100; t++) this.i32[off + t] = n - 1;
    this.shuffle100(off);
  }

  private initRelativeWeights(slot: number): void {
    this.lockSlot(slot);
    try {
      this.initRelativeWeightsLocked(slot);
    } finally {
      this.unlockSlot(slot);
    }
  }

  /** `dp_init_relative_weights()` with the set lock held. */
  private initRelativeWeightsLocked(slot: number): void {
    const n = this.slotSize(slot);
    if (n < 2) return;
    const base = this.slotBase(slot);
    const w = this.i32;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const i = base + j;
      if (dsSkipDst(w[this.d(i, D_FLAGS)]!)) continue;
      sum += w[this.d(i, D_RWEIGHT)]!;
    }
    if (sum === 0) return; // table not rebuilt
    const off = this.s(slot, S_RWLIST);
    let t = 0;
    for (let j = 0; j < n; j++) {
      const i = base + j;
      if (dsSkipDst(w[this.d(i, D_FLAGS)]!)) continue;
      const slice = Math.trunc((w[this.d(i, D_RWEIGHT)]! * 100) / sum);
      for (let k = 0; k < slice && t < 100; k++) w[off + t++] = j;
    }
    const lastInsert = t > 0 ? w[off + t - 1]! : n - 1;
    for (; t < 100; t++) w[off + t] = lastInsert;
    this.shuffle100(off);
  }

  // -------------------------------------------------------------------------
  // Per-set lock (Drepper's futex mutex: 0 free, 1 locked, 2 locked with waiters)

  /** Takes the set lock (Kamailio's `lock_get(&dset->lock)`). Keep the section short. */
  lockSlot(slot: number): void {
    const at = this.s(slot, S_LOCK);
    const w = this.i32;
    let c = Atomics.compareExchange(w, at, 0, 1);
    if (c === 0) return;
    for (let spin = 0; spin < 64; spin++) {
      c = Atomics.compareExchange(w, at, 0, 1);
      if (c === 0) return;
    }
    if (c !== 2) c = Atomics.exchange(w, at, 2);
    while (c !== 0) {
      Atomics.wait(w, at, 2);
      c = Atomics.exchange(w, at, 2);
    }
  }

  /** Releases the set lock. */
  unlockSlot(slot: number): void {
    const at = this.s(slot, S_LOCK);
    if (Atomics.sub(this.i32, at, 1) !== 1) {
      Atomics.store(this.i32, at, 0);
      Atomics.notify(this.i32, at, 1);
    }
  }
}
