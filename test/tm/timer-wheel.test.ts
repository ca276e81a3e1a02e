import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timer, TimerWheel } from '../../src/tm/timer-wheel';

class FakeClock {
  t = 1000;
  now(): number {
    return this.t;
  }
}

describe('TimerWheel', () => {
  it('fires timers at or after their due time, in due order, never before', () => {
    const clock = new FakeClock();
    const w = new TimerWheel({ tickMs: 10, slots: 64, clock });
    const fired: string[] = [];
    w.schedule(25, (s: string) => fired.push(s), 'b');
    w.schedule(5, (s: string) => fired.push(s), 'a');
    w.schedule(1000, (s: string) => fired.push(s), 'c'); // > one lap of 64 * 10 ms
    clock.t += 4;
    w.advance();
    assert.deepEqual(fired, []);
    clock.t += 6; // due at 1005: fires on the 1010 tick boundary
    w.advance();
    assert.deepEqual(fired, ['a']);
    clock.t += 25;
    w.advance();
    assert.deepEqual(fired, ['a', 'b']);
    clock.t += 900; // 1935 < 2000: c not due although its slot came round
    w.advance();
    assert.deepEqual(fired, ['a', 'b']);
    assert.equal(w.size, 1);
    clock.t += 100;
    w.advance();
    assert.deepEqual(fired, ['a', 'b', 'c']);
    assert.equal(w.size, 0);
  });

  it('cancels, reschedules, and lets a firing callback cancel another due timer', () => {
    const clock = new FakeClock();
    const w = new TimerWheel({ tickMs: 10, slots: 8, clock });
    const fired: string[] = [];
    const t2 = new Timer();
    w.schedule(10, () => {
      fired.push('first');
      w.cancel(t2);
    }, undefined);
    w.schedule(15, () => fired.push('second'), undefined, t2);
    const t3 = w.schedule(10, () => fired.push('third'), undefined);
    w.cancel(t3);
    assert.equal(t3.active, false);
    clock.t += 50;
    w.advance();
    assert.deepEqual(fired, ['first']);
    assert.equal(w.size, 0);
    // reuse a timer object: rescheduling moves it
    const t = new Timer();
    w.schedule(100, () => fired.push('late'), undefined, t);
    w.schedule(10, () => fired.push('early'), undefined, t);
    clock.t += 20;
    w.advance();
    assert.deepEqual(fired, ['first', 'early']);
    assert.equal(w.size, 0);
  });

  it('catches up after a pause longer than a lap', () => {
    const clock = new FakeClock();
    const w = new TimerWheel({ tickMs: 10, slots: 8, clock });
    let n = 0;
    for (let i = 0; i < 100; i++) w.schedule(i * 7, () => n++, undefined);
    clock.t += 10_000;
    assert.equal(w.advance(), 100);
    assert.equal(n, 100);
  });
});
