/**
 * The seed's SBC end to end over real UDP: dispatcher selection, OPTIONS
 * probing, failover of initial and in-dialog requests, CANCEL during
 * failover, reload under traffic. Proxy on 127.0.0.1, UAC 127.0.0.20,
 * routers 127.0.0.21..23; timers shortened by config.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import pino from 'pino';

import { loadConfigText } from '../../src/config';
import { DS_INACTIVE_DST, parseDispatcherList } from '../../src/dispatcher';
import { dsHash } from '../../src/native';
import { Method } from '../../src/native/layout';
import { Dataplane } from '../../src/transport/dataplane';
import { reply, request, SipPeer, sourceOf, uas, uniq, type Received } from '../helpers/sip-peer';

const FR = 700;
const PING_S = 1;
const PING_TIMEOUT = 400;

function yaml(list: string, extra = ''): string {
  return `
listen: udp:127.0.0.1:0
workers: 0
route: sbc
log_level: silent
tm:
  fr_timer: ${FR}
  fr_inv_timer: 3000
  t1: 100
  t2: 400
  t4: 500
dispatcher:
  list: |
${list.replace(/^/gm, '    ')}
  ds_ping_interval: 0
  set: 1
  alg: 0
  limit: 2
http:
  listen: null
${extra}`;
}

const isReply = (callId: string, code: number, method = 'INVITE') => (r: Received) =>
  r.msg.isResponse && r.msg.callId === callId && r.msg.status === code && r.msg.cseqMethod === method;
const isReq = (callId: string, method: string) => (r: Received) => r.msg.isRequest && r.msg.callId === callId && r.msg.method === method;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sbc route: dispatcher, failover, dialogs', () => {
  let uac: SipPeer;
  let routers: SipPeer[];
  let dp: Dataplane;
  let proxy: { ip: string; port: number };
  let listText: string;

  before(async () => {
    uac = await SipPeer.bind('127.0.0.20');
    routers = [await SipPeer.bind('127.0.0.21'), await SipPeer.bind('127.0.0.22'), await SipPeer.bind('127.0.0.23')];
    listText = routers.map((r) => `1 ${r.uri}`).join('\n');
    dp = await Dataplane.start({ config: loadConfigText(yaml(listText)), log: pino({ level: 'silent' }) });
    proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
  });
  after(async () => {
    await dp.stop();
    await Promise.all([uac.close(), ...routers.map((r) => r.close())]);
  });
  afterEach(() => {
    for (const r of routers) r.responder = undefined;
    dp.dsState.setStateAll(1, 0);
  });

  // Index order of set 1: equal priorities -> reverse file order (dispatcher.md §2.3).
  const indexOrder = (): SipPeer[] => [...routers].reverse();
  const invite = (callId: string, branch?: string) =>
    request({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId, branch });

  it('picks the router Kamailio alg 0 picks: index dsHash(Call-ID) % 3, next one as secondary', async () => {
    for (const r of routers) r.responder = uas.ok();
    for (let n = 0; n < 30; n++) {
      const callId = uniq(`pick${n}-`);
      uac.send(invite(callId), proxy);
      await uac.waitFor(isReply(callId, 200), 2000, '200');
      const want = indexOrder()[dsHash(callId) % 3]!;
      assert.equal(want.all(isReq(callId, 'INVITE')).length, 1, `${callId} at ${want.ip}`);
    }
  });

  it('stores du_primary/du_secondary and fails an in-dialog BYE over to the secondary, once', async () => {
    for (const r of routers) r.responder = uas.ok();
    const callId = uniq('indlg');
    uac.send(invite(callId), proxy);
    const ok = await uac.waitFor(isReply(callId, 200), 2000, '200');
    const order = indexOrder();
    const primary = order[dsHash(callId) % 3]!;
    const secondary = order[(dsHash(callId) + 1) % 3]!;
    const dlgs = dp.shard!.dialogs.list().filter((d) => d.callId === callId);
    assert.equal(dlgs.length, 1);
    assert.equal(dlgs[0]!.vars.get('du_primary'), primary.uri);
    assert.equal(dlgs[0]!.vars.get('du_secondary'), secondary.uri);
    const rr = ok.msg.recordRoutes[0]!.uri;
    uac.send(request({ method: 'ACK', ruri: ok.msg.contactUri!, from: uac, callId, toTag: ok.msg.toTag!, routes: [`<${rr}>`] }), proxy);
    await primary.waitFor(isReq(callId, 'ACK'), 2000, 'ACK at the primary');
    assert.equal(dlgs[0]!.state, 4, 'confirmed after the ACK');
    // The primary dies: its BYE times out, the failure route re-targets the secondary.
    primary.responder = () => undefined;
    secondary.responder = uas.ok();
    uac.send(request({ method: 'BYE', ruri: ok.msg.contactUri!, from: uac, callId, toTag: ok.msg.toTag!, cseq: 2, routes: [`<${rr}>`] }), proxy);
    const bye = await secondary.waitFor(isReq(callId, 'BYE'), FR + 2000, 'BYE at the secondary');
    assert.equal(bye.msg.ruri, ok.msg.contactUri, 'the R-URI is unchanged, only $du moves');
    assert.match(bye.msg.topVia!.branch!, /\.1$/, 'second branch of the same transaction');
    await uac.waitFor(isReply(callId, 200, 'BYE'), 2000, '200 to BYE');
    assert.equal(dlgs[0]!.vars.has('du_secondary'), false, 'du_secondary is used once');
    assert.equal(dlgs[0]!.state, 5, 'deleted after BYE');
  });

  it('answers 404 "No destination" statelessly when every router is inactive', async () => {
    dp.dsState.setStateAll(1, DS_INACTIVE_DST);
    const callId = uniq('nodst');
    uac.send(invite(callId), proxy);
    const r = await uac.waitFor(isReply(callId, 404), 2000, '404');
    assert.equal(r.msg.reason, 'No destination');
    assert.match(r.msg.toTag!, /^[0-9a-f]{32}\.[0-9a-f]{8}$/, 'sl-style To-tag');
    assert.equal(uac.all(isReply(callId, 100)).length, 0, 'no 100: stateless');
  });

  it('skips an inactive router: its calls go to the next one in the list', async () => {
    for (const r of routers) r.responder = uas.ok();
    const order = indexOrder();
    const dead = order[0]!;
    dp.dsState.setState(dp.dsState.findUri(1, dead.uri), DS_INACTIVE_DST);
    let moved = 0;
    for (let n = 0; n < 40; n++) {
      const callId = uniq(`skip${n}-`);
      uac.send(invite(callId), proxy);
      await uac.waitFor(isReply(callId, 200), 2000, '200');
      assert.equal(dead.all(isReq(callId, 'INVITE')).length, 0);
      if (dsHash(callId) % 3 === 0) {
        moved++;
        assert.equal(order[1]!.all(isReq(callId, 'INVITE')).length, 1, 'next-in-list');
      }
    }
    assert.ok(moved > 0, 'some calls hashed to the inactive router');
  });

  it('CANCEL during failover: no new branch, the caller gets 487', async () => {
    // Every router is silent: the first branch never answers.
    const callId = uniq('cxl');
    const branch = `z9hG4bK${uniq('cb')}`;
    uac.send(invite(callId, branch), proxy);
    await uac.waitFor(isReply(callId, 100), 1000, '100');
    uac.send(request({ method: 'CANCEL', ruri: 'sip:callee@example.net', from: uac, callId, branch }), proxy);
    await uac.waitFor(isReply(callId, 200, 'CANCEL'), 1000, '200 canceling');
    const r = await uac.waitFor(isReply(callId, 487), FR + 2000, '487 after the branch timeout');
    assert.equal(r.msg.reason, 'Request Terminated');
    await sleep(200);
    const tried = routers.filter((p) => p.all(isReq(callId, 'INVITE')).length > 0);
    assert.equal(tried.length, 1, 't_is_canceled() stops the failover');
  });

  it('reloads the list under traffic: calls in flight keep their router, new calls use the new list', async () => {
    for (const r of routers) r.responder = uas.ok();
    // A slow router holds calls in flight across the reload.
    const slow = routers[0]!;
    slow.responder = (r, p) => setTimeout(() => uas.ok()(r, p), 300);
    const ids: string[] = [];
    for (let n = 0; n < 30; n++) {
      const callId = uniq(`rl${n}-`);
      ids.push(callId);
      uac.send(invite(callId), proxy);
      if (n === 15) await dp.reloadDispatcher(parseDispatcherList(`1 ${routers[1]!.uri}\n`, 'reloaded.list'));
    }
    for (const id of ids) await uac.waitFor(isReply(id, 200), 3000, `200 for ${id}`);
    const after = uniq('after');
    uac.send(invite(after), proxy);
    await uac.waitFor(isReply(after, 200), 2000, '200 after reload');
    assert.equal(routers[1]!.all(isReq(after, 'INVITE')).length, 1, 'the new list has one router');
    await dp.reloadDispatcher(parseDispatcherList(listText, 'back.list'));
  });
});

describe('OPTIONS probing', () => {
  it('pings like Kamailio, marks a silent router inactive within interval + timeout, and active again when it answers', async () => {
    const uac = await SipPeer.bind('127.0.0.24');
    const a = await SipPeer.bind('127.0.0.25');
    const b = await SipPeer.bind('127.0.0.26');
    const list = `1 ${a.uri}\n1 ${b.uri} 0 0 ping_from=sip:pinger@sbc.test\n`;
    const extra = '';
    const config = loadConfigText(
      yaml(list, extra)
        .replace('ds_ping_interval: 0', `ds_ping_interval: ${PING_S}\n  ds_ping_timeout: ${PING_TIMEOUT}\n  ds_probing_mode: 1`),
    );
    const dp = await Dataplane.start({ config, log: pino({ level: 'silent' }) });
    try {
      const proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
      const st = dp.dsState;
      const ia = st.findUri(1, a.uri);
      const ib = st.findUri(1, b.uri);
      a.responder = uas.ok();
      b.responder = () => undefined; // silent
      const t0 = Date.now();
      // The first round (after one interval): a answers -> AP; b never -> IP after the ping timeout.
      const ping = await a.waitFor((r) => r.msg.isRequest && r.msg.method === 'OPTIONS', PING_S * 1000 + 1000, 'a keepalive');
      const m = ping.msg;
      assert.equal(m.ruri, a.uri);
      assert.equal(m.toUri, a.uri);
      assert.equal(m.fromUri, 'sip:dispatcher@localhost');
      assert.match(m.fromTag!, /^[0-9a-f]{32}-[0-9a-f]{8}$/);
      assert.equal(m.cseq, 10);
      assert.equal(m.maxForwards, 70);
      assert.equal(m.contact, undefined, 'no Contact');
      assert.equal(m.vias[0]!.host, '127.0.0.1');
      assert.equal(m.header('user-agent'), 'switchyard');
      const pb = await b.waitFor((r) => r.msg.isRequest && r.msg.method === 'OPTIONS', PING_S * 1000 + 1000, 'b keepalive');
      assert.equal(pb.msg.fromUri, 'sip:pinger@sbc.test', 'ping_from attribute');
      while (st.letters(ia) !== 'AP' && Date.now() - t0 < 3000) await sleep(20);
      assert.equal(st.letters(ia), 'AP');
      while (st.letters(ib) !== 'IP' && Date.now() - t0 < 5000) await sleep(20);
      const detected = Date.now() - t0;
      assert.equal(st.letters(ib), 'IP');
      assert.ok(detected <= PING_S * 1000 + PING_TIMEOUT + 1000, `marked inactive after ${detected} ms`);
      // Retransmitted while unanswered (Timer E at T1=100 ms).
      assert.ok(b.all((r) => r.msg.isRequest && r.msg.method === 'OPTIONS' && r.msg.callId === pb.msg.callId).length >= 2);
      // Traffic avoids it now.
      const callId = uniq('probe');
      uac.send(request({ method: 'INVITE', ruri: 'sip:x@example.net', from: uac, callId }), proxy);
      await uac.waitFor(isReply(callId, 200), 2000, '200 from the live router');
      assert.equal(b.all(isReq(callId, 'INVITE')).length, 0);
      // b comes back: the next answered keepalive makes it active again.
      b.responder = (r, p) => {
        if (r.msg.methodId === Method.OPTIONS) p.send(reply(r.msg, 200, 'OK', { toTag: 'back' }), sourceOf(r));
      };
      const t1 = Date.now();
      while (st.letters(ib) !== 'AP' && Date.now() - t1 < PING_S * 1000 + 2000) await sleep(20);
      assert.equal(st.letters(ib), 'AP');
      assert.ok(dp.prober.stats.ok >= 2 && dp.prober.stats.failed >= 1);
    } finally {
      await dp.stop();
      await Promise.all([uac.close(), a.close(), b.close()]);
    }
  });
});
