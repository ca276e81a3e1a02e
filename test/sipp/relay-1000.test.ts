/**
 * 1,000 SIPp calls through switchyard, end to end over UDP on loopback:
 *
 *   SIPp UAC 127.0.0.63 --INVITE--> switchyard 127.0.0.61:5060 (built-in sbc
 *   route, dispatcher set 1 = one SIPp UAS 127.0.0.62:5060) --> UAS
 *
 * Scenarios: bench/sipp/scenarios/uac.xml and uas.xml (no hold time; ACK and
 * BYE carry the Route set from the 200's Record-Route, since the sbc route
 * relays in-dialog requests only by loose routing). The UAC places exactly
 * 1,000 calls at 200 calls/s (-m 1000 -r 200, about 5 s); the assertions read
 * SIPp's final statistics (-trace_stat, cumulative counters), not only its
 * exit code: 1,000 successful, 0 failed, on the UAC and on the UAS.
 *
 * SIPp is required: if `sipp` is missing this test FAILS (CI installs
 * sip-tester); it never skips. Every process is started in its own process
 * group with a hard deadline and killed in after().
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  killAll,
  runUac,
  sippVersion,
  startSwitchyard,
  startUas,
  stopUas,
  udpPortInUse,
  type ProxyHandle,
  type SippResult,
  type UasHandle,
} from '../../bench/sipp/harness';

const PROXY_IP = '127.0.0.61';
const UAS_IP = '127.0.0.62';
const UAC_IP = '127.0.0.63';
const PORT = 5060;
const CALLS = 1000;
const RATE = 200;
/** Hard bound on every process of one case (ms). */
const MAX_MS = 50_000;

function summary(r: SippResult): string {
  return (
    `exit ${r.exitCode}, created ${r.created}, successful ${r.successful}, failed ${r.failed}, ` +
    `retransmissions ${r.retransmissions}, failures ${JSON.stringify(r.failures)}, dir ${r.dir}` +
    (r.errorLogBytes > 0
      ? `\nerror log events by kind: ${JSON.stringify(r.errorKinds)}\nerror log:\n${r.errorLog.slice(0, 1500)}`
      : '')
  );
}

for (const workers of [0, 1]) {
  describe(`SIPp: ${CALLS} calls through switchyard (workers: ${workers})`, () => {
    let dir = '';
    let uas: UasHandle | null = null;
    let proxy: ProxyHandle | null = null;
    let ok = false;

    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `sy-sipp-test-w${workers}-`));
    });

    after(async () => {
      try {
        if (proxy) await proxy.stop();
        if (uas) await stopUas(uas, 3000);
      } finally {
        killAll();
        if (ok) fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`completes ${CALLS} calls at ${RATE} calls/s with 0 failed`, { timeout: 45_000 }, async () => {
      // Set-up inside the test so that a missing sipp is a failed test, not a cancelled one.
      assert.ok(sippVersion(), 'sipp is not installed (apt-get install sip-tester): this test requires it');
      for (const ip of [PROXY_IP, UAS_IP, UAC_IP]) assert.ok(!udpPortInUse(ip, PORT), `udp ${ip}:${PORT} is already in use`);
      uas = await startUas(UAS_IP, PORT, path.join(dir, 'uas'), MAX_MS);
      proxy = await startSwitchyard({
        dir,
        listenIp: PROXY_IP,
        listenPort: PORT,
        workers,
        dsList: `1 sip:${UAS_IP}:${PORT}\n`,
        inline: true,
        frTimerMs: 2000,
        logLevel: 'warn',
        maxMs: MAX_MS,
      });

      const uac = await runUac({
        dir: path.join(dir, 'uac'),
        ip: UAC_IP,
        port: PORT,
        proxy: `${PROXY_IP}:${PORT}`,
        calls: CALLS,
        rate: RATE,
        timeoutS: 30,
        recvTimeoutMs: 10_000,
        shortmsg: false,
      });
      assert.ok(Object.keys(uac.stat).length > 0, `SIPp UAC wrote no statistics: ${summary(uac)}`);
      assert.equal(uac.created, CALLS, `UAC calls created: ${summary(uac)}`);
      assert.equal(uac.successful, CALLS, `UAC successful calls: ${summary(uac)}`);
      assert.equal(uac.failed, 0, `UAC failed calls: ${summary(uac)}`);
      assert.equal(uac.exitCode, 0, `UAC exit code: ${summary(uac)}`);
      // uac.xml tolerates a 180 that arrives after the 200 (Kamailio's parallel
      // children do that); switchyard relays a call's replies in order.
      assert.equal(uac.late180, 0, `180s relayed after the 200: ${summary(uac)}`);

      // The proxy must still be running, and stop cleanly on SIGTERM.
      assert.equal(proxy!.proc.exitCode, null, 'switchyard exited during the run');
      const code = await proxy!.stop();
      proxy = null;
      assert.equal(code, 0, 'switchyard exit code after SIGTERM');

      const u = await stopUas(uas!, 8000);
      uas = null;
      // A UAS failure with a successful UAC call is an ACK that arrived after
      // the BYE (the proxy reordered them; SIPp answers the BYE and aborts).
      assert.equal(u.failed, 0, `UAS failed calls: ${summary(u)}`);
      assert.equal(u.successful, CALLS, `UAS successful calls: ${summary(u)}`);
      assert.equal(u.created, CALLS, `UAS incoming calls: ${summary(u)}`);
      ok = true;
    });
  });
}
