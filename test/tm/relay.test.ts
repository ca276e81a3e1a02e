/**
 * Transaction-stateful relaying end to end over real UDP on loopback:
 * UAC 127.0.0.10 -> switchyard 127.0.0.1 (built-in sbc route) -> UAS
 * 127.0.0.11 / 127.0.0.12, with tm timers shortened by config.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import pino from 'pino';

import { loadConfigText } from '../../src/config';
import { Method } from '../../src/native/layout';
import { Dataplane } from '../../src/transport/dataplane';
import { reply, request, SipPeer, sourceOf, uas, uniq, type Received } from '../helpers/sip-peer';

const T1 = 100;
const FR = 800;
const FR_INV = 1500;

async function startProxy(peers: SipPeer[], workers = 0, extra = ''): Promise<Dataplane> {
  const list = peers.map((p) => `1 ${p.uri}`).join('\n');
  const yaml = `
listen: udp:127.0.0.1:0
workers: ${workers}
route: sbc
log_level: silent
tm:
  fr_timer: ${FR}
  fr_inv_timer: ${FR_INV}
  t1: ${T1}
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
  const config = loadConfigText(yaml, { fileName: 'relay-test.yaml' });
  return Dataplane.start({ config, log: pino({ level: 'silent' }) });
}

describe('tm relay over UDP (workers: 0)', () => {
  let uac: SipPeer;
  let a: SipPeer;
  let b: SipPeer;
  let dp: Dataplane;
  let proxy: { ip: string; port: number };

  before(async () => {
    uac = await SipPeer.bind('127.0.0.10');
    a = await SipPeer.bind('127.0.0.11');
    b = await SipPeer.bind('127.0.0.12');
    dp = await startProxy([a, b]);
    proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
  });
  after(async () => {
    await dp.stop();
    await Promise.all([uac.close(), a.close(), b.close()]);
  });
  afterEach(() => {
    a.responder = undefined;
    b.responder = undefined;
  });

  const invite = (callId: string, extra: Partial<Parameters<typeof request>[0]> = {}): string =>
    request({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId, body: 'v=0\r\n', headers: ['Content-Type: application/sdp'], ...extra });

  const isReply = (callId: string, code: number, method = 'INVITE') => (r: Received) =>
    r.msg.isResponse && r.msg.callId === callId && r.msg.status === code && r.msg.cseqMethod === method;
  const isReq = (callId: string, method: string) => (r: Received) => r.msg.isRequest && r.msg.callId === callId && r.msg.method === method;

  it('relays a basic call: 100 at once, 180/200 back, end-to-end ACK and BYE via Record-Route', async () => {
    a.responder = uas.ok();
    b.responder = uas.ok();
    const callId = uniq('basic');
    uac.send(invite(callId), proxy);
    const trying = await uac.waitFor(isReply(callId, 100), 2000, '100 Trying');
    assert.equal(trying.msg.reason, 'trying -- your call is important to us');
    assert.equal(trying.msg.toTag, undefined);
    const ok = await uac.waitFor(isReply(callId, 200), 2000, '200 OK');
    await uac.waitFor(isReply(callId, 180), 100, '180 Ringing');
    // The 200 lost our Via and carries our Record-Route first.
    assert.equal(ok.msg.vias.length, 1);
    assert.equal(ok.msg.vias[0]!.host, '127.0.0.10');
    const rr = ok.msg.recordRoutes;
    assert.equal(rr.length, 1);
    assert.match(rr[0]!.uri, new RegExp(`^sip:127\\.0\\.0\\.1:${proxy.port};lr;ftag=ftag1$`));
    // The INVITE the UAS got: our Via on top, received/rport fix-ups are not needed here, Max-Forwards 69.
    const uasSide = a.all(isReq(callId, 'INVITE'))[0] ?? b.all(isReq(callId, 'INVITE'))[0];
    assert.ok(uasSide, 'one of the UAS got the INVITE');
    const inv = uasSide.msg;
    assert.equal(inv.vias.length, 2);
    assert.equal(inv.vias[0]!.host, '127.0.0.1');
    assert.equal(inv.vias[0]!.port, proxy.port);
    assert.match(inv.vias[0]!.branch!, /^z9hG4bK/);
    assert.equal(inv.maxForwards, 69);
    assert.equal(inv.body.toString(), 'v=0\r\n');
    const callee = uasSide === a.all(isReq(callId, 'INVITE'))[0] ? a : b;
    // ACK for the 2xx goes end to end: a new transaction, Route from the Record-Route.
    const toTag = ok.msg.toTag!;
    uac.send(request({ method: 'ACK', ruri: `sip:callee@${callee.hostport}`, from: uac, callId, toTag, routes: [`<${rr[0]!.uri}>`] }), proxy);
    const ack = await callee.waitFor(isReq(callId, 'ACK'), 2000, 'end-to-end ACK');
    assert.equal(ack.msg.routes.length, 0, 'our own Route is removed');
    assert.equal(ack.msg.vias[0]!.host, '127.0.0.1');
    uac.send(request({ method: 'BYE', ruri: `sip:callee@${callee.hostport}`, from: uac, callId, toTag, cseq: 2, routes: [`<${rr[0]!.uri}>`] }), proxy);
    await callee.waitFor(isReq(callId, 'BYE'), 2000, 'BYE at the UAS');
    const byeOk = await uac.waitFor(isReply(callId, 200, 'BYE'), 2000, '200 to BYE');
    assert.equal(byeOk.msg.vias.length, 1);
  });

  it('absorbs a retransmitted INVITE and re-sends the last reply', async () => {
    a.responder = uas.ring();
    b.responder = uas.ring();
    const callId = uniq('retr');
    const msg = invite(callId, { branch: 'z9hG4bKretr1' });
    uac.send(msg, proxy);
    await uac.waitFor(isReply(callId, 180), 2000, '180');
    const before180 = uac.all(isReply(callId, 180)).length;
    uac.send(msg, proxy);
    await uac.waitFor((r) => isReply(callId, 180)(r) && uac.all(isReply(callId, 180)).length > before180, 2000, 'the 180 re-sent');
    await new Promise((r) => setTimeout(r, 200));
    const invites = a.all(isReq(callId, 'INVITE')).length + b.all(isReq(callId, 'INVITE')).length;
    assert.equal(invites, 1, 'the retransmission is not relayed');
    // clean up: cancel it
    uac.send(request({ method: 'CANCEL', ruri: 'sip:callee@example.net', from: uac, callId, branch: 'z9hG4bKretr1' }), proxy);
    await uac.waitFor(isReply(callId, 487), 2000, '487');
  });

  it('matches an RFC 2543 peer (Via branch without the magic cookie): retransmission absorbed, CANCEL finds its INVITE', async () => {
    a.responder = uas.ring();
    b.responder = uas.ring();
    const callId = uniq('r2543');
    const msg = invite(callId, { branch: 'old2543branch' });
    uac.send(msg, proxy);
    await uac.waitFor(isReply(callId, 180), 2000, '180');
    const before180 = uac.all(isReply(callId, 180)).length;
    uac.send(msg, proxy);
    await uac.waitFor((r) => isReply(callId, 180)(r) && uac.all(isReply(callId, 180)).length > before180, 2000, 'the 180 re-sent');
    const invites = a.all(isReq(callId, 'INVITE')).length + b.all(isReq(callId, 'INVITE')).length;
    assert.equal(invites, 1, 'the retransmission is not relayed');
    uac.send(request({ method: 'CANCEL', ruri: 'sip:callee@example.net', from: uac, callId, branch: 'old2543branch' }), proxy);
    await uac.waitFor(isReply(callId, 200, 'CANCEL'), 2000, '200 canceling');
    await uac.waitFor(isReply(callId, 487), 2000, '487');
  });

  it('retransmits the INVITE downstream at T1 when the UAS is slow, then completes', async () => {
    // The UAS ignores the first INVITE (a lost packet) and answers the retransmission.
    let seen = 0;
    const slow = (r: Received, peer: SipPeer) => {
      if (r.msg.methodId === Method.INVITE && ++seen === 1) return;
      uas.ok()(r, peer);
    };
    a.responder = slow;
    b.responder = slow;
    const callId = uniq('lost');
    uac.send(invite(callId), proxy);
    const ok = await uac.waitFor(isReply(callId, 200), 3000, '200 after a retransmission');
    const got = [...a.all(isReq(callId, 'INVITE')), ...b.all(isReq(callId, 'INVITE'))];
    assert.equal(got.length, 2);
    assert.equal(got[0]!.msg.topVia!.branch, got[1]!.msg.topVia!.branch, 'a retransmission keeps the branch');
    const gap = got[1]!.at - got[0]!.at;
    assert.ok(gap >= T1 - 10 && gap < T1 + 300, `retransmitted after ${gap} ms (T1 = ${T1})`);
    assert.ok(ok.msg.toTag);
  });

  it('CANCEL: 200 canceling, CANCEL downstream, 487 relayed, the ACK absorbed hop by hop', async () => {
    a.responder = uas.ring();
    b.responder = uas.ring();
    const callId = uniq('cancel');
    const branch = `z9hG4bK${uniq('c')}`;
    uac.send(invite(callId, { branch }), proxy);
    await uac.waitFor(isReply(callId, 180), 2000, '180');
    uac.send(request({ method: 'CANCEL', ruri: 'sip:callee@example.net', from: uac, callId, branch, headers: ['Reason: Q.850;cause=16'] }), proxy);
    const c200 = await uac.waitFor(isReply(callId, 200, 'CANCEL'), 2000, '200 canceling');
    assert.equal(c200.msg.reason, 'canceling');
    const callee = a.all(isReq(callId, 'INVITE')).length ? a : b;
    const cancel = await callee.waitFor(isReq(callId, 'CANCEL'), 2000, 'CANCEL downstream');
    const inv = callee.all(isReq(callId, 'INVITE'))[0]!;
    assert.equal(cancel.msg.topVia!.branch, inv.msg.topVia!.branch, 'CANCEL on the INVITE branch');
    assert.equal(cancel.msg.vias.length, 1);
    assert.equal(cancel.msg.cseq, inv.msg.cseq);
    assert.equal(cancel.msg.header('reason'), 'Q.850;cause=16');
    const r487 = await uac.waitFor(isReply(callId, 487), 2000, '487');
    const ack = await callee.waitFor(isReq(callId, 'ACK'), 2000, 'hop-by-hop ACK of the 487');
    assert.equal(ack.msg.topVia!.branch, inv.msg.topVia!.branch);
    assert.equal(ack.msg.toTag, 'ring');
    // The caller's ACK for the 487 stops the retransmissions and is not relayed.
    uac.send(request({ method: 'ACK', ruri: 'sip:callee@example.net', from: uac, callId, branch, toTag: r487.msg.toTag! }), proxy);
    await new Promise((r) => setTimeout(r, 4 * T1));
    assert.equal(callee.all(isReq(callId, 'ACK')).length, 1);
    const count487 = uac.all(isReply(callId, 487)).length;
    await new Promise((r) => setTimeout(r, 4 * T1));
    assert.equal(uac.all(isReply(callId, 487)).length, count487, 'no 487 retransmission after the ACK');
  });

  it('relays a 4xx without failover and retransmits it until the ACK', async () => {
    a.responder = uas.fail(486, 'Busy Here');
    b.responder = uas.fail(486, 'Busy Here');
    const callId = uniq('busy');
    uac.send(invite(callId), proxy);
    const busy = await uac.waitFor(isReply(callId, 486), 2000, '486');
    assert.equal(busy.msg.reason, 'Busy Here');
    // Not ACKed: Timer G re-sends it.
    await uac.waitFor((r) => isReply(callId, 486)(r) && uac.all(isReply(callId, 486)).length >= 2, 2000, 'a 486 retransmission');
    const tried = a.all(isReq(callId, 'INVITE')).length + b.all(isReq(callId, 'INVITE')).length;
    assert.equal(tried, 1, 'no failover on 486');
  });

  it('fails over on 500 to the next destination', async () => {
    a.responder = uas.fail(500, 'Lab Server Error');
    b.responder = uas.fail(500, 'Lab Server Error');
    // Whoever gets it first answers 500, the other one answers 200.
    let first: SipPeer | undefined;
    const decide = (peer: SipPeer) => (r: Received, p: SipPeer) => {
      if (r.msg.methodId !== Method.INVITE) return uas.ok()(r, p);
      if (!first) first = peer;
      return first === peer ? uas.fail(500, 'Lab Server Error')(r, p) : uas.ok()(r, p);
    };
    a.responder = decide(a);
    b.responder = decide(b);
    const callId = uniq('fo500');
    uac.send(invite(callId), proxy);
    const ok = await uac.waitFor(isReply(callId, 200), 3000, '200 from the secondary');
    assert.ok(ok);
    assert.equal(uac.all(isReply(callId, 500)).length, 0, 'the 500 is not relayed');
    const second = first === a ? b : a;
    assert.equal(second.all(isReq(callId, 'INVITE')).length, 1);
    assert.equal(first!.all(isReq(callId, 'ACK')).length, 1, 'the 500 was ACKed hop by hop');
  });

  it('relays the second 500 when both destinations fail; a 503 becomes a local 500', async () => {
    a.responder = uas.fail(500, 'Lab Server Error');
    b.responder = uas.fail(500, 'Lab Server Error');
    const callId = uniq('both500');
    uac.send(invite(callId), proxy);
    const r = await uac.waitFor(isReply(callId, 500), 3000, '500');
    assert.equal(r.msg.reason, 'Lab Server Error');
    a.responder = uas.fail(503, 'Service Unavailable');
    b.responder = uas.fail(503, 'Service Unavailable');
    const c2 = uniq('r503');
    uac.send(invite(c2), proxy);
    const r2 = await uac.waitFor(isReply(c2, 500), 3000, '500 for a 503');
    assert.equal(r2.msg.reason, 'Service Unavailable');
    assert.match(r2.msg.toTag!, /^[0-9a-f]{32}-[0-9a-f]{8}$/, 'a local reply with a tm To-tag');
    assert.equal(a.all(isReq(c2, 'INVITE')).length + b.all(isReq(c2, 'INVITE')).length, 1, 'no failover on 503');
  });

  it('Timer B: silent destinations time out (fr_timer), fail over once, then 408', async () => {
    const callId = uniq('timerb');
    const t0 = Date.now();
    uac.send(invite(callId), proxy);
    const r = await uac.waitFor(isReply(callId, 408), 2 * FR + 1500, '408');
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 2 * FR - 50, `408 after ${elapsed} ms, two fr_timer periods`);
    assert.equal(r.msg.reason, 'Request Timeout');
    // Each destination got the INVITE and its retransmissions (T1, 2T1, 4T1 capped at T2).
    for (const p of [a, b]) {
      const got = p.all(isReq(callId, 'INVITE'));
      assert.ok(got.length >= 3, `${p.ip} got ${got.length} copies`);
    }
  });

  it('Timer F: a silent non-INVITE times out with 408 after fr_timer', async () => {
    const callId = uniq('timerf');
    uac.send(request({ method: 'MESSAGE', ruri: 'sip:someone@example.net', from: uac, callId, body: 'hi' }), proxy);
    const r = await uac.waitFor(isReply(callId, 408, 'MESSAGE'), 2 * FR + 1500, '408 for MESSAGE');
    assert.equal(r.msg.toTag !== undefined, true);
    assert.equal(uac.all(isReply(callId, 100, 'MESSAGE')).length, 0, 'no automatic 100 for non-INVITE');
  });

  it('Max-Forwards: 0 is answered 483, absent is inserted, 1 goes out as 0', async () => {
    a.responder = uas.ok();
    b.responder = uas.ok();
    const c0 = uniq('mf0');
    uac.send(request({ method: 'OPTIONS', ruri: 'sip:x@example.net', from: uac, callId: c0, maxForwards: 0 }), proxy);
    const r = await uac.waitFor(isReply(c0, 483, 'OPTIONS'), 2000, '483');
    assert.equal(r.msg.reason, 'Too Many Hops');
    const c1 = uniq('mfnone');
    uac.send(request({ method: 'OPTIONS', ruri: 'sip:x@example.net', from: uac, callId: c1, maxForwards: null }), proxy);
    await uac.waitFor(isReply(c1, 200, 'OPTIONS'), 2000, '200');
    const got1 = [...a.all(isReq(c1, 'OPTIONS')), ...b.all(isReq(c1, 'OPTIONS'))][0]!;
    assert.equal(got1.msg.maxForwards, 70);
    const c2 = uniq('mf1');
    uac.send(request({ method: 'OPTIONS', ruri: 'sip:x@example.net', from: uac, callId: c2, maxForwards: 1 }), proxy);
    await uac.waitFor(isReply(c2, 200, 'OPTIONS'), 2000, '200');
    const got2 = [...a.all(isReq(c2, 'OPTIONS')), ...b.all(isReq(c2, 'OPTIONS'))][0]!;
    assert.equal(got2.msg.maxForwards, 0);
  });

  it('loose routing: pops our Route and follows the next one', async () => {
    b.responder = uas.ok();
    const callId = uniq('lr');
    uac.send(
      request({
        method: 'BYE',
        ruri: 'sip:callee@203.0.113.9',
        from: uac,
        callId,
        toTag: 'peer',
        routes: [`<sip:127.0.0.1:${proxy.port};lr>`, `<${b.uri};lr>`],
      }),
      proxy,
    );
    const bye = await b.waitFor(isReq(callId, 'BYE'), 2000, 'BYE at the next Route');
    assert.equal(bye.msg.routes.length, 1);
    assert.equal(bye.msg.routes[0]!.uri, `${b.uri};lr`);
    assert.equal(bye.msg.ruri, 'sip:callee@203.0.113.9', 'R-URI untouched (loose routing)');
    await uac.waitFor(isReply(callId, 200, 'BYE'), 2000, '200 to BYE');
  });

  it('answers a malformed request 400 and relays the next good one', async () => {
    a.responder = uas.ok();
    b.responder = uas.ok();
    const bad = uniq('bad');
    uac.send(
      request({ method: 'OPTIONS', ruri: 'sip:x@example.net', from: uac, callId: bad }).replace(`CSeq: 1 OPTIONS`, 'CSeq: 1 INVITE'),
      proxy,
    );
    const r400 = await uac.waitFor(isReply(bad, 400, 'INVITE'), 2000, '400');
    assert.match(r400.msg.header('warning') ?? '', /CSeq method does not match/);
    uac.send('\u0000\u0001garbage', proxy);
    const good = uniq('good');
    uac.send(request({ method: 'OPTIONS', ruri: 'sip:x@example.net', from: uac, callId: good }), proxy);
    await uac.waitFor(isReply(good, 200, 'OPTIONS'), 2000, '200 for the good one');
  });

  it('answers a keep-alive OPTIONS to itself 200 and an unknown in-dialog request 404', async () => {
    const c1 = uniq('ka');
    uac.send(request({ method: 'OPTIONS', ruri: `sip:127.0.0.1:${proxy.port}`, from: uac, callId: c1 }), proxy);
    await uac.waitFor(isReply(c1, 200, 'OPTIONS'), 2000, '200 to keep-alive');
    const c2 = uniq('nodlg');
    uac.send(request({ method: 'BYE', ruri: 'sip:x@example.net', from: uac, callId: c2, toTag: 'gone' }), proxy);
    const r = await uac.waitFor(isReply(c2, 404, 'BYE'), 2000, '404');
    assert.equal(r.msg.reason, 'Not here');
    void sourceOf;
    void reply;
  });
});

describe('tm relay over UDP (workers: 1, piscina shard)', () => {
  it('relays a call and a CANCEL through a worker shard', async () => {
    const uac = await SipPeer.bind('127.0.0.13');
    const a = await SipPeer.bind('127.0.0.14');
    const dp = await startProxy([a], 1);
    try {
      const proxy = { ip: '127.0.0.1', port: dp.sockets[0]!.port };
      a.responder = uas.ok();
      const callId = uniq('w1');
      uac.send(request({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId }), proxy);
      await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === callId && r.msg.status === 200, 3000, '200 via a worker');
      a.responder = uas.ring();
      const c2 = uniq('w1c');
      const branch = `z9hG4bK${uniq('wb')}`;
      uac.send(request({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId: c2, branch }), proxy);
      await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === c2 && r.msg.status === 180, 3000, '180');
      uac.send(request({ method: 'CANCEL', ruri: 'sip:callee@example.net', from: uac, callId: c2, branch }), proxy);
      await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === c2 && r.msg.status === 487, 3000, '487 via a worker');
    } finally {
      await dp.stop();
      await Promise.all([uac.close(), a.close()]);
    }
  });
});
