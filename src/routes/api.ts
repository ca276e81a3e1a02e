/**
 * The route API: what a route script sees, the TypeScript counterpart of a
 * Kamailio request_route / failure_route / onreply_route.
 *
 * A script is synchronous: it decides while the message is in hand (relay,
 * reply, or drop by returning). State that must survive to a failure route
 * goes into `ctx.vars` (saved with the transaction, like tm-saved XAVPs).
 */
import { type Logger } from 'pino';

import { type Addr } from '../sip/addr';
import { type SipMessage } from '../sip/message';

/** Per-transaction script state, saved at relay time and handed to failure routes. */
export type TxnVars = Record<string, unknown>;

export interface RequestContext {
  /** The received request (valid during this call only). */
  readonly msg: SipMessage;
  /** Where it came from. */
  readonly src: Addr;
  readonly log: Logger;
  /** Per-transaction variables (like $xavp), saved when the request is relayed. */
  readonly vars: TxnVars;

  /** True when the To header has a tag (an in-dialog request). */
  hasToTag(): boolean;
  /** The Request-URI ($ru); assigning rewrites it in what is relayed. */
  ruri: string;
  /** The destination URI ($du): where to send, overriding the R-URI. */
  du: string | undefined;
  /** True if the URI's host:port is one of our listen/advertised addresses. */
  isMyself(uri: string): boolean;
  /**
   * RFC 3261 §16.4/§16.12 loose routing (Kamailio loose_route): false when the
   * request has no Route header. Otherwise our own top Route is dropped and
   * the destination becomes the next Route (or the R-URI when none is left).
   */
  looseRoute(): boolean;
  /** Adds our Record-Route (`<sip:advertised;lr;ftag=...>`) when relayed. */
  recordRoute(): void;
  /** remove_hf("Route"): relays without any Route header (initial requests). */
  removeRoutes(): void;
  /** append_branch(): relay() also forks to this destination (parallel forking). */
  appendBranch(du: string): void;
  /** Arms a failure route for the transaction this relay creates (t_on_failure). */
  onFailure(handler: FailureHandler): void;
  /**
   * t_relay(): relays statefully (a server transaction and one client
   * branch to $du, else the next Route, else the R-URI); an ACK is relayed
   * statelessly. False when no destination can be resolved.
   */
  relay(): boolean;
  /**
   * send_reply(): statelessly before relay(), statefully once a transaction
   * exists. Extra header lines without CRLF.
   */
  reply(code: number, reason: string, headers?: readonly string[]): void;
}

export interface FailureContext {
  /** The request as received (the transaction's copy). */
  readonly request: SipMessage;
  readonly log: Logger;
  readonly vars: TxnVars;
  /** Code and reason of the winning reply of the latest leg ($T_reply_code). */
  readonly replyCode: number;
  readonly replyReason: string;
  /** t_is_canceled(): the caller CANCELled the INVITE. */
  isCanceled(): boolean;
  /** t_branch_timeout(): the winning branch ended by its local final-response timer. */
  branchTimeout(): boolean;
  /** t_branch_replied(): the winning branch had received a reply (a 100 counts). */
  branchReplied(): boolean;
  /** t_check_status(): regex on the 3-digit code, anchored. */
  checkStatus(pattern: string): boolean;
  /** $du for the next relay; starts as the failed branch's destination. */
  du: string | undefined;
  /** $ru, reset to its value at relay time. */
  ruri: string;
  onFailure(handler: FailureHandler): void;
  /** Adds a new branch (a new leg) to the transaction. False if canceled or no destination. */
  relay(): boolean;
  /** Replies to the caller (statefully) instead of relaying the winning reply. */
  reply(code: number, reason: string, headers?: readonly string[]): void;
}

export type FailureHandler = (ctx: FailureContext) => void;

export interface ReplyContext {
  /** The reply from downstream, our Via still on top. */
  readonly msg: SipMessage;
  readonly src: Addr;
  readonly log: Logger;
  readonly vars: TxnVars;
  /** Index of the branch it belongs to. */
  readonly branch: number;
}

/** What a route script module exports. */
export interface RouteScript {
  readonly name: string;
  /** request_route. */
  request(ctx: RequestContext): void;
  /** onreply_route: return false to drop the reply. */
  reply?(ctx: ReplyContext): boolean | void;
}
