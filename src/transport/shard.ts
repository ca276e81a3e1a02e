/**
 * One shard: the transaction layer, its timer wheel, its route script and
 * its outgoing batch, for the Call-ID buckets it owns. Runs on a worker
 * thread (shard-worker.ts) or on the main thread with `workers: 0`.
 */
import { type Logger } from 'pino';

import { type ResolvedConfig } from '../config';
import { DialogTable } from '../dialog/dialog';
import '../dialog/rpc';
import { type DispatcherHandle } from '../dispatcher/route-api';
import { Dispatcher, dispatcherOptionsFromConfig, type DsState } from '../dispatcher';
import { scanner } from '../native';
import { PARSE_ERRORS, S, STRIDE } from '../native/layout';
import { loadRoute, type RouteEnv } from '../routes';
import { type RouteScript } from '../routes/api';
import { buildBadRequestReply } from '../sip/bad-request';
import { SipMessage } from '../sip/message';
import { type Clock, TimerWheel } from '../tm/timer-wheel';
import { type LocalIdentity, type TmTimers, TransactionManager } from '../tm/tm';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

import { BatchSender, type FlushFn } from './sender';
import { batchBucket, T } from './telemetry';

export interface ShardOptions {
  index: number;
  config: ResolvedConfig;
  local: LocalIdentity;
  /** Destination state shared with the main thread (and the other shards). */
  dsState: DsState;
  log: Logger;
  flush: FlushFn;
  timers: Partial<TmTimers>;
  /** A route factory instead of config.route (tests). */
  route?: (env: RouteEnv) => RouteScript;
  /** Timer wheel resolution, ms. */
  tickMs?: number;
  /** The timer wheel's clock (default: the monotonic clock; benchmarks drive a virtual one). */
  clock?: Clock;
  /** This shard's block of the shared telemetry (telemetry.ts). */
  telemetry?: Float64Array;
}

/** A read-only question a shard answers for the management plane (dlg.list ...). */
export type ShardQuery = (shard: Shard, params: readonly unknown[]) => unknown;
const queries = new Map<string, ShardQuery>();

/** Registers a shard query; modules call this at load, in every thread. */
export function registerShardQuery(name: string, fn: ShardQuery): void {
  queries.set(name, fn);
}

/** Set on a datagram the main thread consumed (a keepalive reply): the shard skips it. */
export const CONSUMED = 0xff;

export interface ShardStats {
  batches: number;
  messages: number;
  parseErrors: number[];
  badRequestReplies: number;
}

export class Shard {
  readonly index: number;
  readonly tm: TransactionManager;
  readonly wheel: TimerWheel;
  readonly sender: BatchSender;
  readonly log: Logger;
  readonly stats: ShardStats;
  readonly dialogs: DialogTable;
  readonly dispatcher: DispatcherHandle;
  private readonly config: ResolvedConfig;
  /** Shared telemetry block (a private one when not given). */
  readonly telemetry: Float64Array;
  private readonly loopDelay: IntervalHistogram;
  private ticks = 0;
  private readonly scratch = new Uint32Array(STRIDE);
  private ticker: NodeJS.Timeout | undefined;

  constructor(o: ShardOptions) {
    this.index = o.index;
    this.log = o.log;
    this.config = o.config;
    this.telemetry = o.telemetry ?? new Float64Array(T.SIZE);
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.wheel = new TimerWheel({ tickMs: o.tickMs ?? 10, clock: o.clock });
    this.sender = new BatchSender(o.flush);
    this.dialogs = new DialogTable({ wheel: this.wheel, defaultTimeout: o.config.dialog.defaultTimeout });
    this.dispatcher = { current: new Dispatcher(o.dsState.list, o.dsState, dispatcherOptionsFromConfig(o.config.dispatcher)) };
    const env: RouteEnv = {
      config: o.config,
      log: o.log.child({ module: 'route' }),
      shard: o.index,
      dispatcher: this.dispatcher,
      dialogs: this.dialogs,
    };
    const route = o.route ? o.route(env) : loadRoute(env);
    const dialogs = this.dialogs;
    this.tm = new TransactionManager({
      local: o.local,
      sender: this.sender,
      wheel: this.wheel,
      route,
      log: o.log,
      timers: o.timers,
      events: { responseOut: (vars, method, status, reply) => dialogs.responseOut(vars, method, status, reply) },
    });
    this.stats = { batches: 0, messages: 0, parseErrors: new Array<number>(PARSE_ERRORS.length).fill(0), badRequestReplies: 0 };
  }

  /**
   * A reloaded dispatcher list: new selections use it, transactions and
   * dialogs in flight keep the destinations they already have. The call-load
   * table carries over.
   */
  reloadDispatcher(state: DsState): void {
    const old = this.dispatcher.current;
    this.dispatcher.current = new Dispatcher(state.list, state, dispatcherOptionsFromConfig(this.config.dispatcher, old.callLoad));
  }

  /** Answers a management query (see registerShardQuery). */
  query(name: string, params: readonly unknown[]): unknown {
    const q = queries.get(name);
    if (!q) throw new Error(`unknown shard query ${name}`);
    return q(this, params);
  }

  /** SIGTERM: new INVITEs get 503 + Retry-After from now on. */
  drain(retryAfter: number): void {
    this.tm.retryAfter = retryAfter;
    this.tm.draining = true;
    // The transaction count the main thread waits on must be current now.
    this.publish();
  }

