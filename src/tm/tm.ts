/**
 * Transaction-stateful proxy core (RFC 3261 §16-17 over UDP), with the
 * behaviour of Kamailio 5.6 tm that the SBC relies on (shared/spec/transactions.md):
 *
 * - Server transactions absorb request retransmissions and re-send the last
 *   reply; INVITE gets "100 trying" at once; a CANCEL matching an INVITE gets
 *   "200 canceling" and cancels the branches that answered.
 * - Client branches retransmit at T1, 2T1, ... capped at T2 (INVITE too, as
 *   Kamailio does), until a provisional (INVITE) or final reply. A branch with
 *   no final reply ends with a local 408 after fr_timer, or fr_inv_timer once
 *   an INVITE branch got a provisional (restarted on every 1xx).
 * - Negative finals are ACKed hop by hop; 2xx are relayed at once and their
 *   ACK travels end to end (statelessly relayed by the route).
 * - When every branch of the latest leg has a final reply, the best one is
 *   picked (Kamailio's priorities), the failure route (if armed) runs and may
 *   add a new leg; otherwise the winner goes upstream: a received 503 becomes
 *   a local "500 <reason>", a local reply of a canceled INVITE becomes 487.
 * - Replies that match nothing are forwarded statelessly when our Via is on
 *   top (2xx retransmissions after the transaction ended), else dropped.
 *
 * Timers (ms, from config): t1, t2, t4, frTimer, frInvTimer, wtTimer.
 */
import { type Logger } from 'pino';

import { Method, type MethodId, S } from '../native/layout';
import {
  type FailureContext,
  type FailureHandler,
  type RequestContext,
  type RouteScript,
  type TxnVars,
} from '../routes/api';
import { type Addr, ipv4ToInt, uriToAddr } from '../sip/addr';
import { EditList, removeListValue } from '../sip/edit';
import { fnv1a, MAGIC_COOKIE, newBranchBase, newTmToTag, slToTag } from '../sip/ids';
import { isParseFailure, parseMessage, SipMessage } from '../sip/message';
import { buildLocalReply, editTopVia, REASONS, replyAddress } from '../sip/reply';
import { defaultPort, parseUri } from '../sip/uri';
import { type TimerWheel } from './timer-wheel';
import { BranchState, ClientBranch, type RelayPlan, ServerIndex, ServerState, ServerTxn } from './transactions';

export interface Sender {
  /** Queues one datagram (flushed as a batch at the end of the turn). */
  send(data: Buffer, to: Addr): void;
}

export interface TmTimers {
  t1: number;
  t2: number;
  t4: number;
  frTimer: number;
  frInvTimer: number;
  wtTimer: number;
}

export const DEFAULT_TIMERS: Readonly<TmTimers> = Object.freeze({
  t1: 500,
  t2: 4000,
  t4: 5000,
  frTimer: 30000,
  frInvTimer: 120000,
  wtTimer: 5000,
});

/** Our address as others see it. */
export interface LocalIdentity {
  /** Advertised IPv4 address (Via, Record-Route). */
  readonly ip: string;
  readonly port: number;
  /** `ip` or `ip:port` (port omitted when 5060, as Kamailio does). */
  readonly hostport: string;
  /** Every host:port we answer to (listen and advertised), lower-case. */
  readonly aliases: ReadonlySet<string>;
}

export function localIdentity(ip: string, port: number, extra: readonly { ip: string; port: number }[] = []): LocalIdentity {
  const aliases = new Set<string>();
  for (const a of [{ ip, port }, ...extra]) {
    aliases.add(`${a.ip}:${a.port}`.toLowerCase());
  }
  return { ip, port, hostport: port === 5060 ? ip : `${ip}:${port}`, aliases };
}

export interface TmStats {
  requestsIn: number;
  repliesIn: number;
  relayed: number;
  statelessRelayed: number;
  retransmissionsAbsorbed: number;
  retransmissionsSent: number;
  localReplies: number;
  timeouts: number;
  failureRoutes: number;
  strayReplies: number;
  routeErrors: number;
  transactions: number;
}

