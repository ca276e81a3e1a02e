/**
 * The dispatcher's script functions, for route scripts: ds_select_dst(),
 * ds_next_dst() and the $xavp(_dsdst_) / $xavp(_dsctx_) results. The
 * selection is kept in the transaction's vars, so a failure route continues
 * from it, as Kamailio's tm-saved XAVPs do.
 */
import { type FailureContext, type RequestContext, type TxnVars } from '../routes/api';
import { type SipMessage } from '../sip/message';
import { type Dispatcher, type DsRecord, type DsSelectInput, type DsSelection } from './select';

/** Where the selection travels in transaction vars. */
export const DS_VAR_KEY = '__ds';

/** The shard's current dispatcher; replaced as a whole on reload. */
export interface DispatcherHandle {
  current: Dispatcher;
}

/**
 * Selection input read lazily from the message: each field is decoded only
 * if the algorithm asks for it (getters on a prototype, not per object).
 */
class MessageSelectInput implements DsSelectInput {
  private readonly msg: SipMessage;
  readonly ruri: string;
  readonly hashPv: string | undefined;

  constructor(msg: SipMessage, ruri: string, hashPv: string | undefined) {
    this.msg = msg;
    this.ruri = ruri;
    this.hashPv = hashPv;
  }
  get callId(): string {
    return this.msg.callId;
  }
  get callIdHash(): number {
    return this.msg.callIdHash;
  }
  // Whole header values: the URI is taken out of them as Kamailio does
  // (a bare URI with ';' in its user part would be cut short).
  get fromUri(): string {
    return this.msg.from;
  }
  get toUri(): string {
    return this.msg.to;
  }
  get authorization(): string | undefined {
    return this.msg.header('authorization');
  }
  get proxyAuthorization(): string | undefined {
    return this.msg.header('proxy-authorization');
  }
  get isInvite(): boolean {
    return this.msg.isInvite;
  }
}

/** Selection input read lazily from the message (Authorization only for alg 5). */
export function selectInput(msg: SipMessage, ruri: string, hashPv?: string): DsSelectInput {
  return new MessageSelectInput(msg, ruri, hashPv);
}

/**
 * ds_select_dst(set, alg, limit): sets $du to the selected destination and
 * keeps the failover records; alg 12 also appends every other destination as
 * a parallel branch. False when nothing is selectable.
 */
export function dsSelectDst(ds: DispatcherHandle, ctx: RequestContext, set: number, alg: number, limit: number, hashPv?: string): boolean {
  const sel = ds.current.select(set, alg, limit, selectInput(ctx.msg, ctx.ruri, hashPv));
  if (!sel) return false;
  ctx.du = sel.du;
  for (const b of sel.branches) ctx.appendBranch(b);
  ctx.vars[DS_VAR_KEY] = sel;
  return true;
}

/** ds_next_dst(): the next failover record becomes $du. False when none is left. */
export function dsNextDst(ds: DispatcherHandle, ctx: FailureContext): boolean {
  const sel = ctx.vars[DS_VAR_KEY] as DsSelection | undefined;
  if (!sel) return false;
  const next = ds.current.next(sel);
  if (next === undefined) return false;
  ctx.du = next;
  return true;
}

/** $xavp(_dsdst_): the failover records, the current destination first. */
export function xavpDst(vars: TxnVars): readonly DsRecord[] {
  return (vars[DS_VAR_KEY] as DsSelection | undefined)?.records ?? [];
}

/** $xavp(_dsctx_=>cnt). */
export function xavpCtxCnt(vars: TxnVars): number | undefined {
  return (vars[DS_VAR_KEY] as DsSelection | undefined)?.cnt;
}
