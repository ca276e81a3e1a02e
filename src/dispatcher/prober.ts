/**
 * Keepalives (shared/spec/dispatcher.md §7): every `ds_ping_interval`
 * seconds, one OPTIONS (ds_ping_method) to each destination chosen by
 * `ds_probing_mode`, each a new non-INVITE client transaction - also when
 * earlier ones are still pending. Retransmitted at T1 doubling to T2 (T2
 * after a provisional) until a final reply or the ping timeout (tm fr_timer
 * as in Kamailio 5.6, or `ds_ping_timeout`), which counts as a local 408.
 *
 * Results update the shared destination state by (set, URI) in the list in
 * force when they complete (a reload does not lose them), in completion
 * order. Runs on the main thread; its replies are taken off the receive path
 * before sharding (their Via branch starts with PING_BRANCH_PREFIX).
 *
 * On the wire it looks like Kamailio's: R-URI and To = the destination URI,
 * From = ping_from attr or ds_ping_from with a tag, CSeq 10, a new Call-ID,
 * no Contact, no body; sent to the obproxy attr when set.
 */
import { randomBytes } from 'node:crypto';

import { type Logger } from 'pino';

import { type ResolvedDispatcher } from '../config';
import { type Addr, uriToAddr } from '../sip/addr';
import { type SipMessage } from '../sip/message';
import { Timer, type TimerWheel } from '../tm/timer-wheel';
import { type Sender } from '../tm/tm';
import { DS_DISABLED_DST, DS_INACTIVE_DST, DS_PROBING_DST, type DsState, type DsStateChange } from './state';

/** Via branch prefix of keepalives ('p' is not a hex digit: no tm branch starts so). */
export const PING_BRANCH_PREFIX = 'z9hG4bKsyp';

export interface ProberOptions {
  config: ResolvedDispatcher;
  /** The state in force (swapped on reload). */
  state: () => DsState;
  /** Our Via host[:port]. */
  hostport: string;
  sender: Sender;
  wheel: TimerWheel;
  log: Logger;
  timers: { t1: number; t2: number; frTimer: number };
  userAgent?: string;
}

interface Ping {
  branch: string;
  setId: number;
  uri: string;
  out: Buffer;
  dest: Addr;
  interval: number;
  provisional: boolean;
  sentAt: number;
  /** mode 3: whether the destination had PROBING when the ping left. */
  hadProbing: boolean;
  retr: Timer;
  fr: Timer;
}

export interface ProberStats {
  sent: number;
  ok: number;
  failed: number;
  retransmissions: number;
  /** Round-trip of the last successful ping per URI, ms. */
  latency: Map<string, number>;
}

const tagBase = randomBytes(16).toString('hex');
const idBase = randomBytes(8).toString('hex');

export class Prober {
  readonly stats: ProberStats = { sent: 0, ok: 0, failed: 0, retransmissions: 0, latency: new Map() };
  /** dispatcher.ping_active: new rounds only while true. */
  active = true;
  private readonly o: ProberOptions;
  private readonly pending = new Map<string, Ping>();
  private roundTimer: NodeJS.Timeout | undefined;
  private counter = 0;
  private readonly timeout: number;

  constructor(o: ProberOptions) {
    this.o = o;
    this.timeout = o.config.dsPingTimeout > 0 ? o.config.dsPingTimeout : o.timers.frTimer;
  }

  /** Keepalives in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  start(): void {
    const s = this.o.config.dsPingInterval;
    if (s <= 0 || this.roundTimer) return;
    this.roundTimer = setInterval(() => this.round(), s * 1000);
  }

  stop(): void {
    if (this.roundTimer) clearInterval(this.roundTimer);
    this.roundTimer = undefined;
    for (const p of this.pending.values()) {
      this.o.wheel.cancel(p.retr);
      this.o.wheel.cancel(p.fr);
    }
    this.pending.clear();
  }

  /** One keepalive round: sets in AVL post-order, destinations in index order. */
  round(): void {
    if (!this.active) return;
    const state = this.o.state();
    const mode = this.o.config.dsProbingMode;
    for (const set of state.list.sets) {
      set.destinations.forEach((d, pos) => {
        const i = state.indexOf(set.id, pos);
        const f = state.flags(i);
        if (f & DS_DISABLED_DST) return;
        // §7.3: mode 1 pings everyone; 0 and 3 the PROBING ones; 2 only INACTIVE+PROBING.
        const wanted =
          mode === 1 ||
          ((mode === 0 || mode === 3) && (f & DS_PROBING_DST) !== 0) ||
          (mode === 2 && (f & DS_INACTIVE_DST) !== 0 && (f & DS_PROBING_DST) !== 0);
        if (wanted) this.ping(set.id, d.uri, d.parsedAttrs.pingFrom, d.parsedAttrs.obproxy, (f & DS_PROBING_DST) !== 0);
      });
    }
  }

