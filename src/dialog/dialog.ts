/**
 * Dialogs as Kamailio's dialog module keeps them (shared/spec/dialog-htable.md
 * §2): created by dlg_manage() on an initial INVITE, moved through
 * UNCONFIRMED(1) -> EARLY(2) -> CONFIRMED_NA(3) -> CONFIRMED(4) -> DELETED(5)
 * by the replies sent upstream and the in-dialog requests, with string
 * variables ($dlg_var) that failure routes read.
 *
 * A dialog lives on the shard that owns its Call-ID; its timers are that
 * shard's wheel. Reply events come from tm (TmEvents.responseOut) for the
 * transaction the dialog was bound to through its vars.
 *
 * Timers (s): default_timeout (lifetime once confirmed, reset by in-dialog
 * requests), early_timeout 300 (stuck in 1/2), noack_timeout 60 (stuck in 3),
 * and deleted dialogs are unlinked after `linger` (5) so late ACK/BYE
 * retransmissions still match.
 */
import { coreHashBytes } from '../native/hash';
import { Method, S } from '../native/layout';
import { type RequestContext, type TxnVars } from '../routes/api';
import { type SipMessage } from '../sip/message';
import { Timer, type TimerWheel } from '../tm/timer-wheel';

export const enum DlgState {
  Unconfirmed = 1,
  Early = 2,
  ConfirmedNa = 3,
  Confirmed = 4,
  Deleted = 5,
}

/** Key under which the current dialog travels in transaction vars. */
export const DLG_VAR_KEY = '__dlg';

export interface DialogSide {
  tag: string;
  contact: string;
  cseq: string;
  routeSet: string;
}

export class Dialog {
  readonly hEntry: number;
  readonly hId: number;
  readonly callId: string;
  readonly fromUri: string;
  readonly toUri: string;
  readonly caller: DialogSide;
  readonly callee: DialogSide;
  state = DlgState.Unconfirmed;
  /** Unix seconds. */
  readonly initTs: number;
  startTs = 0;
  endTs = 0;
  /** Lifetime once confirmed, s. */
  lifetime: number;
  /** Absolute expiry (unix s), 0 while not running. */
  timeoutTs = 0;
  /** $dlg_var: insertion order; dlg.list shows the most recent first. */
  readonly vars = new Map<string, string>();
  readonly timer = new Timer();
  byeSeen = false;

  constructor(hEntry: number, hId: number, msg: SipMessage, lifetime: number) {
    this.hEntry = hEntry;
    this.hId = hId;
    this.callId = msg.callId;
    this.fromUri = msg.fromUri;
    this.toUri = msg.toUri;
    this.caller = { tag: msg.fromTag ?? '', contact: msg.contactUri ?? '', cseq: String(msg.cseq), routeSet: '' };
    this.callee = { tag: '', contact: '', cseq: '0', routeSet: '' };
    this.initTs = Math.floor(Date.now() / 1000);
    this.lifetime = lifetime;
  }
}

export interface DialogOptions {
  wheel: TimerWheel;
  /** `default_timeout`, s. */
  defaultTimeout: number;
  earlyTimeout?: number;
  noackTimeout?: number;
  /** How long a deleted dialog stays findable, s. */
  linger?: number;
  /** Dialog hash table size (h_entry = core_hash(Call-ID) & (size - 1)); Kamailio default 4096. */
  hashSize?: number;
  /** Called on every state change (DMQ replication, call-load, metrics). */
  onState?: (d: Dialog, from: DlgState) => void;
}

export class DialogTable {
  private readonly byCallId = new Map<string, Dialog[]>();
  private readonly o: Required<Omit<DialogOptions, 'onState'>> & Pick<DialogOptions, 'onState'>;
  private nextId: number;
  private count = 0;

  constructor(o: DialogOptions) {
    this.o = { earlyTimeout: 300, noackTimeout: 60, linger: 5, hashSize: 4096, ...o };
    // h_id: random start above 3 * size so ids cannot collide with Kamailio nodes' (dmq.md §8.4).
    this.nextId = 3 * this.o.hashSize + Math.floor(Math.random() * 0x3fffffff);
  }

  get size(): number {
    return this.count;
  }

  /** Every dialog (dlg.list). */
  list(): Dialog[] {
    const out: Dialog[] = [];
    for (const ds of this.byCallId.values()) out.push(...ds);
    return out;
  }

  /** Finds a dialog by Call-ID and tags, in either direction. */
  find(callId: string, fromTag: string | undefined, toTag: string | undefined): Dialog | undefined {
    const ds = this.byCallId.get(callId);
    if (!ds) return undefined;
    for (const d of ds) {
      if (d.caller.tag === fromTag && (toTag === undefined || d.callee.tag === '' || d.callee.tag === toTag)) return d;
      if (toTag !== undefined && d.caller.tag === toTag && d.callee.tag === fromTag) return d;
    }
    return undefined;
  }