export function newTmStats(): TmStats {
  return {
    requestsIn: 0,
    repliesIn: 0,
    relayed: 0,
    statelessRelayed: 0,
    retransmissionsAbsorbed: 0,
    retransmissionsSent: 0,
    localReplies: 0,
    timeouts: 0,
    failureRoutes: 0,
    strayReplies: 0,
    routeErrors: 0,
    transactions: 0,
  };
}

/** Callbacks other modules register on transactions (Kamailio tm callbacks). */
export interface TmEvents {
  /** A reply went upstream (relayed, or local with `reply` undefined). */
  responseOut?(vars: TxnVars, method: MethodId, status: number, reply: SipMessage | undefined): void;
}

export interface TmOptions {
  local: LocalIdentity;
  sender: Sender;
  wheel: TimerWheel;
  route: RouteScript;
  log: Logger;
  timers?: Partial<TmTimers>;
  /** Max-Forwards inserted when a request has none. */
  maxForwards?: number;
  events?: TmEvents;
}

/** Kamailio t_reply.c:get_prio(): lower wins. */
export function replyPriority(code: number): number {
  const cls = Math.floor(code / 100);
  const xx = code % 100;
  switch (cls) {
    case 2:
      return xx;
    case 6:
      return 1000 + xx;
    case 3:
      return 3000 + xx;
    case 4:
      return code === 401 || code === 407 || code === 415 || code === 420 || code === 484 ? 4000 + xx : 4100 + xx;
    case 5:
      return 5000 + xx;
    case 1:
      return 11000 + code;
    default:
      return 10000 + code;
  }
}

const ACK_TO_INVITE = 'INVITE';

/** Copies a message out of a batch buffer so a transaction can keep it. */
function keep(msg: SipMessage): SipMessage {
  return msg.copy();
}

export class TransactionManager {
  readonly stats: TmStats = newTmStats();
  readonly local: LocalIdentity;
  private readonly sender: Sender;
  private readonly wheel: TimerWheel;
  private readonly route: RouteScript;
  readonly log: Logger;
  readonly timers: TmTimers;
  private readonly maxForwards: number;
  private readonly servers = new ServerIndex();
  private readonly clients = new Map<string, ClientBranch>();
  private readonly resolved = new Map<string, Addr | null>();
  private readonly myself = new Map<string, boolean>();
  private pendingCount = 0;
  private readonly events: TmEvents;
  /**
   * Draining (SIGTERM): new INVITEs get 503 with Retry-After; everything
   * else, transactions in flight and in-dialog requests, goes on.
   */
  draining = false;
  retryAfter = 5;

  constructor(o: TmOptions) {
    this.events = o.events ?? {};
    this.local = o.local;
    this.sender = o.sender;
    this.wheel = o.wheel;
    this.route = o.route;
    this.log = o.log;
    this.timers = { ...DEFAULT_TIMERS, ...o.timers };
    this.maxForwards = o.maxForwards ?? 70;
  }

  /** Live server transactions (including completed ones absorbing retransmissions). */
  get size(): number {
    return this.servers.size;
  }

  /** Server transactions still waiting for a final reply: what a drain waits for. */
  get pending(): number {
    return this.pendingCount;
  }

  // ------------------------------------------------------------ intake

  /** Handles one well-formed message from `src` (valid for this call only). */
  receive(msg: SipMessage, src: Addr): void {
    if (msg.isRequest) this.onRequest(msg, src);
    else this.onReply(msg, src);
  }

  private onRequest(msg: SipMessage, src: Addr): void {
    this.stats.requestsIn++;
    const via = msg.topVia!;
    const method = msg.methodId;
    if (method === Method.ACK) {
      const t = this.servers.find(msg, via, ACK_TO_INVITE);
      if (t) {
        this.ackReceived(t);
        return;
      }
    } else if (method === Method.CANCEL) {
      const again = this.servers.find(msg, via, 'CANCEL');
      if (again) {
        this.retransmitLast(again);
        return;
      }
      const inv = this.servers.find(msg, via, ACK_TO_INVITE);
      if (inv) {
        this.cancelReceived(inv, msg, src);
        return;
      }
    } else {
      const t = this.servers.find(msg, via, msg.method);
      if (t) {
        this.retransmitLast(t);
        return;
      }
    }
    if (this.draining && method === Method.INVITE && msg.toTag === undefined) {
      this.statelessReply(msg, src, 503, REASONS[503]!, [`Retry-After: ${this.retryAfter}`]);
      return;
    }
    // RFC 3261 §16.3 step 3 / Kamailio mf_process_maxfwd_header.
    if (msg.maxForwards === 0) {
      if (method !== Method.ACK) this.statelessReply(msg, src, 483, REASONS[483]!);
      return;
    }
    const ctx = new RequestCtx(this, msg, src);
    try {
      this.route.request(ctx);
    } catch (err) {
      this.stats.routeErrors++;
      this.log.error({ err, callId: msg.callId, method: msg.method }, 'route script failed on a request');
      if (ctx.txn && ctx.txn.state === ServerState.Proceeding) this.replyStateful(ctx.txn, 500, REASONS[500]!);
    }
  }

