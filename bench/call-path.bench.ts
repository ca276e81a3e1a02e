/**
 * Call-path benchmark: the proxy's own work per call, without sockets or
 * SIPp. A Shard (the built-in sbc route, dispatcher alg 0 over two routers,
 * dialogs) handles a whole call - INVITE, 180, 200, ACK, BYE, 200 - fed as
 * datagrams the way the socket delivers them; its output is captured instead
 * of sent. Only the time inside Shard.handleBatch is counted, so the figure
 * is the JS (+ scanner) cost per call that the SIPp benchmark's CPU per call
 * adds to the kernel's UDP cost.
 *
 * Time is virtual: the shard's timer wheel runs on a clock that advances
 * 1000 / cps ms per call (--cps, default 1000) and is driven after every
 * call, with the telemetry publish every 100 ms, so transactions and dialogs
 * end and are freed as they would at that call rate.
 *
 * Usage: node dist/bench/call-path.bench.js [--calls N] [--rounds R] [--cps C] [--route plain|sbc|FILE]
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import pino from 'pino';

import { loadConfigText } from '../src/config';
import { DsState, parseDispatcherList } from '../src/dispatcher';
import { scanner } from '../src/native';
import { STRIDE } from '../src/native/layout';
import { SipMessage } from '../src/sip/message';
import { Shard } from '../src/transport/shard';
import { localIdentity } from '../src/tm/tm';

const UAC = { ip: 0x7f00000a, port: 5060 };
const ROUTER_IPS = [0x7f000002, 0x7f000003];

function config(route: string) {
  return loadConfigText(`
listen: udp:127.0.0.1:5060
workers: 0
route: ${route}
log_level: silent
dispatcher:
  list: |
    1 sip:127.0.0.2:5060
    1 sip:127.0.0.3:5060
  ds_ping_interval: 0
  set: 1
  alg: 0
  limit: 2
http:
  listen: null
`);
}

const sdp = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

function invite(n: number): Buffer {
  return Buffer.from(
    `INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5060;branch=z9hG4bK-${n}-1\r\n` +
      `From: "Alice" <sip:alice@127.0.0.10:5060>;tag=${n}SIPpTag001\r\nTo: <sip:bob@127.0.0.1:5060>\r\n` +
      `Call-ID: ${n}-4242@127.0.0.10\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.10:5060>\r\nMax-Forwards: 70\r\n` +
      `Subject: bench\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
    'latin1',
  );
}

/** A UAS reply to a request the proxy relayed: Via, Record-Route, From, To(+tag), Call-ID, CSeq echoed. */
function uasReply(req: SipMessage, code: number, reason: string, body = ''): Buffer {
  const lines = [`SIP/2.0 ${code} ${reason}`];
  for (const v of req.vias) lines.push(`Via: ${v.value}`);
  for (const r of req.recordRoutes) lines.push(`Record-Route: ${r.value}`);
  lines.push(`From: ${req.from}`, `To: ${req.to}${req.toTag ? '' : ';tag=uas1'}`, `Call-ID: ${req.callId}`, `CSeq: ${req.cseq} ${req.cseqMethod}`);
  lines.push('Contact: <sip:bob@127.0.0.2:5060;transport=UDP>', `Content-Length: ${body.length}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');
}

function inDialog(method: string, n: number, cseq: number, toTag: string, route: string, branch: string): Buffer {
  return Buffer.from(
    `${method} sip:bob@127.0.0.2:5060;transport=UDP SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5060;branch=${branch}\r\n` +
      `From: "Alice" <sip:alice@127.0.0.10:5060>;tag=${n}SIPpTag001\r\nTo: <sip:bob@127.0.0.1:5060>;tag=${toTag}\r\n` +
      `Call-ID: ${n}-4242@127.0.0.10\r\nCSeq: ${cseq} ${method}\r\nRoute: ${route}\r\nContact: <sip:alice@127.0.0.10:5060>\r\n` +
      `Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    'latin1',
  );
}