  /** Drives the timer wheel (a turn of the shard's own event loop). */
  startTimers(): void {
    if (this.ticker) return;
    this.loopDelay.enable();
    this.ticker = setInterval(() => {
      this.tick();
      if (++this.ticks % 10 === 0) this.publish();
    }, this.wheel.tickMs);
  }

  /** One turn of the timer wheel: the timers due by now fire, their sends leave together. */
  tick(): void {
    this.sender.beginTurn();
    try {
      this.wheel.advance();
    } catch (err) {
      this.log.error({ err }, 'timer callback failed');
    } finally {
      this.sender.flush();
    }
  }

  stopTimers(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.loopDelay.disable();
    this.publish();
  }

  /** Copies the shard's counters into its telemetry block (every 10 ticks). */
  publish(): void {
    const t = this.telemetry;
    const st = this.tm.stats;
    t[T.RELAYED] = st.relayed;
    t[T.STATELESS_RELAYED] = st.statelessRelayed;
    t[T.RETR_ABSORBED] = st.retransmissionsAbsorbed;
    t[T.RETR_SENT] = st.retransmissionsSent;
    t[T.LOCAL_REPLIES] = st.localReplies;
    t[T.TIMEOUTS] = st.timeouts;
    t[T.FAILURE_ROUTES] = st.failureRoutes;
    t[T.STRAY_REPLIES] = st.strayReplies;
    t[T.ROUTE_ERRORS] = st.routeErrors;
    t[T.TRANSACTIONS_TOTAL] = st.transactions;
    t[T.TRANSACTIONS_ACTIVE] = this.tm.size;
    t[T.TRANSACTIONS_PENDING] = this.tm.pending;
    t[T.DIALOGS_ACTIVE] = this.dialogs.size;
    t[T.DATAGRAMS_SENT] = this.sender.stats.sent;
    t[T.SEND_DROPS] = this.sender.stats.dropped;
    t[T.SEND_BATCHES] = this.sender.stats.batches;
    t[T.BAD_REQUEST_REPLIES] = this.stats.badRequestReplies;
    t[T.TIMERS] = this.wheel.size;
    for (let s = 1; s <= 5; s++) t[T.DIALOG_STATE + s] = this.dialogs.inState(s);
    if (this.ticks % 100 === 0 && this.loopDelay.count > 0) {
      t[T.LOOP_DELAY_P50] = this.loopDelay.percentile(50) / 1e6;
      t[T.LOOP_DELAY_P99] = this.loopDelay.percentile(99) / 1e6;
      t[T.LOOP_DELAY_MAX] = this.loopDelay.max / 1e6;
      this.loopDelay.reset();
    }
  }

  /**
   * Handles `count` datagrams of `buf`, described by quads [offset, length,
   * ipv4, port] in `meta`. When `slots` is given the scanner already ran
   * (STRIDE slots per datagram, as the native socket delivers them).
   */
  handleBatch(buf: Buffer, meta: Uint32Array, count: number, slots?: Uint32Array): void {
    this.sender.beginTurn();
    try {
      this.handle(buf, meta, count, slots);
    } finally {
      this.sender.flush();
    }
  }

  private handle(buf: Buffer, meta: Uint32Array, count: number, slots: Uint32Array | undefined): void {
    this.stats.batches++;
    const tel = this.telemetry;
    tel[T.BATCHES]!++;
    tel[T.BATCH_HIST + batchBucket(count)]!++;
    for (let i = 0; i < count; i++) {
      const q = i * 4;
      const off = meta[q]!;
      const len = meta[q + 1]!;
      const src = { ip: meta[q + 2]!, port: meta[q + 3]! };
      let view: Uint32Array;
      let at: number;
      let err: number;
      if (slots) {
        view = slots;
        at = i * STRIDE;
        err = slots[at + S.ERROR]!;
      } else {
        view = this.scratch;
        at = 0;
        err = -scanner.parse(buf, off, len, view, 0);
      }
      if (err === CONSUMED) continue;
      this.stats.messages++;
      if (err !== 0) {
        tel[T.PARSE_ERR + (err & 31)]!++;
        this.malformed(buf, off, len, src, err);
        continue;
      }
      if (view[at + S.KIND] === 1) tel[T.REQ_IN + view[at + S.METHOD]!]!++;
      else tel[T.REPLY_IN + ((view[at + S.STATUS]! / 100) | 0)]!++;
      try {
        this.tm.receive(new SipMessage(buf, view, at), src);
      } catch (e) {
        this.log.error({ err: e }, 'message handling failed');
      }
    }
  }

  private malformed(buf: Buffer, off: number, len: number, src: { ip: number; port: number }, code: number): void {
    this.stats.parseErrors[code] = (this.stats.parseErrors[code] ?? 0) + 1;
    const name = PARSE_ERRORS[code] ?? 'ARGS';
    if (this.log.isLevelEnabled('debug')) this.log.debug({ error: name, bytes: len }, 'malformed message');
    const reply = buildBadRequestReply(buf.subarray(off, off + len), name, this.tm.local.hostport);
    if (reply) {
      this.stats.badRequestReplies++;
      this.sender.send(reply, src);
    }
  }
}
