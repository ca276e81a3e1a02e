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

/**
 * $dlg_var storage: string keys to string values in creation order, in one
 * flat array [k0, v0, k1, v1, ...] (a dialog holds a handful at most).
 */
export class DlgVars {
  private readonly kv: string[] = [];

  get size(): number {
    return this.kv.length >>> 1;
  }
  get(name: string): string | undefined {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) if (kv[i] === name) return kv[i + 1];
    return undefined;
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Sets name = value; an existing name moves to the end (it becomes the newest). */
  set(name: string, value: string): void {
    this.delete(name);
    this.kv.push(name, value);
  }
  delete(name: string): boolean {
    const kv = this.kv;
    for (let i = 0; i < kv.length; i += 2) {
      if (kv[i] === name) {
        kv.splice(i, 2);
        return true;
      }
    }
    return false;
  }
  /** [name, value] pairs, oldest first. */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.kv.length; i += 2) out.push([this.kv[i]!, this.kv[i + 1]!]);
    return out;
  }
}

/**
 * One dialog. It is its own entry on the shard's timer wheel (a Dialog is a
 * Timer), and dialogs sharing a Call-ID are chained through `sameCallId`:
 * a call costs one object here, plus its strings and variables.
 */
export class Dialog extends Timer {
  readonly hEntry: number;
  readonly hId: number;
  readonly callId: string;
  readonly fromUri: string;
  readonly toUri: string;
  state = DlgState.Unconfirmed;
  /** Unix seconds. */
  readonly initTs: number;
  startTs = 0;
  endTs = 0;
  /** Lifetime once confirmed, s. */
  lifetime: number;
  /** Absolute expiry (unix s), 0 while not running. */
  timeoutTs = 0;
  /** When the current timeout is due, ms on the wheel's clock (the wheel entry may be earlier: it re-arms). */
  dueMs = 0;
  /** $dlg_var: creation order; dlg.list shows the most recent first. */
  readonly vars = new DlgVars();
  byeSeen = false;
  /** Caller leg: From tag, Contact URI, last CSeq. */
  readonly callerTag: string;
  callerContact: string;
  callerCseq: number;
  /** Callee leg (set by the 2xx): To tag, Contact URI, last CSeq, and the route set towards the caller. */
  calleeTag = '';
  calleeContact = '';
  calleeCseq = 0;
  routeSet = '';
  /** Next dialog with the same Call-ID (forks, spirals). */
  sameCallId: Dialog | undefined = undefined;

  constructor(hEntry: number, hId: number, msg: SipMessage, lifetime: number, nowS: number) {
    super();
    this.hEntry = hEntry;
    this.hId = hId;
    this.callId = msg.callId;
    this.fromUri = msg.fromUri;
    this.toUri = msg.toUri;
    this.callerTag = msg.fromTag ?? '';
    this.callerContact = msg.contactUri ?? '';
    this.callerCseq = msg.cseq;
    this.initTs = nowS;
    this.lifetime = lifetime;
  }