  private onReply(msg: SipMessage, src: Addr): void {
    this.stats.repliesIn++;
    const branch = msg.topViaBranch;
    const b = branch === undefined ? undefined : this.clients.get(branch);
    if (!b) {
      this.strayReply(msg);
      return;
    }
    if (msg.cseqMethodId === Method.CANCEL) {
      // Reply to our CANCEL: stop retransmitting it.
      if (msg.status >= 200) this.wheel.cancel(b.cancelRetr);
      return;
    }
    if (this.route.reply) {
      try {
        if (this.route.reply({ msg, src, log: this.log, vars: b.txn.vars, branch: b.index }) === false) return;
      } catch (err) {
        this.stats.routeErrors++;
        this.log.error({ err, callId: msg.callId }, 'route script failed on a reply');
      }
    }
    const status = msg.status;
    if (status < 200) this.provisionalOnBranch(b, msg);
    else this.finalOnBranch(b, msg);
  }

  // ------------------------------------------------------------ client side

  private provisionalOnBranch(b: ClientBranch, msg: SipMessage): void {
    if (b.state >= BranchState.Completed) return;
    const t = b.txn;
    b.replied = true;
    const first = !b.provisional;
    b.provisional = true;
    b.state = BranchState.Proceeding;
    if (t.isInvite) {
      // Retransmissions stop; fr_inv_timer (re)starts on every 1xx.
      this.wheel.cancel(b.retr);
      this.wheel.schedule(this.timers.frInvTimer, this.branchTimeout, b, b.fr);
      if (b.cancelPending || (t.canceled && first)) this.sendCancel(b, undefined);
    } else if (first) {
      // Timer E continues at T2 in "proceeding".
      b.retrInterval = this.timers.t2;
      this.wheel.schedule(this.timers.t2, this.branchRetransmit, b, b.retr);
    }
    // 100 is hop by hop; other provisionals go upstream while no final did.
    if (msg.status !== 100 && t.state === ServerState.Proceeding) this.relayReply(t, msg);
  }

  private finalOnBranch(b: ClientBranch, msg: SipMessage): void {
    const t = b.txn;
    const status = msg.status;
    if (b.state >= BranchState.Completed) {
      // A retransmitted final: re-ACK a negative one, relay a 2xx again.
      if (t.isInvite && status >= 300) this.sendAck(b, msg);
      else if (status < 300 && t.isInvite) this.relayReply(t, msg, true);
      return;
    }
    b.replied = true;
    b.state = BranchState.Completed;
    b.finalStatus = status;
    b.finalReason = msg.reason;
    this.wheel.cancel(b.retr);
    this.wheel.cancel(b.fr);
    if (t.isInvite && status >= 300) this.sendAck(b, msg);
    if (status < 300) {
      // 2xx: relayed at once, the transaction is decided, pending branches are cancelled.
      if (t.state === ServerState.Proceeding || t.isInvite) this.relayReply(t, msg, true);
      this.completeServer(t, status);
      if (t.isInvite) for (const o of t.branches) if (o !== b && o.state < BranchState.Completed) this.cancelBranch(o);
      return;
    }
    b.finalReply = keep(msg);
    b.finalTo = msg.to;
    this.maybeDecide(t);
  }

