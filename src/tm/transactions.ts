/**
 * Transaction records (RFC 3261 §17) as Kamailio's tm keeps them: one server
 * transaction per request from upstream, with one client branch per
 * destination tried. Plain objects owned by one shard; their timers live in
 * that shard's wheel.
 */
import { type FailureHandler, type TxnVars } from '../routes/api';
import { type Addr } from '../sip/addr';
import { MAGIC_COOKIE } from '../sip/ids';
import { type SipMessage, type ViaView } from '../sip/message';
import { Timer } from './timer-wheel';

export const enum ServerState {
  /** No final reply sent yet. */
  Proceeding,
  /** A final reply went upstream (INVITE: waiting for ACK while retransmitting non-2xx). */
  Completed,
  /** INVITE: the ACK came (Timer I running). */
  Confirmed,
  Terminated,
}

/** What a route decided for the request before relaying it (replayed for every branch). */
export interface RelayPlan {
  /** R-URI at relay time (failure routes start from it again). */
  ruri: string;
  /** Drop our own top Route (loose routing). */
  dropTopRoute: boolean;
  /** Drop every Route header (Kamailio remove_hf("Route") on initial requests). */
  dropAllRoutes: boolean;
  recordRoute: boolean;
}

export class ServerTxn {
  readonly req: SipMessage;
  readonly src: Addr;
  readonly replyTo: Addr;
  readonly isInvite: boolean;
  readonly vars: TxnVars;
  readonly plan: RelayPlan;
  state = ServerState.Proceeding;
  /** The last reply sent upstream (re-sent on request retransmissions). */
  lastReply: Buffer | undefined = undefined;
  lastStatus = 0;
  /** Local To-tag, made on first use. */
  toTag: string | undefined = undefined;
  readonly branches: ClientBranch[] = [];
  /** First branch of the latest leg (failure_reply_mode 3: only it competes). */
  legStart = 0;
  canceled = false;
  failure: FailureHandler | undefined = undefined;
  /** True while a failure route runs (a relay() then adds a branch). */
  inFailureRoute = false;
  /** Timer G (non-2xx retransmission upstream), then I/J/wait. */
  readonly retr = new Timer();
  retrInterval = 0;
  /** Timer H (give up waiting for ACK) or the wait timer before deletion. */
  readonly end = new Timer();
  // Matching (ServerIndex): branch, sent-by (host lower-cased) and method, or the RFC 2543 key.
  matchBranch: string | undefined = undefined;
  matchHost = '';
  matchPort = 0;
  matchMethod = '';
  legacyKey: string | undefined = undefined;
  /** Next transaction with the same branch (an INVITE's CANCEL). */
  sameBranch: ServerTxn | undefined = undefined;
  /** In the index (findable). */
  indexed = false;

  constructor(req: SipMessage, src: Addr, replyTo: Addr, isInvite: boolean, vars: TxnVars, plan: RelayPlan) {
    this.req = req;
    this.src = src;
    this.replyTo = replyTo;
    this.isInvite = isInvite;
    this.vars = vars;
    this.plan = plan;
  }
}

/**
 * Server transactions by their RFC 3261 §17.2.3 key: the top Via's branch
 * (with the magic cookie), its sent-by and the method (an ACK or a CANCEL
 * looks up its INVITE with 'INVITE'). Transactions sharing a branch (an
 * INVITE and its CANCEL) are chained, so a lookup builds no key string.
 * Requests from RFC 2543 peers (no cookie) are keyed by Call-ID, CSeq
 * number, From tag, top Via and method.
 */
export class ServerIndex {
  private readonly byBranch = new Map<string, ServerTxn>();
  private readonly legacy = new Map<string, ServerTxn>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  find(msg: SipMessage, via: ViaView, method: string): ServerTxn | undefined {
    const branch = via.branch;
    if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
      const host = via.host;
      const port = via.port;
      for (let t = this.byBranch.get(branch); t; t = t.sameBranch) {
        if (t.matchMethod === method && t.matchPort === port && (t.matchHost === host || t.matchHost === host.toLowerCase())) return t;
      }
      return undefined;
    }
    return this.legacy.get(legacyKey(msg, via, method));
  }

  /** Makes `t` findable as the transaction of `msg` (its request) for `method`; it shadows an older one with the same key. */
  add(t: ServerTxn, msg: SipMessage, via: ViaView, method: string): void {
    if (t.indexed) return;
    const branch = via.branch;
    if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
      t.matchBranch = branch;
      t.matchHost = via.host.toLowerCase();
      t.matchPort = via.port;
      t.matchMethod = method;
      t.sameBranch = this.byBranch.get(branch);
      this.byBranch.set(branch, t);
    } else {
      const key = legacyKey(msg, via, method);
      const old = this.legacy.get(key);
      if (old) old.indexed = false;
      else this.count++;
      t.legacyKey = key;
      this.legacy.set(key, t);
      t.indexed = true;
      return;
    }
    t.indexed = true;
    this.count++;
  }

  remove(t: ServerTxn): void {
    if (!t.indexed) return;
    t.indexed = false;
    this.count--;
    if (t.legacyKey !== undefined) {
      if (this.legacy.get(t.legacyKey) === t) this.legacy.delete(t.legacyKey);
      return;
    }
    const branch = t.matchBranch!;
    const first = this.byBranch.get(branch);
    if (first === t) {
      if (t.sameBranch) this.byBranch.set(branch, t.sameBranch);
      else this.byBranch.delete(branch);
    } else {
      let prev = first;
      while (prev && prev.sameBranch !== t) prev = prev.sameBranch;
      if (prev) prev.sameBranch = t.sameBranch;
    }
    t.sameBranch = undefined;
  }
}

function legacyKey(msg: SipMessage, via: ViaView, method: string): string {
  return `${msg.callId}\u0000${msg.cseq}\u0000${msg.fromTag ?? ''}\u0000${via.value}\u0000${method}`;
}

export const enum BranchState {
  Calling,
  Proceeding,
  Completed,
  Terminated,
}

export class ClientBranch {
  readonly txn: ServerTxn;
  readonly index: number;
  /** Our Via branch parameter. */
  readonly branch: string;
  readonly dest: Addr;
  readonly du: string;
  /** The request as sent (retransmissions, CANCEL and ACK are built from it). */
  readonly out: Buffer;
  state = BranchState.Calling;
  /** Any reply received (t_branch_replied). */
  replied = false;
  /** A provisional reply received (CANCEL may be sent). */
  provisional = false;
  /** Ended by the local final-response timer (t_branch_timeout). */
  timeout = false;
  finalStatus = 0;
  finalReason = '';
  /** The final reply as received (copy), undefined for a local one. */
  finalReply: SipMessage | undefined = undefined;
  /** To-tag of the final reply (for the hop-by-hop ACK). */
  finalTo: string | undefined = undefined;
  /** CANCEL to send as soon as a provisional arrives (cancel_b_method=1). */
  cancelPending = false;
  cancelSent = false;
  readonly retr = new Timer();
  readonly fr = new Timer();
  retrInterval = 0;
  /** Outgoing CANCEL bytes and its retransmission state. */
  cancelOut: Buffer | undefined = undefined;
  readonly cancelRetr = new Timer();
  cancelInterval = 0;

  constructor(txn: ServerTxn, index: number, branch: string, dest: Addr, du: string, out: Buffer) {
    this.txn = txn;
    this.index = index;
    this.branch = branch;
    this.dest = dest;
    this.du = du;
    this.out = out;
  }
}