  /** The caller leg as dlg.list shows it (route set: Kamailio stores the 2xx's Record-Routes on the caller leg). */
  get caller(): DialogSide {
    return { tag: this.callerTag, contact: this.callerContact, cseq: String(this.callerCseq), routeSet: this.routeSet };
  }
  get callee(): DialogSide {
    return { tag: this.calleeTag, contact: this.calleeContact, cseq: String(this.calleeCseq), routeSet: '' };
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
  /** Call-ID -> first dialog with it (the others chained through sameCallId). */
  private readonly byCallId = new Map<string, Dialog>();
  private readonly o: Required<Omit<DialogOptions, 'onState'>> & Pick<DialogOptions, 'onState'>;
  private readonly wheel: TimerWheel;
  private nextId: number;
  private count = 0;
  /** Dialogs per state (index 1-5), for telemetry without walking the table. */
  private readonly perState = [0, 0, 0, 0, 0, 0];

  constructor(o: DialogOptions) {
    this.o = { earlyTimeout: 300, noackTimeout: 60, linger: 5, hashSize: 4096, ...o };
    this.wheel = o.wheel;
    // h_id: random start above 3 * size so ids cannot collide with Kamailio nodes' (dmq.md §8.4).
    this.nextId = 3 * this.o.hashSize + Math.floor(Math.random() * 0x3fffffff);
  }

  get size(): number {
    return this.count;
  }

  /** How many dialogs are in state `s` (1-5). */
  inState(s: DlgState | number): number {
    return this.perState[s] ?? 0;
  }

  /** Every dialog (dlg.list). */
  list(): Dialog[] {
    const out: Dialog[] = [];
    for (const first of this.byCallId.values()) for (let d: Dialog | undefined = first; d; d = d.sameCallId) out.push(d);
    return out;
  }

  /** Finds a dialog by Call-ID and tags, in either direction. */
  find(callId: string, fromTag: string | undefined, toTag: string | undefined): Dialog | undefined {
    for (let d = this.byCallId.get(callId); d; d = d.sameCallId) {
      if (d.callerTag === fromTag && (toTag === undefined || d.calleeTag === '' || d.calleeTag === toTag)) return d;
      if (toTag !== undefined && d.callerTag === toTag && d.calleeTag === fromTag) return d;
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
    const toTag = msg.toTag;
    let d: Dialog | undefined;
    if (toTag === undefined) {
      if (msg.methodId !== Method.INVITE) return undefined;
      // a spiral or a second INVITE of the caller's finds its dialog (tm absorbs retransmissions before this)
      const callId = msg.callId;
      const first = this.byCallId.get(callId);
      d = first ? this.find(callId, msg.fromTag, undefined) : undefined;
      if (!d) d = this.create(msg, first);
    } else {
      d = this.find(msg.callId, msg.fromTag, toTag);
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
    else d.vars.set(name, value);
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
        d.calleeTag = reply.toTag ?? d.calleeTag;
        d.calleeContact = reply.contactUri ?? '';
        d.routeSet = reply.recordRouteSet();
      }
      d.startTs = nowSeconds();
      this.setState(d, DlgState.ConfirmedNa);
      this.arm(d, this.o.noackTimeout, d.startTs);
      return;
    }
    // A negative final answer ends a dialog that was not confirmed.
    if (d.state < DlgState.ConfirmedNa) this.end(d);
  }

  private create(msg: SipMessage, first: Dialog | undefined): Dialog {
    const size = this.o.hashSize;
    const hEntry = coreHashBytes(msg.buf, msg.slots[msg.at + S.CALLID_OFF]!, msg.slots[msg.at + S.CALLID_LEN]!) & (size - 1);
    this.nextId = (this.nextId + 1) >>> 0;
    const nowS = nowSeconds();
    const d = new Dialog(hEntry, this.nextId, msg, this.o.defaultTimeout, nowS);
    if (first) {
      let last = first;
      while (last.sameCallId) last = last.sameCallId;
      last.sameCallId = d;
    } else {
      this.byCallId.set(d.callId, d);
    }
    this.count++;
    this.perState[d.state]!++;
    this.arm(d, this.o.earlyTimeout, nowS);
    return d;
  }

  private inDialog(d: Dialog, msg: SipMessage): void {
    if (d.state === DlgState.Deleted) return;
    const m = msg.methodId;
    if (msg.fromTag === d.callerTag) d.callerCseq = msg.cseq;
    else d.calleeCseq = msg.cseq;
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
    d.endTs = nowSeconds();
    this.setState(d, DlgState.Deleted);
    this.arm(d, this.o.linger, d.endTs);
  }

  /**
   * Sets the dialog's timeout to `seconds` from now. The wheel entry moves
   * only when the new timeout is earlier than the one it waits for; a later
   * one (the lifetime pushed back by each in-dialog request) is picked up
   * when the entry fires early and re-arms for the rest.
   */
  private arm(d: Dialog, seconds: number, nowS = nowSeconds()): void {
    d.timeoutTs = d.state === DlgState.Deleted ? 0 : nowS + seconds;
    const delay = seconds * 1000;
    d.dueMs = this.wheel.now() + delay;
    if (!d.active || d.at > d.dueMs) this.wheel.schedule(delay, this.expire, d, d);
  }

  private readonly expire = (d: Dialog): void => {
    const early = d.dueMs - this.wheel.now();
    if (early > 0) {
      this.wheel.schedule(early, this.expire, d, d);
      return;
    }
    if (d.state === DlgState.Deleted) {
      this.unlink(d);
      return;
    }
    // Lifetime or early/no-ACK timeout: the dialog ends.
    this.end(d);
  };

  private unlink(d: Dialog): void {
    this.wheel.cancel(d);
    const first = this.byCallId.get(d.callId);
    if (!first) return;
    if (first === d) {
      if (d.sameCallId) this.byCallId.set(d.callId, d.sameCallId);
      else this.byCallId.delete(d.callId);
    } else {
      let prev = first;
      while (prev.sameCallId && prev.sameCallId !== d) prev = prev.sameCallId;
      if (prev.sameCallId !== d) return;
      prev.sameCallId = d.sameCallId;
    }
    d.sameCallId = undefined;
    this.count--;
    this.perState[d.state]!--;
  }

  private setState(d: Dialog, s: DlgState): void {
    const from = d.state;
    if (from === s) return;
    d.state = s;
    this.perState[from]!--;
    this.perState[s]!++;
    this.o.onState?.(d, from);
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