  /** Timer B/F (fr_timer) or fr_inv_timer fired: a local 408 on this branch. */
  private readonly branchTimeout = (b: ClientBranch): void => {
    if (b.state >= BranchState.Completed) return;
    const t = b.txn;
    this.stats.timeouts++;
    b.timeout = true;
    b.state = BranchState.Completed;
    b.finalStatus = 408;
    b.finalReason = REASONS[408]!;
    this.wheel.cancel(b.retr);
    // A branch that answered provisionally is CANCELled (after the 408 is processed).
    const cancelAfter = t.isInvite && b.provisional;
    this.maybeDecide(t);
    if (cancelAfter) this.sendCancel(b, undefined);
  };

  /** Timer A/E: retransmit the request, interval doubling up to T2. */
  private readonly branchRetransmit = (b: ClientBranch): void => {
    if (b.state >= BranchState.Completed || (b.txn.isInvite && b.provisional)) return;
    this.stats.retransmissionsSent++;
    this.sender.send(b.out, b.dest);
    b.retrInterval = Math.min(b.retrInterval * 2, this.timers.t2);
    this.wheel.schedule(b.retrInterval, this.branchRetransmit, b, b.retr);
  };

  /** Adds a branch to `t` towards `du` and sends it. False when `du` does not resolve. */
  addBranch(t: ServerTxn, du: string, ruri: string): boolean {
    const dest = this.resolve(du);
    if (!dest) return false;
    const index = t.branches.length;
    const branch = `${newBranchBase()}.${index}`;
    const out = this.buildRelayed(t.req, t.src, { ...t.plan, ruri }, branch);
    const b = new ClientBranch(t, index, branch, dest, du, out);
    t.branches.push(b);
    this.clients.set(branch, b);
    this.stats.relayed++;
    this.sender.send(out, dest);
    b.retrInterval = this.timers.t1;
    this.wheel.schedule(this.timers.t1, this.branchRetransmit, b, b.retr);
    this.wheel.schedule(this.timers.frTimer, this.branchTimeout, b, b.fr);
    return true;
  }

  private cancelBranch(b: ClientBranch): void {
    if (b.state >= BranchState.Completed || b.cancelSent) return;
    if (b.provisional) this.sendCancel(b, undefined);
    else b.cancelPending = true;
  }

  /** RFC 3261 §9.1: CANCEL built from the request as sent on this branch. */
  private sendCancel(b: ClientBranch, reason: readonly string[] | undefined): void {
    if (b.cancelSent) return;
    b.cancelSent = true;
    b.cancelPending = false;
    const out = this.parsedOut(b);
    const lines = [`CANCEL ${out.ruri} SIP/2.0`, `Via: ${out.topVia!.value}`];
    const routes = out.routes;
    if (routes.length) lines.push(`Route: ${routes.map((r) => r.value).join(', ')}`);
    lines.push(`From: ${out.from}`, `To: ${out.to}`, `Call-ID: ${out.callId}`, `CSeq: ${out.cseq} CANCEL`);
    lines.push(`Max-Forwards: ${out.maxForwards ?? this.maxForwards}`);
    const r = reason ?? (b.txn.vars['__cancelReason'] as string[] | undefined);
    if (r) for (const h of r) lines.push(`Reason: ${h}`);
    lines.push('Content-Length: 0');
    b.cancelOut = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    this.sender.send(b.cancelOut, b.dest);
    b.cancelInterval = this.timers.t1;
    this.wheel.schedule(this.timers.t1, this.cancelRetransmit, b, b.cancelRetr);
  }

  private readonly cancelRetransmit = (b: ClientBranch): void => {
    if (!b.cancelOut || b.state >= BranchState.Terminated) return;
    if (b.cancelInterval >= this.timers.frTimer) return;
    this.stats.retransmissionsSent++;
    this.sender.send(b.cancelOut, b.dest);
    const next = Math.min(b.cancelInterval * 2, this.timers.t2);
    b.cancelInterval += next;
    this.wheel.schedule(next, this.cancelRetransmit, b, b.cancelRetr);
  };

  /** Hop-by-hop ACK for a negative final reply (RFC 3261 §17.1.1.3). */
  private sendAck(b: ClientBranch, reply: SipMessage): void {
    const out = this.parsedOut(b);
    const lines = [`ACK ${out.ruri} SIP/2.0`, `Via: ${out.topVia!.value}`];
    const routes = out.routes;
    if (routes.length) lines.push(`Route: ${routes.map((r) => r.value).join(', ')}`);
    lines.push(`From: ${out.from}`, `To: ${reply.to}`, `Call-ID: ${out.callId}`, `CSeq: ${out.cseq} ACK`);
    lines.push(`Max-Forwards: ${out.maxForwards ?? this.maxForwards}`, 'Content-Length: 0');
    this.sender.send(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b.dest);
  }