function main(): void {
  const args = process.argv.slice(2);
  const calls = Number(args[args.indexOf('--calls') + 1] ?? 20000) || 20000;
  const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
  // --route plain: the same calls through bench/routes/plain-relay.js (no dispatcher, no dialogs);
  // --route FILE: any route module
  const routeArg = args.includes('--route') ? (args[args.indexOf('--route') + 1] ?? 'sbc') : 'sbc';
  const routeName = routeArg === 'plain' ? 'plain relay' : routeArg === 'sbc' ? 'sbc route' : routeArg;
  const cfg = config(
    routeArg === 'plain' ? path.join(__dirname, '..', '..', 'bench', 'routes', 'plain-relay.js') : routeArg === 'sbc' ? 'sbc' : path.resolve(routeArg),
  );
  const cps = Number(args[args.indexOf('--cps') + 1] ?? 1000) || 1000;
  let virtualMs = 0;
  const out: { buf: Buffer; ip: number; port: number }[] = [];
  const shard = new Shard({
    clock: { now: () => virtualMs },
    index: 0,
    config: cfg,
    local: localIdentity('127.0.0.1', 5060),
    dsState: DsState.create(parseDispatcherList(cfg.dispatcher.listSource.kind === 'inline' ? cfg.dispatcher.listSource.text : '', 'bench.list')),
    log: pino({ level: 'silent' }),
    flush: (buf, quads, n) => {
      for (let i = 0; i < n; i++) {
        const q = i * 4;
        out.push({ buf: Buffer.from(buf.subarray(quads[q]!, quads[q]! + quads[q + 1]!)), ip: quads[q + 2]!, port: quads[q + 3]! });
      }
      return n;
    },
    timers: { frTimer: 5000, frInvTimer: 30000 },
  });
  const meta = new Uint32Array(4);
  const slots = new Uint32Array(STRIDE);
  let inside = 0n;
  const feed = (buf: Buffer, src: { ip: number; port: number }): void => {
    meta[0] = 0;
    meta[1] = buf.length;
    meta[2] = src.ip;
    meta[3] = src.port;
    const t0 = process.hrtime.bigint();
    scanner.parse(buf, 0, buf.length, slots, 0); // what the native socket does before JS sees the batch
    shard.handleBatch(buf, meta, 1, slots);
    inside += process.hrtime.bigint() - t0;
  };
  const outSlots = new Uint32Array(STRIDE);
  const take = (pred: (m: SipMessage) => boolean): SipMessage => {
    for (let i = 0; i < out.length; i++) {
      const buf = out[i]!.buf;
      if (scanner.parse(buf, 0, buf.length, outSlots, 0) !== 0) continue;
      const m = new SipMessage(buf, outSlots, 0);
      if (pred(m)) {
        out.splice(i, 1);
        return m.copy();
      }
    }
    throw new Error('expected output missing');
  };
  const oneCall = (n: number): number => {
    const start = inside;
    out.length = 0;
    feed(invite(n), UAC);
    const relayed = take((m) => m.isRequest && m.method === 'INVITE');
    const router = { ip: ROUTER_IPS[0]!, port: 5060 };
    feed(uasReply(relayed, 180, 'Ringing'), router);
    feed(uasReply(relayed, 200, 'OK', sdp), router);
    const ok = take((m) => m.isResponse && m.status === 200);
    const route = ok.recordRoutes.map((r) => r.value).join(', ');
    feed(inDialog('ACK', n, 1, 'uas1', route, `z9hG4bK-${n}-2`), UAC);
    feed(inDialog('BYE', n, 2, 'uas1', route, `z9hG4bK-${n}-3`), UAC);
    const bye = take((m) => m.isRequest && m.method === 'BYE');
    feed(uasReply(bye, 200, 'OK'), router);
    if (out.filter((o) => o.ip === UAC.ip).length < 1) throw new Error('call did not complete');
    // the rest of this call's share of a second: timers due by then, telemetry every 100 ms
    const before = Math.floor(virtualMs / 100);
    virtualMs += 1000 / cps;
    const t0 = process.hrtime.bigint();
    shard.tick();
    if (Math.floor(virtualMs / 100) !== before) shard.publish();
    inside += process.hrtime.bigint() - t0;
    return Number(inside - start);
  };
  // warm-up
  for (let n = 0; n < 3000; n++) oneCall(n);
  const results: number[] = [];
  let base = 1_000_000;
  for (let r = 0; r < rounds; r++) {
    const before = inside;
    for (let n = 0; n < calls; n++) oneCall(base + n);
    base += calls;
    results.push(Number(inside - before) / calls / 1000);
  }
  shard.stopTimers();
  results.sort((a, b) => a - b);
  const median = results[Math.floor(results.length / 2)]!;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  console.log(
    `call-path.bench (${routeName}): ${median.toFixed(1)} µs per call inside the proxy (13 SIP messages: 6 in, 7 out; median of ${rounds} x ${calls} calls at ${cps} calls/s virtual; ` +
      `${shard.tm.size} transactions, ${shard.dialogs.size} dialogs at the end; ` +
      `rounds ${results.map((x) => x.toFixed(1)).join('/')}); scanner ${scanner.kind}; commit ${commit}; ${os.cpus()[0]?.model} x${os.cpus().length}; Node ${process.version}; load ${os.loadavg()[0]!.toFixed(2)}`,
  );
}

main();
