/**
 * One shard: the transaction layer, its timer wheel, its route script and
 * its outgoing batch, for the Call-ID buckets it owns. Runs on a worker
 * thread (shard-worker.ts) or on the main thread with `workers: 0`.
 */
import { type Logger } from 'pino';

import { type ResolvedConfig } from '../config';
import { DialogTable } from '../dialog/dialog';
import { type DispatcherHandle } from '../dispatcher/route-api';
import { Dispatcher, dispatcherOptionsFromConfig, type DsState } from '../dispatcher';
import { scanner } from '../native';
import { PARSE_ERRORS, S, STRIDE } from '../native/layout';
import { loadRoute, type RouteEnv } from '../routes';
import { type RouteScript } from '../routes/api';
import { buildBadRequestReply } from '../sip/bad-request';
import { SipMessage } from '../sip/message';
import { TimerWheel } from '../tm/timer-wheel';
import { type LocalIdentity, type TmTimers, TransactionManager } from '../tm/tm';
import { BatchSender, type FlushFn } from './sender';

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
  private readonly scratch = new Uint32Array(STRIDE);
  private ticker: NodeJS.Timeout | undefined;

  constructor(o: ShardOptions) {
    this.index = o.index;
    this.log = o.log;
    this.config = o.config;
    this.wheel = new TimerWheel({ tickMs: o.tickMs ?? 10 });
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

  /** Drives the timer wheel (a turn of the shard's own event loop). */
  startTimers(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      try {
        this.wheel.advance();
      } catch (err) {
        this.log.error({ err }, 'timer callback failed');
      }
    }, this.wheel.tickMs);
  }

  stopTimers(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /**
   * Handles `count` datagrams of `buf`, described by quads [offset, length,
   * ipv4, port] in `meta`. When `slots` is given the scanner already ran
   * (STRIDE slots per datagram, as the native socket delivers them).
   */
  handleBatch(buf: Buffer, meta: Uint32Array, count: number, slots?: Uint32Array): void {
    this.stats.batches++;
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
        this.malformed(buf, off, len, src, err);
        continue;
      }
      try {
        this.tm.receive(new SipMessage(buf, view, at), src);
      } catch (e) {
        this.log.error({ err: e }, 'message handling failed');
      }
    }
    this.sender.flush();
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