  private parsedOut(b: ClientBranch): SipMessage {
    const m = parseMessage(b.out);
    if (isParseFailure(m)) throw new Error(`our own request does not parse: ${m.error}`);
    return m;
  }

  // ------------------------------------------------------------ deciding

  private maybeDecide(t: ServerTxn): void {
    if (t.state !== ServerState.Proceeding) return;
    for (let i = t.legStart; i < t.branches.length; i++) if (t.branches[i]!.state < BranchState.Completed) return;
    this.decide(t);
  }

  /** Every branch of the latest leg is final: failure route, then the winner upstream. */
  private decide(t: ServerTxn): void {
    let win: ClientBranch | undefined;
    for (let i = t.legStart; i < t.branches.length; i++) {
      const b = t.branches[i]!;
      if (!win || replyPriority(b.finalStatus) < replyPriority(win.finalStatus)) win = b;
    }
    if (!win) {
      this.replyStateful(t, 500, REASONS[500]!);
      return;
    }
    const handler = t.failure;
    if (handler) {
      t.failure = undefined;
      this.stats.failureRoutes++;
      const fctx = new FailureCtx(this, t, win);
      t.inFailureRoute = true;
      try {
        handler(fctx);
      } catch (err) {
        this.stats.routeErrors++;
        this.log.error({ err, callId: t.req.callId }, 'failure route failed');
      } finally {
        t.inFailureRoute = false;
      }
      if (fctx.acted || t.state !== ServerState.Proceeding) return;
    }
    this.relayWinner(t, win);
  }

  private relayWinner(t: ServerTxn, win: ClientBranch): void {
    if (!win.finalReply) {
      // Local 408/503; a canceled INVITE answers 487 instead.
      if (t.canceled) this.replyStateful(t, 487, REASONS[487]!);
      else this.replyStateful(t, win.finalStatus, win.finalReason);
      return;
    }
    if (win.finalStatus === 503) {
      // remap_503_500: never relay a 503 upstream.
      this.replyStateful(t, 500, win.finalReason);
      return;
    }
    this.relayReply(t, win.finalReply, true);
    this.completeServer(t, win.finalStatus);
  }

  // ------------------------------------------------------------ server side

  /** Creates the server transaction for a request about to be relayed. */
  createServer(msg: SipMessage, src: Addr, vars: TxnVars, plan: RelayPlan): ServerTxn {
    const req = keep(msg);
    const via = req.topVia!;
    const method = req.method;
    const t = new ServerTxn(req, src, replyAddress(via, src), req.methodId === Method.INVITE, vars, plan);
    this.servers.add(t, req, via, method);
    this.stats.transactions++;
    this.pendingCount++;
    if (t.isInvite) this.replyStateful(t, 100, REASONS[100]!);
    return t;
  }

  /** A reply generated here, sent upstream through the transaction. */
  replyStateful(t: ServerTxn, code: number, reason: string, headers?: readonly string[]): void {
    if (t.state !== ServerState.Proceeding) return;
    if (code > 100 && t.toTag === undefined) t.toTag = newTmToTag();
    const buf = buildLocalReply(t.req, code, reason, { toTag: t.toTag, src: t.src, headers });
    this.stats.localReplies++;
    t.lastReply = buf;
    t.lastStatus = code;
    this.sender.send(buf, t.replyTo);
    this.events.responseOut?.(t.vars, t.req.methodId, code, undefined);
    if (code >= 200) this.completeServer(t, code);
  }

  /** Relays a reply from downstream upstream, our Via removed. */
  private relayReply(t: ServerTxn, msg: SipMessage, final = false): void {
    const edits = new EditList();
    removeListValue(edits, msg.buf, msg.topVia!);
    const out = edits.apply(msg.buf, msg.offset, msg.length);
    if (final || msg.status > 100) {
      t.lastReply = out;
      t.lastStatus = msg.status;
    }
    this.sender.send(out, t.replyTo);
    this.events.responseOut?.(t.vars, t.req.methodId, msg.status, msg);
  }

