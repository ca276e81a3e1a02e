/**
 * A hashed timer wheel: one per shard, driven by one clock, instead of a
 * setTimeout per transaction. RFC 3261 Timers A/B/D/E/F/G/H/I/J/K and the
 * dialog timeouts all live here.
 *
 * Resolution is `tickMs` (default 10 ms; Kamailio's is 62.5 ms): a timer
 * fires on the first tick at or after its due time, never before it.
 * Scheduling and cancelling are O(1); a tick costs the timers in one slot.
 */

export type TimerFn<T> = (arg: T) => void;

export class Timer {
  /** Due time, ms on the wheel's clock. */
  at = 0;
  fn: TimerFn<never> | undefined = undefined;
  arg: unknown = undefined;
  next: Timer | undefined = undefined;
  prev: Timer | undefined = undefined;
  /** Slot index; -1 idle; -2 due and about to fire in the current advance(). */
  slot = -1;

  get active(): boolean {
    return this.slot !== -1;
  }
}

export interface Clock {
  now(): number;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
};

export class TimerWheel {
  readonly tickMs: number;
  private readonly slots: (Timer | undefined)[];
  private readonly mask: number;
  /** Index of the next tick to process. */
  private tick: number;
  private count = 0;
  private readonly clock: Clock;
  private readonly due: Timer[] = [];

  constructor(options: { tickMs?: number; slots?: number; clock?: Clock } = {}) {
    this.tickMs = options.tickMs ?? 10;
    const n = options.slots ?? 4096;
    if ((n & (n - 1)) !== 0) throw new RangeError('TimerWheel slots must be a power of two');
    this.slots = new Array<Timer | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.clock = options.clock ?? monotonicClock;
    this.tick = Math.floor(this.clock.now() / this.tickMs);
  }

  now(): number {
    return this.clock.now();
  }

  /** Number of pending timers. */
  get size(): number {
    return this.count;
  }

  /** Schedules fn(arg) in `delayMs`; pass an existing Timer to reuse it (it is cancelled first). */
  schedule<T>(delayMs: number, fn: TimerFn<T>, arg: T, timer: Timer = new Timer()): Timer {
    if (timer.slot !== -1) this.cancel(timer);
    const at = this.clock.now() + Math.max(0, delayMs);
    timer.at = at;
    timer.fn = fn as TimerFn<never>;
    timer.arg = arg;
    // The tick whose processing time is >= at; never earlier than the next tick.
    const t = Math.max(Math.ceil(at / this.tickMs), this.tick);
    const slot = t & this.mask;
    timer.slot = slot;
    timer.prev = undefined;
    timer.next = this.slots[slot];
    if (timer.next) timer.next.prev = timer;
    this.slots[slot] = timer;
    this.count++;
    return timer;
  }

  cancel(timer: Timer | undefined): void {
    if (!timer || timer.slot === -1) return;
    if (timer.slot === -2) {
      timer.slot = -1;
      timer.fn = undefined;
      timer.arg = undefined;
      this.count--;
      return;
    }
    if (timer.prev) timer.prev.next = timer.next;
    else this.slots[timer.slot] = timer.next;
    if (timer.next) timer.next.prev = timer.prev;
    timer.slot = -1;
    timer.next = timer.prev = undefined;
    timer.fn = undefined;
    timer.arg = undefined;
    this.count--;
  }

  /**
   * Fires every timer due by now. Returns how many fired. Timers scheduled
   * by callbacks for an already-processed tick fire on the next call.
   */
  advance(): number {
    const now = this.clock.now();
    const last = Math.floor(now / this.tickMs);
    // Bound the walk: after a long pause, one lap visits every slot.
    const laps = Math.min(last - this.tick + 1, this.slots.length);
    const startTick = Math.max(this.tick, last - laps + 1);
    // First unlink every due timer (no callback runs meanwhile), then fire
    // them in due order; a callback may cancel a due timer that has not fired.
    const due = this.due;
    due.length = 0;
    for (let t = startTick; t <= last; t++) {
      const slot = t & this.mask;
      let timer = this.slots[slot];
      while (timer) {
        const next = timer.next;
        if (timer.at <= now) {
          if (timer.prev) timer.prev.next = timer.next;
          else this.slots[slot] = timer.next;
          if (timer.next) timer.next.prev = timer.prev;
          timer.next = timer.prev = undefined;
          timer.slot = -2;
          due.push(timer);
        }
        timer = next;
      }
    }
    this.tick = last + 1;
    if (due.length > 1) due.sort((a, b) => a.at - b.at);
    let fired = 0;
    for (const timer of due) {
      if (timer.slot !== -2) continue;
      const fn = timer.fn!;
      const arg = timer.arg;
      timer.slot = -1;
      timer.fn = undefined;
      timer.arg = undefined;
      this.count--;
      fn(arg as never);
      fired++;
    }
    due.length = 0;
    return fired;
  }
}
