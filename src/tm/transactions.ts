/**
 * Transaction records (RFC 3261 §17) as Kamailio's tm keeps them: one server
 * transaction per request from upstream, with one client branch per
 * destination tried. Plain objects owned by one shard; their timers live in
 * that shard's wheel.
 */
import { type FailureHandler, type TxnVars } from '../routes/api';
import { type Addr } from '../sip/addr';
import { type SipMessage } from '../sip/message';
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
  readonly key: string;
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

  constructor(key: string, req: SipMessage, src: Addr, replyTo: Addr, isInvite: boolean, vars: TxnVars, plan: RelayPlan) {
    this.key = key;
    this.req = req;
    this.src = src;
    this.replyTo = replyTo;
    this.isInvite = isInvite;
    this.vars = vars;
    this.plan = plan;
  }
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