  /** A final went upstream: start Timer G/H (INVITE non-2xx) or the wait timer. */
  private completeServer(t: ServerTxn, status: number): void {
    if (t.state !== ServerState.Proceeding) return;
    t.state = ServerState.Completed;
    if (t.indexed) this.pendingCount--;
    if (t.isInvite && status >= 300) {
      t.retrInterval = this.timers.t1;
      this.wheel.schedule(this.timers.t1, this.serverRetransmit, t, t.retr);
      this.wheel.schedule(this.timers.frTimer, this.terminate, t, t.end);
    } else {
      this.wheel.schedule(this.timers.wtTimer, this.terminate, t, t.end);
    }
  }

  /** Timer G: the negative final again, until the ACK comes. */
  private readonly serverRetransmit = (t: ServerTxn): void => {
    if (t.state !== ServerState.Completed || !t.lastReply) return;
    this.stats.retransmissionsSent++;
    this.sender.send(t.lastReply, t.replyTo);
    t.retrInterval = Math.min(t.retrInterval * 2, this.timers.t2);
    this.wheel.schedule(t.retrInterval, this.serverRetransmit, t, t.retr);
  };

  private ackReceived(t: ServerTxn): void {
    this.stats.retransmissionsAbsorbed++;
    if (t.state !== ServerState.Completed || t.lastStatus < 300) return;
    t.state = ServerState.Confirmed;
    this.wheel.cancel(t.retr);
    this.wheel.schedule(this.timers.t4, this.terminate, t, t.end);
  }

  private retransmitLast(t: ServerTxn): void {
    this.stats.retransmissionsAbsorbed++;
    if (t.lastReply) this.sender.send(t.lastReply, t.replyTo);
  }

  private cancelReceived(inv: ServerTxn, cancel: SipMessage, src: Addr): void {
    // 200 to the CANCEL itself, remembered to absorb its retransmissions.
    const plan: RelayPlan = { ruri: cancel.ruri, dropTopRoute: false, dropAllRoutes: false, recordRoute: false };
    const kept = keep(cancel);
    const ct = new ServerTxn(kept, src, replyAddress(cancel.topVia, src), false, {}, plan);
    ct.toTag = inv.toTag ?? (inv.toTag = newTmToTag());
    this.servers.add(ct, kept, kept.topVia!, 'CANCEL');
    this.pendingCount++;
    this.replyStateful(ct, 200, 'canceling');
    if (inv.state !== ServerState.Proceeding || inv.canceled) return;
    inv.canceled = true;
    const reasons = cancel.headers('reason');
    if (reasons.length) inv.vars['__cancelReason'] = reasons;
    for (const b of inv.branches) {
      if (b.state >= BranchState.Completed) continue;
      if (b.provisional) this.sendCancel(b, reasons.length ? reasons : undefined);
      else b.cancelPending = true;
    }
  }

  /** Ends a transaction: every timer stopped, every key forgotten. */
  private readonly terminate = (t: ServerTxn): void => {
    if (t.state === ServerState.Proceeding && t.indexed) this.pendingCount--;
    t.state = ServerState.Terminated;
    this.wheel.cancel(t.retr);
    this.wheel.cancel(t.end);
    this.servers.remove(t);
    for (const b of t.branches) {
      b.state = BranchState.Terminated;
      this.wheel.cancel(b.retr);
      this.wheel.cancel(b.fr);
      this.wheel.cancel(b.cancelRetr);
      this.clients.delete(b.branch);
    }
  };

  // ------------------------------------------------------------ stateless

  statelessReply(req: SipMessage, src: Addr, code: number, reason: string, headers?: readonly string[]): void {
    if (req.methodId === Method.ACK) return;
    const tag = code > 100 ? slToTag(req.callIdHash) : undefined;
    this.stats.localReplies++;
    this.sender.send(buildLocalReply(req, code, reason, { toTag: tag, src, headers }), replyAddress(req.topVia, src));
  }

  /** Stateless relay (2xx ACK, unmatched CANCEL the script relays): RFC 3261 §16.11 branch. */
  forwardStateless(msg: SipMessage, src: Addr, plan: RelayPlan, du: string): boolean {
    const dest = this.resolve(du);
    if (!dest) return false;
    const top = msg.topVia!;
    const branch = `${MAGIC_COOKIE}sl${fnv1a(`${top.branch ?? top.value}|${msg.method}`)}.0`;
    this.sender.send(this.buildRelayed(msg, src, plan, branch), dest);
    this.stats.statelessRelayed++;
    return true;
  }