  /**
   * dlg_manage(): an initial INVITE creates the dialog (a retransmission or
   * spiral with the same Call-ID and From-tag finds it); an in-dialog request
   * finds it by tags and advances its state. Binds it to ctx.vars so tm's
   * reply events and failure routes see it.
   */
  manage(ctx: RequestContext): Dialog | undefined {
    const msg = ctx.msg;
    let d: Dialog | undefined;
    if (msg.toTag === undefined) {
      if (msg.methodId !== Method.INVITE) return undefined;
      d = this.find(msg.callId, msg.fromTag, undefined);
      if (!d) d = this.create(msg);
    } else {
      d = this.find(msg.callId, msg.fromTag, msg.toTag);
      if (d) this.inDialog(d, msg);
    }
    if (d) ctx.vars[DLG_VAR_KEY] = d;
    return d;
  }

  /** The dialog bound to a context (manage() earlier), else found by tags. */
  current(vars: TxnVars, msg?: SipMessage): Dialog | undefined {
    const d = vars[DLG_VAR_KEY] as Dialog | undefined;
    if (d || !msg) return d;
    return this.find(msg.callId, msg.fromTag, msg.toTag);
  }

  /** $dlg_var(name) read; undefined = $null. */
  getVar(vars: TxnVars, name: string, msg?: SipMessage): string | undefined {
    return this.current(vars, msg)?.vars.get(name);
  }

  /** $dlg_var(name) = value; '' or null deletes. False when there is no dialog. */
  setVar(vars: TxnVars, name: string, value: string | null, msg?: SipMessage): boolean {
    const d = this.current(vars, msg);
    if (!d) return false;
    if (value === null || value === '') d.vars.delete(name);
    else {
      d.vars.delete(name);
      d.vars.set(name, value);
    }
    return true;
  }

  /** tm: a reply to a transaction went upstream. */
  responseOut(vars: TxnVars, method: number, status: number, reply: SipMessage | undefined): void {
    const d = vars[DLG_VAR_KEY] as Dialog | undefined;
    if (!d || method !== Method.INVITE) return;
    if (d.state === DlgState.Deleted && d.byeSeen) return;
    if (status < 200) {
      if (d.state === DlgState.Unconfirmed && status > 100) this.setState(d, DlgState.Early);
      return;
    }
    if (status < 300) {
      if (d.state >= DlgState.ConfirmedNa && d.state !== DlgState.Deleted) return;
      if (reply) {
        d.callee.tag = reply.toTag ?? d.callee.tag;
        d.callee.contact = reply.contactUri ?? '';
        d.caller.routeSet = reply.recordRoutes.map((r) => `<${r.uri}>`).join(',');
      }
      d.startTs = Math.floor(Date.now() / 1000);
      this.setState(d, DlgState.ConfirmedNa);
      this.arm(d, this.o.noackTimeout);
      return;
    }
    // A negative final answer ends a dialog that was not confirmed.
    if (d.state < DlgState.ConfirmedNa) this.end(d);
  }

  private create(msg: SipMessage): Dialog {
    const size = this.o.hashSize;
    const hEntry = coreHashBytes(msg.buf, msg.slots[msg.at + S.CALLID_OFF]!, msg.slots[msg.at + S.CALLID_LEN]!) & (size - 1);
    this.nextId = (this.nextId + 1) >>> 0;
    const d = new Dialog(hEntry, this.nextId, msg, this.o.defaultTimeout);
    const list = this.byCallId.get(d.callId);
    if (list) list.push(d);
    else this.byCallId.set(d.callId, [d]);
    this.count++;
    this.arm(d, this.o.earlyTimeout);
    return d;
  }

  private inDialog(d: Dialog, msg: SipMessage): void {
    if (d.state === DlgState.Deleted) return;
    const m = msg.methodId;
    if (msg.fromTag === d.caller.tag) d.caller.cseq = String(msg.cseq);
    else d.callee.cseq = String(msg.cseq);
    if (m === Method.BYE) {
      d.byeSeen = true;
      this.end(d);
      return;
    }
    if (m === Method.ACK && d.state === DlgState.ConfirmedNa) this.setState(d, DlgState.Confirmed);
    // Confirmed: (re)start the lifetime on ACK and on every other in-dialog request.
    if (d.state === DlgState.Confirmed) this.arm(d, d.lifetime);
  }

  private end(d: Dialog): void {
    d.endTs = Math.floor(Date.now() / 1000);
    this.setState(d, DlgState.Deleted);
    this.arm(d, this.o.linger);
  }

  private arm(d: Dialog, seconds: number): void {
    d.timeoutTs = d.state === DlgState.Deleted ? 0 : Math.floor(Date.now() / 1000) + seconds;
    this.o.wheel.schedule(seconds * 1000, this.expire, d, d.timer);
  }

  private readonly expire = (d: Dialog): void => {
    if (d.state === DlgState.Deleted) {
      this.unlink(d);
      return;
    }
    // Lifetime or early/no-ACK timeout: the dialog ends.
    this.end(d);
  };

  private unlink(d: Dialog): void {
    this.o.wheel.cancel(d.timer);
    const list = this.byCallId.get(d.callId);
    if (!list) return;
    const i = list.indexOf(d);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.byCallId.delete(d.callId);
    this.count--;
  }

  private setState(d: Dialog, s: DlgState): void {
    const from = d.state;
    if (from === s) return;
    d.state = s;
    this.o.onState?.(d, from);
  }
}
