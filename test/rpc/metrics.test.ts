/**
 * GET /metrics under real SIP traffic through the sbc route: calls, a
 * failover (500 then the secondary), a timeout, a malformed datagram,
 * keepalives; the counters must move and the per-destination series must
 * follow dispatcher state. Everything is read at scrape time.
 */
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';

import { Method } from '../../src/native/layout';
import { reply, request as sipRequest, SipPeer, sourceOf, uas, uniq } from '../helpers/sip-peer';
import { hangUp, isReply, placeCall, request, rpc, startPlane, waitUntil, type Plane } from './helpers';

/** Parses the Prometheus text into `name{labels}` -> value. */
function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

describe('GET /metrics', { timeout: 60_000 }, () => {
  let p: Plane;
  let uac: SipPeer;
  let a: SipPeer;
  let b: SipPeer;
  before(async () => {
    uac = await SipPeer.bind('127.0.0.120');
    a = await SipPeer.bind('127.0.0.121');
    b = await SipPeer.bind('127.0.0.122');
    a.responder = uas.ok();
    b.responder = uas.ok();
    p = await startPlane({ list: `1 ${a.uri}\n1 ${b.uri}\n`, pingInterval: 1 });
  });
  after(async () => {
    await p?.close();
    await Promise.all([uac?.close(), a?.close(), b?.close()]);
  });

  const scrape = async (): Promise<Map<string, number>> => {
    const r = await request(p.port, { method: 'GET', path: '/metrics' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parseMetrics(r.body);
  };
  const get = (m: Map<string, number>, key: string): number => {
    const v = m.get(key);
    assert.notEqual(v, undefined, `metric ${key} present`);
    return v!;
  };

  test('counters move under calls, failover, timeout, garbage and keepalives', async () => {
    const m0 = await scrape();
    assert.equal(get(m0, 'switchyard_sip_requests_received_total{method="INVITE"}'), 0);

    // 5 calls: INVITE, ACK, BYE each.
    for (let n = 0; n < 5; n++) await hangUp(uac, p.sip, await placeCall(uac, p.sip, uniq(`m${n}-`)));

    // A failover: the router picked first answers 500, the other 200.
    const fail = (r: Parameters<NonNullable<SipPeer['responder']>>[0], peer: SipPeer) => {
      if (r.msg.methodId === Method.INVITE) peer.send(reply(r.msg, 500, 'Server Error', { toTag: 'f' }), sourceOf(r));
      else if (r.msg.methodId !== Method.ACK) peer.send(reply(r.msg, 200, 'OK', { toTag: 'f' }), sourceOf(r));
    };
    const failId = uniq('fo');
    a.responder = (r, peer) => (r.msg.callId === failId ? fail(r, peer) : uas.ok()(r, peer));
    b.responder = (r, peer) => (r.msg.callId === failId ? fail(r, peer) : uas.ok()(r, peer));
    // Only the first INVITE fails: the second branch (the other router) answers 200.
    let failed = false;
    const once = (peer: SipPeer) => (r: Parameters<NonNullable<SipPeer['responder']>>[0]) => {
      if (r.msg.callId === failId && r.msg.methodId === Method.INVITE && !failed) {
        failed = true;
        return fail(r, peer);
      }
      return uas.ok()(r, peer);
    };
    a.responder = once(a);
    b.responder = once(b);
    uac.send(sipRequest({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId: failId }), p.sip);
    await uac.waitFor(isReply(failId, 200), 3000, '200 after failover');

    // A timeout: both routers silent for this Call-ID (fr_timer 800 ms, limit 2 -> 2 branches).
    const toId = uniq('to');
    const silentFor = (peer: SipPeer) => (r: Parameters<NonNullable<SipPeer['responder']>>[0]) => {
      if (r.msg.callId !== toId) uas.ok()(r, peer);
    };
    a.responder = silentFor(a);
    b.responder = silentFor(b);
    uac.send(sipRequest({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId: toId }), p.sip);
    await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === toId && r.msg.status >= 400, 5000, 'final error reply after timeouts');

    // A malformed datagram (no Via...).
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.120', () => res()));
    s.send(Buffer.from('INVITE sip:x@y SIP/2.0\r\nContent-Length: 0\r\n\r\n'), p.sip.port, p.sip.ip);
    await new Promise((r) => setTimeout(r, 100));
    s.close();

    // Keepalives: ds_ping_interval 1 s; both routers answer OPTIONS.
    assert.ok(await waitUntil(async () => get(await scrape(), 'switchyard_dispatcher_keepalives_total{result="ok"}') >= 2, 4000), 'keepalives answered');
    // Shard telemetry is published every ~100 ms.
    await new Promise((r) => setTimeout(r, 250));

    const m = await scrape();
    assert.ok(get(m, 'switchyard_sip_requests_received_total{method="INVITE"}') >= 7);
    assert.ok(get(m, 'switchyard_sip_requests_received_total{method="ACK"}') >= 5);
    assert.ok(get(m, 'switchyard_sip_requests_received_total{method="BYE"}') >= 5);
    assert.ok(get(m, 'switchyard_sip_replies_received_total{class="2xx"}') >= 11);
    assert.ok(get(m, 'switchyard_sip_replies_received_total{class="5xx"}') >= 1);
    assert.ok(get(m, 'switchyard_sip_replies_received_total{class="1xx"}') >= 5);
    assert.ok([...m.keys()].some((k) => k.startsWith('switchyard_sip_parse_errors_total{kind="MISSING_')), 'parse error by kind');
    assert.ok(get(m, 'switchyard_failovers_total') >= 1);
    assert.ok(get(m, 'switchyard_timeouts_total') >= 1);
    assert.ok(get(m, 'switchyard_retransmissions_sent_total') >= 1, 'INVITE retransmitted to the silent routers');
    assert.ok(get(m, 'switchyard_transactions_total') >= 12, 'INVITE and BYE transactions');
    assert.ok(get(m, 'switchyard_relayed_requests_total') >= 15);
    assert.ok(get(m, 'switchyard_stateless_relayed_requests_total') >= 5, 'ACKs');
    assert.ok(get(m, 'switchyard_udp_datagrams_received_total') >= 40);
    const sent = get(m, 'switchyard_udp_datagrams_sent_total');
    const received = get(m, 'switchyard_udp_datagrams_received_total');
    assert.ok(sent >= 40 && sent < received * 2, `sent ${sent} for ${received} received: counted once`);
    assert.ok(get(m, 'switchyard_udp_receive_batches_total') >= 1);
    assert.ok(get(m, 'switchyard_shard_batch_size_count{shard="0"}') >= 1);
    assert.equal(get(m, 'switchyard_shard_batch_size_bucket{le="+Inf",shard="0"}'), get(m, 'switchyard_shard_batch_size_count{shard="0"}'));
    assert.ok(get(m, 'switchyard_shard_batch_size_sum{shard="0"}') >= 35, 'messages the shard handled (keepalive replies are taken off before)');
    assert.ok(m.has('switchyard_shard_event_loop_delay_seconds{shard="0",stat="p99"}'));
    assert.ok(m.has('switchyard_shard_timers{shard="0"}'));
    assert.ok(get(m, 'switchyard_dispatcher_keepalives_total{result="sent"}') >= 2);
    assert.ok(get(m, `switchyard_dispatcher_keepalive_rtt_seconds{set="1",uri="${a.uri}"}`) >= 0);
    assert.equal(get(m, `switchyard_dispatcher_destination_state{set="1",uri="${a.uri}",state="active"}`), 1);
    assert.equal(get(m, `switchyard_dispatcher_destination_state{set="1",uri="${a.uri}",state="probing"}`), 1, 'mode 1: P after the first keepalive');
    assert.equal(get(m, `switchyard_dispatcher_destination_load{set="1",uri="${b.uri}"}`), 0);
    assert.equal(get(m, 'switchyard_dispatcher_ping_active'), 1);
    assert.ok(get(m, 'switchyard_dialogs_active') >= 1, 'deleted dialogs linger');
    assert.ok(m.has('switchyard_dialogs{state="confirmed"}'));
    assert.ok(m.has('switchyard_transactions_active'));
    a.responder = uas.ok();
    b.responder = uas.ok();
  });

  test('destination series follow dispatcher.set_state and ping_active', async () => {
    await rpc(p.port, 'dispatcher.ping_active', [0]);
    await rpc(p.port, 'dispatcher.set_state', ['d', 1, b.uri]);
    const m = await scrape();
    assert.equal(get(m, `switchyard_dispatcher_destination_state{set="1",uri="${b.uri}",state="disabled"}`), 1);
    assert.equal(get(m, `switchyard_dispatcher_destination_state{set="1",uri="${b.uri}",state="active"}`), 0);
    assert.equal(get(m, 'switchyard_dispatcher_ping_active'), 0);
    await rpc(p.port, 'dispatcher.set_state', ['a', 1, 'all']);
    await rpc(p.port, 'dispatcher.ping_active', [1]);
  });
});

describe('GET /metrics with worker shards', { timeout: 60_000 }, () => {
  test('per-shard series for every shard; datagrams counted once', async () => {
    const uac = await SipPeer.bind('127.0.0.123');
    const r1 = await SipPeer.bind('127.0.0.124');
    r1.responder = uas.ok();
    const p = await startPlane({ list: `1 ${r1.uri}\n`, workers: 2 });
    try {
      for (let n = 0; n < 8; n++) await hangUp(uac, p.sip, await placeCall(uac, p.sip, uniq(`w${n}-`)));
      let m = new Map<string, number>();
      const ok = await waitUntil(async () => {
        m = parseMetrics((await request(p.port, { method: 'GET', path: '/metrics' })).body);
        return (m.get('switchyard_transactions_total') ?? 0) >= 16;
      }, 3000);
      assert.ok(ok, 'shard telemetry published');
      assert.equal(m.get('switchyard_sip_requests_received_total{method="INVITE"}'), 8);
      for (const k of [0, 1]) {
        assert.ok(m.has(`switchyard_shard_batch_size_count{shard="${k}"}`), `shard ${k}`);
        assert.ok(m.has(`switchyard_shard_event_loop_delay_seconds{shard="${k}",stat="max"}`), `shard ${k}`);
      }
      const batches = (m.get('switchyard_shard_batch_size_count{shard="0"}') ?? 0) + (m.get('switchyard_shard_batch_size_count{shard="1"}') ?? 0);
      assert.ok(batches >= 8);
      const sent = m.get('switchyard_udp_datagrams_sent_total') ?? 0;
      const received = m.get('switchyard_udp_datagrams_received_total') ?? 0;
      assert.ok(sent >= 40 && sent < 2 * received, `sent ${sent}, received ${received}`);
    } finally {
      await p.close();
      await Promise.all([uac.close(), r1.close()]);
    }
  });
});