  /** A reply no transaction knows: forwarded when our Via is on top (Kamailio core forward_reply). */
  private strayReply(msg: SipMessage): void {
    this.stats.strayReplies++;
    const vias = msg.vias;
    const top = vias[0]!;
    if (!this.local.aliases.has(`${top.host}:${top.port || 5060}`.toLowerCase()) || vias.length < 2) return;
    const next = vias[1]!;
    const ip = ipv4ToInt(next.received ?? next.host);
    if (ip === undefined) return;
    const rport = next.rport !== undefined && next.rport !== '' ? Number(next.rport) : undefined;
    const port = rport ?? (next.port || 5060);
    const edits = new EditList();
    removeListValue(edits, msg.buf, top);
    this.sender.send(edits.apply(msg.buf, msg.offset, msg.length), { ip, port });
  }

  // ------------------------------------------------------------ building

  /** The request with our Via, the top Via fix-ups, Max-Forwards, Route and Record-Route edits. */
  buildRelayed(req: SipMessage, src: Addr, plan: RelayPlan, branch: string): Buffer {
    const buf = req.buf;
    const e = new EditList();
    const vias = req.vias;
    const top = vias[0]!;
    const headersAt = top.lineOff;
    if (plan.ruri !== req.ruri) e.replace(req.slots[req.at + S.RURI_OFF]!, req.slots[req.at + S.RURI_LEN]!, plan.ruri);
    e.insert(headersAt, `Via: SIP/2.0/UDP ${this.local.hostport};branch=${branch}\r\n`);
    if (plan.recordRoute) {
      const tag = req.fromTag;
      e.insert(headersAt, `Record-Route: <sip:${this.local.hostport};lr${tag ? `;ftag=${tag}` : ''}>\r\n`);
    }
    editTopVia(e, top, src);
    const mf = req.maxForwards;
    if (mf === undefined) e.insert(headersAt, `Max-Forwards: ${this.maxForwards}\r\n`);
    else e.replace(req.slots[req.at + S.MAXFWD_OFF]!, req.slots[req.at + S.MAXFWD_LEN]!, String(mf - 1));
    if (plan.dropAllRoutes) {
      // remove_hf("Route"): every Route header line.
      const seen = new Set<number>();
      for (const r of req.routes) {
        if (seen.has(r.lineOff)) continue;
        seen.add(r.lineOff);
        e.remove(r.lineOff, r.lineEnd - r.lineOff);
      }
    } else if (plan.dropTopRoute) {
      const r = req.routes[0];
      if (r) removeListValue(e, buf, r);
    }
    return e.apply(buf, req.offset, req.length);
  }

  /** sip:host[:port] -> address (IPv4 literals and localhost; cached). */
  resolve(uri: string): Addr | undefined {
    let a = this.resolved.get(uri);
    if (a === undefined) {
      a = uriToAddr(uri) ?? null;
      if (this.resolved.size > 10000) this.resolved.clear();
      this.resolved.set(uri, a);
    }
    return a ?? undefined;
  }

  /** Whether a URI points at us (cached: in-dialog requests carry the same Route URIs). */
  isMyself(uri: string): boolean {
    let mine = this.myself.get(uri);
    if (mine === undefined) {
      const u = parseUri(uri);
      mine = u !== undefined && this.local.aliases.has(`${u.host}:${u.port || defaultPort(u.scheme)}`.toLowerCase());
      if (this.myself.size > 4096) this.myself.clear();
      this.myself.set(uri, mine);
    }
    return mine;
  }
}

/** request_route context. */
class RequestCtx implements RequestContext {
  readonly msg: SipMessage;
  readonly src: Addr;
  readonly log: Logger;
  readonly vars: TxnVars = {};
  ruri: string;
  du: string | undefined = undefined;
  txn: ServerTxn | undefined = undefined;
  private readonly tm: TransactionManager;
  private failure: FailureHandler | undefined = undefined;
  private dropTopRoute = false;
  private dropAllRoutes = false;
  private rr = false;
  private routeHop: string | undefined = undefined;
  private extraBranches: string[] | undefined = undefined;

