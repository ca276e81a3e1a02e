/**
 * A router dies under load: SIPp calls through switchyard's sbc route while one
 * of the two dispatcher destinations gets SIGKILL (the seed's failover: up to
 * two routers per call from ds_select_dst, du_primary/du_secondary dialog
 * variables, failover on 500 or local timeout, BYEs of a dead router's calls
 * to the stored secondary, OPTIONS keepalives marking dead routers inactive).
 *
 *   SIPp UAC 127.0.0.84 --> switchyard 127.0.0.81:5060 (workers 0, route sbc,
 *   set 1 alg 0 limit 2, keepalives every 1 s, a keepalive unanswered for
 *   500 ms fails, probing threshold 1, fr_timer 1000, fr_inv_timer 3000,
 *   JSON-RPC on 127.0.0.81:5081) --> SIPp routers 127.0.0.82 / 127.0.0.83
 *
 * The run is bench/sipp/failover.ts's runFailover() with small numbers: 300
 * calls at 20 calls/s, each held 5 s (about 100 calls up at any time), router
 * .82 killed (SIGKILL) 7 s after the UAC started, then a silent UDP socket on
 * its address timestamps what the proxy still sends there. Assertions:
 *
 * - every call of the UAC succeeds: 300 successful, 0 failed (the UAC counts a
 *   call successful only when its BYE got a 200);
 * - (a) calls whose INVITE left after dst-down all succeed, and none reaches
 *   .82 (no new INVITE Call-ID at the silent socket after dst-down);
 * - (b) the calls up on .82 at the kill (at least 10) all get a 200 to their
 *   BYE, and router .83 saw each of those BYEs as the first message of a
 *   Call-ID it had never seen: the proxy sent it to the dialog's du_secondary;
 * - (c) kill -> dst-down (the proxy's warn log line "dispatcher:dst-down")
 *   <= ds_ping_interval x ds_probing_threshold + ds_ping_timeout + 300 ms =
 *   1,800 ms. Why: the next keepalive leaves at most one interval after the
 *   kill (one that left before the kill was answered at once on loopback),
 *   the router is marked inactive when `threshold` consecutive keepalives
 *   failed, and a keepalive fails ds_ping_timeout after it left; 300 ms covers
 *   the timer wheel, the event loop of a shared 2-core machine, and the log
 *   call. That is within the target (<= interval x threshold + 1 s).
 *   dispatcher.list polled over HTTP shows .82 inactive too, and at the end
 *   .82 is I(nactive) and .83 A(ctive);
 * - calls caught in flight: every INVITE the proxy sent to .82 after the kill
 *   (at the silent socket; expected: the calls hashed to .82 during the
 *   detection window, ~0.5-1.5 s at 20 calls/s) failed over by timeout to
 *   .83 and its call succeeded;
 * - switchyard stays up and exits 0 on SIGTERM.
 *
 * SIPp is required: if `sipp` is missing this test FAILS, it never skips.
 * Every process runs in its own process group with a hard deadline.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

import { killAll, sippVersion } from '../../bench/sipp/harness';
import { runFailover, summaryLine, type FailoverResult } from '../../bench/sipp/failover';

const CALLS = 300;
const RATE = 20;
const HOLD_MS = 5000;
const KILL_AFTER_MS = 7000;
const PING_INTERVAL_S = 1;
const PING_TIMEOUT_MS = 500;
const THRESHOLD = 1;
const FR_TIMER_MS = 1000;
const MARGIN_MS = 300;
const DEAD = 'sip:127.0.0.82:5060';
const SECONDARY = 'sip:127.0.0.83:5060';

describe('SIPp failover: a router dies with calls up (switchyard workers 0)', () => {
  let dir = '';
  let ok = false;

  after(() => {
    killAll();
    if (ok && dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`${CALLS} long calls, router .82 killed mid-run: no call lost`, { timeout: 60_000 }, async (t) => {
    // Inside the test so that a missing sipp is a failed test, not a cancelled one.
    assert.ok(sippVersion(), 'sipp is not installed (apt-get install sip-tester): this test requires it');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-sipp-failover-test-'));
    const r: FailoverResult = await runFailover({
      target: 'switchyard',
      dir,
      workers: 0,
      calls: CALLS,
      rate: RATE,
      holdMs: HOLD_MS,
      killAfterMs: KILL_AFTER_MS,
      pingIntervalS: PING_INTERVAL_S,
      pingTimeoutMs: PING_TIMEOUT_MS,
      probingThreshold: THRESHOLD,
      frTimerMs: FR_TIMER_MS,
      frInvTimerMs: 3000,
      httpPort: 5081,
      kamChildren: 0,
    });
    const why = (): string =>
      `${summaryLine(r)}\nUAC: created ${r.uac.created}, successful ${r.uac.successful}, failed ${r.uac.failed}, failures ${JSON.stringify(r.uac.failures)}` +
      `\nrouter .83: created ${r.secondary.created}, successful ${r.secondary.successful}, failed ${r.secondary.failed}` +
      `\nproxy dispatcher events ${JSON.stringify(r.dsEvents)}; proxy warnings: ${r.proxyWarnings.join(' | ')}` +
      (r.errors.length ? `\n${r.errors.join('\n')}` : '') +
      (r.uac.errorLogBytes ? `\nUAC error log:\n${r.uac.errorLog.slice(0, 1500)}` : '');

    t.diagnostic(summaryLine(r));

    // Every call, whenever it started and wherever it went.
    assert.ok(Object.keys(r.uac.stat).length > 0, `SIPp UAC wrote no statistics: ${why()}`);
    assert.equal(r.uac.created, CALLS, `UAC calls created: ${why()}`);
    assert.equal(r.uac.failed, 0, `UAC failed calls: ${why()}`);
    assert.equal(r.uac.successful, CALLS, `UAC successful calls (200 to the BYE): ${why()}`);
    assert.equal(r.uac.exitCode, 0, `UAC exit code: ${why()}`);

    // (c) detection
    const down = r.dsEvents.filter((e) => e.event === 'dispatcher:dst-down');
    assert.deepEqual(down.map((e) => e.uri), [DEAD], `dst-down events: ${why()}`);
    assert.ok(r.detectionMs !== null, `no dispatcher:dst-down logged for ${DEAD}: ${why()}`);
    const bound = PING_INTERVAL_S * THRESHOLD * 1000 + PING_TIMEOUT_MS + MARGIN_MS;
    assert.ok(r.detectionMs >= 0 && r.detectionMs <= bound, `kill -> dst-down ${r.detectionMs} ms, bound ${bound} ms: ${why()}`);
    assert.ok(r.polledDetectionMs !== null, `dispatcher.list never showed ${DEAD} inactive: ${why()}`);
    assert.match(r.finalFlags[DEAD] ?? '', /^I/, `final state of ${DEAD}: ${why()}`);
    assert.match(r.finalFlags[SECONDARY] ?? '', /^A/, `final state of ${SECONDARY}: ${why()}`);

    // (a) calls after dst-down
    assert.ok(r.afterDown > 0, `no call started after dst-down: ${why()}`);
    assert.equal(r.afterDownOk, r.afterDown, `calls started after dst-down that failed: ${why()}`);
    assert.equal(r.afterDownOnDead, 0, `calls started after dst-down that went to .82: ${why()}`);
    assert.equal(r.newInvitesToDeadAfterDown, 0, `new INVITEs sent to .82 after dst-down: ${why()}`);

    // (b) BYEs of the dead router's calls via the secondary
    assert.ok(r.deadUp >= 10, `only ${r.deadUp} calls up on .82 at the kill: ${why()}`);
    assert.equal(r.deadUpByeOk, r.deadUp, `calls up on .82 at the kill without a 200 to their BYE: ${why()}`);
    assert.equal(r.deadUpByeAtSecondary, r.deadUp, `BYEs of .82's calls not answered by .83: ${why()}`);

    // Calls caught in flight: INVITEs to .82 after the kill fail over by timeout.
    assert.ok(r.invitesToDead > 0, `no INVITE reached .82 between the kill and dst-down (nothing failed over by timeout): ${why()}`);
    assert.equal(r.invitesToDeadOk, r.invitesToDead, `calls whose INVITE went to the dead .82 and failed: ${why()}`);
    assert.equal(r.invitesToDeadOnSecondary, r.invitesToDead, `calls whose INVITE went to the dead .82 not set up on .83: ${why()}`);
    assert.ok(r.invitesToDeadSetupMs[0]! >= 0.9 * FR_TIMER_MS, `a failed-over call was set up faster than fr_timer: ${why()}`);

    // The proxy.
    assert.ok(r.proxyAliveAtEnd, `switchyard exited during the run: ${why()}`);
    assert.equal(r.proxyExit, 0, `switchyard exit code after SIGTERM: ${why()}`);
    assert.equal(r.secondary.failed, 0, `calls failed at router .83: ${why()}`);
    ok = true;
  });
});