  private ping(setId: number, uri: string, pingFrom: string | null, obproxy: string | null, hadProbing: boolean): void {
    const dest = uriToAddr(obproxy ?? uri);
    this.counter++;
    const branch = `${PING_BRANCH_PREFIX}${idBase}.${this.counter.toString(36)}.0`;
    const cfg = this.o.config;
    const lines = [
      `${cfg.dsPingMethod} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.o.hostport};branch=${branch}`,
      `To: <${uri}>`,
      `From: <${pingFrom ?? cfg.dsPingFrom}>;tag=${tagBase}-${this.counter.toString(16).padStart(8, '0')}`,
      `CSeq: 10 ${cfg.dsPingMethod}`,
      `Call-ID: ${idBase}-${this.counter.toString(16)}-${process.pid}@${this.o.hostport}`,
      'Max-Forwards: 70',
      'Content-Length: 0',
      `User-Agent: ${this.o.userAgent ?? 'switchyard'}`,
    ];
    const out = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    const p: Ping = {
      branch,
      setId,
      uri,
      out,
      dest: dest ?? { ip: 0, port: 0 },
      interval: this.o.timers.t1,
      provisional: false,
      sentAt: performance.now(),
      hadProbing,
      retr: new Timer(),
      fr: new Timer(),
    };
    if (!dest) {
      // Cannot even be sent: failed at once (500 "Sending keepalive failed").
      this.result(p, 500);
      return;
    }
    this.pending.set(branch, p);
    this.stats.sent++;
    this.o.sender.send(out, p.dest);
    this.o.wheel.schedule(p.interval, this.retransmit, p, p.retr);
    this.o.wheel.schedule(this.timeout, this.expired, p, p.fr);
  }

  private readonly retransmit = (p: Ping): void => {
    if (!this.pending.has(p.branch)) return;
    this.stats.retransmissions++;
    this.o.sender.send(p.out, p.dest);
    p.interval = p.provisional ? this.o.timers.t2 : Math.min(p.interval * 2, this.o.timers.t2);
    this.o.wheel.schedule(p.interval, this.retransmit, p, p.retr);
  };

  private readonly expired = (p: Ping): void => {
    if (!this.pending.delete(p.branch)) return;
    this.o.wheel.cancel(p.retr);
    this.result(p, 408);
  };

  /** A reply whose top Via branch starts with PING_BRANCH_PREFIX. */
  onReply(msg: SipMessage): void {
    const branch = msg.topVia?.branch;
    const p = branch === undefined ? undefined : this.pending.get(branch);
    if (!p) return;
    const code = msg.status;
    if (code < 200) {
      p.provisional = true;
      return;
    }
    this.pending.delete(p.branch);
    this.o.wheel.cancel(p.retr);
    this.o.wheel.cancel(p.fr);
    this.stats.latency.set(p.uri, performance.now() - p.sentAt);
    this.result(p, code);
  }

  /** §7.4 success (2xx or ds_ping_reply_codes) or failure, then the §7.5 state machine. */
  private result(p: Ping, code: number): void {
    const cfg = this.o.config;
    const ok =
      (code >= 200 && code < 300) ||
      cfg.dsPingReplyCodes.some((c) => (c.kind === 'code' ? c.value === code : Math.floor(code / 100) === c.value));
    if (ok) this.stats.ok++;
    else this.stats.failed++;
    const state = this.o.state();
    const i = state.findUri(p.setId, p.uri);
    if (i < 0) return;
    const mode = cfg.dsProbingMode;
    const f = state.flags(i);
    // mode 3: a result for a destination no longer PROBING is ignored.
    if (mode === 3 && !(f & DS_PROBING_DST)) return;
    let change: DsStateChange | undefined;
    if (ok) {
      const keep = mode === 1 || (mode === 3 && p.hadProbing);
      change = state.markSuccess(i, cfg.dsInactiveThreshold, keep);
    } else {
      change = state.markFailure(i, cfg.dsProbingThreshold, mode !== 0);
    }
    if (change?.event) {
      this.o.log.warn(
        { event: `dispatcher:${change.event}`, set: p.setId, uri: p.uri, code, state: state.letters(i) },
        change.event === 'dst-down' ? 'destination down' : 'destination up',
      );
    }
  }
}