  constructor(tm: TransactionManager, msg: SipMessage, src: Addr) {
    this.tm = tm;
    this.msg = msg;
    this.src = src;
    this.ruri = msg.ruri;
    this.log = tm.log;
  }

  hasToTag(): boolean {
    return this.msg.toTag !== undefined;
  }

  isMyself(uri: string): boolean {
    return this.tm.isMyself(uri);
  }

  looseRoute(): boolean {
    const routes = this.msg.routes;
    if (routes.length === 0) return false;
    let i = 0;
    if (this.tm.isMyself(routes[0]!.uri)) {
      this.dropTopRoute = true;
      i = 1;
    }
    this.routeHop = routes[i]?.uri;
    return true;
  }

  recordRoute(): void {
    this.rr = true;
  }

  removeRoutes(): void {
    this.dropAllRoutes = true;
  }

  appendBranch(du: string): void {
    (this.extraBranches ??= []).push(du);
  }

  onFailure(handler: FailureHandler): void {
    if (this.txn) this.txn.failure = handler;
    else this.failure = handler;
  }

  relay(): boolean {
    const target = this.du ?? this.routeHop ?? this.ruri;
    const plan: RelayPlan = {
      ruri: this.ruri,
      dropTopRoute: this.dropTopRoute,
      dropAllRoutes: this.dropAllRoutes,
      recordRoute: this.rr,
    };
    const m = this.msg.methodId as MethodId;
    if (m === Method.ACK || m === Method.CANCEL) return this.tm.forwardStateless(this.msg, this.src, plan, target);
    if (this.txn) return this.tm.addBranch(this.txn, target, this.ruri);
    if (!this.tm.resolve(target)) return false;
    this.txn = this.tm.createServer(this.msg, this.src, this.vars, plan);
    this.txn.failure = this.failure;
    let ok = this.tm.addBranch(this.txn, target, this.ruri);
    for (const du of this.extraBranches ?? []) ok = this.tm.addBranch(this.txn, du, this.ruri) || ok;
    return ok;
  }

  reply(code: number, reason: string, headers?: readonly string[]): void {
    if (this.txn) this.tm.replyStateful(this.txn, code, reason, headers);
    else this.tm.statelessReply(this.msg, this.src, code, reason, headers);
  }
}

/** failure_route context. */
class FailureCtx implements FailureContext {
  readonly request: SipMessage;
  readonly log: Logger;
  readonly vars: TxnVars;
  readonly replyCode: number;
  readonly replyReason: string;
  du: string | undefined;
  ruri: string;
  /** The route relayed or replied: nothing else goes upstream. */
  acted = false;
  private readonly tm: TransactionManager;
  private readonly t: ServerTxn;
  private readonly win: ClientBranch;
  private newLeg = true;

  constructor(tm: TransactionManager, t: ServerTxn, win: ClientBranch) {
    this.tm = tm;
    this.t = t;
    this.win = win;
    this.request = t.req;
    this.vars = t.vars;
    this.replyCode = win.finalStatus;
    this.replyReason = win.finalReason;
    this.du = win.du;
    this.ruri = t.plan.ruri;
    this.log = tm.log;
  }

  isCanceled(): boolean {
    return this.t.canceled;
  }
  branchTimeout(): boolean {
    return this.win.timeout;
  }
  branchReplied(): boolean {
    // For a local timeout: whether the branch had heard anything (a 100 counts).
    return this.win.timeout ? this.win.provisional : true;
  }
  checkStatus(pattern: string): boolean {
    return new RegExp(`^(?:${pattern})$`).test(String(this.replyCode));
  }
  onFailure(handler: FailureHandler): void {
    this.t.failure = handler;
  }
  relay(): boolean {
    if (this.t.canceled || this.du === undefined) return false;
    const legStart = this.t.branches.length;
    if (!this.tm.addBranch(this.t, this.du, this.ruri)) return false;
    if (this.newLeg) {
      this.t.legStart = legStart;
      this.newLeg = false;
    }
    this.acted = true;
    return true;
  }
  reply(code: number, reason: string, headers?: readonly string[]): void {
    this.acted = true;
    this.tm.replyStateful(this.t, code, reason, headers);
  }
}

