/**
 * A route script that throws does not stop its shard (500 upstream when a
 * transaction exists); a shard whose thread dies is restarted and counted,
 * and traffic goes on. Real UDP on 127.0.0.3x, test/fixtures/routes/crashy.js.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import pino from 'pino';

import { loadConfigText } from '../../src/config';
import { Dataplane } from '../../src/transport/dataplane';
import { fixture } from '../helpers/paths';
import { request, SipPeer, uas, uniq, type Received } from '../helpers/sip-peer';

async function start(workers: number): Promise<Dataplane> {
  const config = loadConfigText(`
listen: udp:127.0.0.1:0
workers: ${workers}
route: ${fixture('routes', 'crashy.js')}
log_level: silent
tm:
  fr_timer: 1000
  t1: 100
  t2: 400
dispatcher:
  list: "1 sip:127.0.0.32:5060\\n"
  ds_ping_interval: 0
http:
  listen: null
`);
  return Dataplane.start({ config, log: pino({ level: 'silent' }) });
}

const isReply = (callId: string, code: number) => (r: Received) => r.msg.isResponse && r.msg.callId === callId && r.msg.status === code;

for (const workers of [0, 1]) {
  describe(`route failures (workers: ${workers})`, () => {
    it('a throwing route is logged and answered 500 when a transaction exists; the shard goes on', async () => {
      const uac = await SipPeer.bind('127.0.0.31');
      const callee = await SipPeer.bind('127.0.0.32');
      callee.responder = (r, p) => (r.msg.method === 'INVITE' ? undefined : uas.ok()(r, p)); // INVITEs stay unanswered
      const dp = await start(workers);
      try {
        const proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
        const ruri = `sip:bob@${callee.hostport}`;
        const c1 = uniq('thr');
        uac.send(request({ method: 'INVITE', ruri, from: uac, callId: c1, headers: ['X-Test: throw-after-relay'] }), proxy);
        await uac.waitFor(isReply(c1, 500), 3000, '500 after the route threw');
        const c2 = uniq('thr0');
        uac.send(request({ method: 'OPTIONS', ruri, from: uac, callId: c2, headers: ['X-Test: throw'] }), proxy);
        const c3 = uniq('ok');
        uac.send(request({ method: 'OPTIONS', ruri, from: uac, callId: c3 }), proxy);
        await uac.waitFor(isReply(c3, 200), 3000, 'the next request still relayed');
        assert.equal(uac.all(isReply(c2, 500)).length, 0, 'no transaction, no reply');
      } finally {
        await dp.stop();
        await Promise.all([uac.close(), callee.close()]);
      }
    });
  });
}

describe('shard death (workers: 1)', () => {
  it('restarts a shard whose thread died, counts it, and keeps relaying', async () => {
    const uac = await SipPeer.bind('127.0.0.33');
    const callee = await SipPeer.bind('127.0.0.34');
    callee.responder = uas.ok();
    const dp = await start(1);
    try {
      const proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
      const ruri = `sip:bob@${callee.hostport}`;
      uac.send(request({ method: 'OPTIONS', ruri, from: uac, callId: uniq('die'), headers: ['X-Test: die'] }), proxy);
      const until = Date.now() + 5000;
      while (dp.stats().shardRestarts === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(dp.stats().shardRestarts, 1);
      const c = uniq('after');
      uac.send(request({ method: 'OPTIONS', ruri, from: uac, callId: c }), proxy);
      await uac.waitFor(isReply(c, 200), 5000, '200 through the restarted shard');
    } finally {
      await dp.stop();
      await Promise.all([uac.close(), callee.close()]);
    }
  });
});
