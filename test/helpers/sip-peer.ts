/**
 * A small SIP peer for end-to-end tests over real UDP on 127.0.0.x: it sends
 * what a test writes, records everything it receives (parsed), waits for
 * messages with a bounded timeout, and can answer requests automatically as
 * a UAS (ok / fail / silent / ring ...).
 */
import * as dgram from 'node:dgram';

import { Method } from '../../src/native/layout';
import { isParseFailure, parseMessage, type SipMessage } from '../../src/sip/message';

export interface Received {
  msg: SipMessage;
  raw: Buffer;
  from: { address: string; port: number };
  /** ms since the peer was created. */
  at: number;
}

export type Responder = (req: Received, peer: SipPeer) => void;

let seq = 0;
export function uniq(prefix = 'x'): string {
  seq++;
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36)}${seq}`;
}

export class SipPeer {
  readonly ip: string;
  port = 0;
  readonly received: Received[] = [];
  responder: Responder | undefined;
  private readonly sock: dgram.Socket;
  private readonly t0 = Date.now();
  private waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void; from: number }[] = [];

  private constructor(ip: string) {
    this.ip = ip;
    this.sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    this.sock.on('message', (raw, rinfo) => this.onMessage(raw, rinfo));
  }

  static async bind(ip: string, port = 0): Promise<SipPeer> {
    const p = new SipPeer(ip);
    await new Promise<void>((resolve, reject) => {
      p.sock.once('error', reject);
      p.sock.bind(port, ip, () => {
        p.sock.off('error', reject);
        resolve();
      });
    });
    p.port = p.sock.address().port;
    return p;
  }

  get uri(): string {
    return `sip:${this.ip}:${this.port}`;
  }
  get hostport(): string {
    return `${this.ip}:${this.port}`;
  }

  private onMessage(raw: Buffer, rinfo: dgram.RemoteInfo): void {
    const copy = Buffer.from(raw);
    const msg = parseMessage(copy);
    if (isParseFailure(msg)) {
      // Tests that care about unparsable input look at `raw`.
      const r = { msg: undefined as unknown as SipMessage, raw: copy, from: { address: rinfo.address, port: rinfo.port }, at: Date.now() - this.t0 };
      this.received.push(r);
      return;
    }
    const r: Received = { msg, raw: copy, from: { address: rinfo.address, port: rinfo.port }, at: Date.now() - this.t0 };
    this.received.push(r);
    const idx = this.received.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (idx >= w.from && w.pred(r)) {
        w.resolve(r);
        return false;
      }
      return true;
    });
    if (msg.isRequest && this.responder) this.responder(r, this);
  }

  send(data: string | Buffer, to: { ip: string; port: number }): void {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    this.sock.send(buf, to.port, to.ip);
  }

  /** Resolves with the first message (received already, from index `from`, or later) matching pred. */
  waitFor(pred: (r: Received) => boolean, timeoutMs: number, what: string, from = 0): Promise<Received> {
    for (let i = from; i < this.received.length; i++) {
      const r = this.received[i]!;
      if (r.msg && pred(r)) return Promise.resolve(r);
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred: (r: Received) => r.msg !== undefined && pred(r),
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
        from,
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.ip}:${this.port}: timed out after ${timeoutMs} ms waiting for ${what}; got: ${this.summary()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Messages received so far matching pred. */
  all(pred: (r: Received) => boolean): Received[] {
    return this.received.filter((r) => r.msg && pred(r));
  }

  summary(): string {
    return this.received.map((r) => (r.msg ? (r.msg.isRequest ? r.msg.method : `${r.msg.status}/${r.msg.cseqMethod}`) : 'unparsable')).join(',') || 'nothing';
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

// ------------------------------------------------------------------ builders

export interface RequestSpec {
  method: string;
  ruri: string;
  from: SipPeer;
  callId: string;
  cseq?: number;
  fromTag?: string;
  toTag?: string;
  toUri?: string;
  branch?: string;
  maxForwards?: number | null;
  routes?: string[];
  headers?: string[];
  body?: string;
  rport?: boolean;
}

export function request(s: RequestSpec): string {
  const lines = [`${s.method} ${s.ruri} SIP/2.0`];
  lines.push(`Via: SIP/2.0/UDP ${s.from.hostport};branch=${s.branch ?? `z9hG4bK${uniq('b')}`}${s.rport ? ';rport' : ''}`);
  if (s.maxForwards !== null) lines.push(`Max-Forwards: ${s.maxForwards ?? 70}`);
  for (const r of s.routes ?? []) lines.push(`Route: ${r}`);
  lines.push(`From: <sip:caller@${s.from.hostport}>;tag=${s.fromTag ?? 'ftag1'}`);
  lines.push(`To: <${s.toUri ?? s.ruri}>${s.toTag ? `;tag=${s.toTag}` : ''}`);
  lines.push(`Call-ID: ${s.callId}`);
  lines.push(`CSeq: ${s.cseq ?? 1} ${s.method === 'ACK' || s.method === 'CANCEL' ? s.method : s.method}`);
  lines.push(`Contact: <sip:caller@${s.from.hostport}>`);
  for (const h of s.headers ?? []) lines.push(h);
  const body = s.body ?? '';
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

/** A reply to `req` as a UAS would send it (Via, From, To, Call-ID, CSeq, Record-Route copied). */
export function reply(req: SipMessage, code: number, reason: string, opts: { toTag?: string; contact?: string; headers?: string[]; body?: string } = {}): string {
  const lines = [`SIP/2.0 ${code} ${reason}`];
  for (const v of req.vias) lines.push(`Via: ${v.value}`);
  for (const r of req.recordRoutes) lines.push(`Record-Route: ${r.value}`);
  lines.push(`From: ${req.from}`);
  lines.push(`To: ${req.to}${req.toTag === undefined && opts.toTag ? `;tag=${opts.toTag}` : ''}`);
  lines.push(`Call-ID: ${req.callId}`);
  lines.push(`CSeq: ${req.cseq} ${req.cseqMethod}`);
  if (opts.contact) lines.push(`Contact: <${opts.contact}>`);
  for (const h of opts.headers ?? []) lines.push(h);
  const body = opts.body ?? '';
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

/** Where a reply to `r` goes: its source. */
export function sourceOf(r: Received): { ip: string; port: number } {
  return { ip: r.from.address, port: r.from.port };
}

/** UAS behaviours. */
export const uas = {
  /** 180 then 200 to INVITE (with Contact), 200 to BYE/OPTIONS/others; ACKs ignored. */
  ok(opts: { ring?: boolean; trying?: boolean } = {}): Responder {
    return (r, peer) => {
      const m = r.msg;
      if (m.methodId === Method.ACK || m.methodId === Method.CANCEL) {
        if (m.methodId === Method.CANCEL) peer.send(reply(m, 200, 'OK', { toTag: 'uas' }), sourceOf(r));
        return;
      }
      const tag = `uas${m.callId.length}`;
      if (m.methodId === Method.INVITE) {
        if (opts.trying) peer.send(reply(m, 100, 'Trying'), sourceOf(r));
        if (opts.ring !== false) peer.send(reply(m, 180, 'Ringing', { toTag: tag }), sourceOf(r));
        peer.send(reply(m, 200, 'OK', { toTag: tag, contact: `sip:callee@${peer.hostport}` }), sourceOf(r));
        return;
      }
      peer.send(reply(m, 200, 'OK', { toTag: tag }), sourceOf(r));
    };
  },
  /** A final `code` to every INVITE (and 200 to other requests). */
  fail(code: number, reason: string): Responder {
    return (r, peer) => {
      const m = r.msg;
      if (m.methodId === Method.ACK) return;
      if (m.methodId === Method.INVITE) peer.send(reply(m, code, reason, { toTag: 'fail' }), sourceOf(r));
      else peer.send(reply(m, 200, 'OK', { toTag: 'x' }), sourceOf(r));
    };
  },
  /** 180 to INVITE, then waits; a CANCEL gets 200 and the INVITE a 487. */
  ring(): Responder {
    const invites = new Map<string, SipMessage>();
    return (r, peer) => {
      const m = r.msg;
      if (m.methodId === Method.INVITE) {
        invites.set(m.callId, m);
        peer.send(reply(m, 180, 'Ringing', { toTag: 'ring' }), sourceOf(r));
      } else if (m.methodId === Method.CANCEL) {
        peer.send(reply(m, 200, 'OK', { toTag: 'ring' }), sourceOf(r));
        const inv = invites.get(m.callId);
        if (inv) peer.send(reply(inv, 487, 'Request Terminated', { toTag: 'ring' }), sourceOf(r));
      }
    };
  },
};
