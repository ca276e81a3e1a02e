/**
 * The dataplane: listen sockets on the main thread, shards where the
 * transactions live.
 *
 * Each listen socket is a native UdpSocket: when readable, the addon drains
 * it with recvmmsg and scans every datagram (one crossing per batch). Then:
 * - `workers: 0`: the main thread's Shard takes the batch as it is, using the
 *   scanner's slots directly (no copy, no re-scan).
 * - `workers: N`: messages are grouped by the shard owning their Call-ID
 *   bucket (shard-table.ts); each group is copied once into a fresh
 *   ArrayBuffer that is transferred (never serialised) to that shard's
 *   worker over its own MessagePort, which keeps them in order (piscina's
 *   task queue does not: a CANCEL could overtake its INVITE). Each worker is
 *   a single-thread piscina pool whose event loop keeps running between
 *   batches (atomics disabled) so its timers fire; piscina starts and
 *   replaces the threads and carries the occasional query, reload and drain.
 *   A worker that dies closes its port: it is counted, its replacement gets
 *   a new port and the list in force. Shards send on the listen socket's fd
 *   themselves (sendmmsg from their thread).
 * Malformed datagrams are answered (400) or dropped on the main thread.
 */
import * as path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';

import { Piscina } from 'piscina';
import { type Logger } from 'pino';

import { loadConfiguredDispatcherList, type ResolvedConfig } from '../config';
import { DsState, type DsList } from '../dispatcher';
import { PING_BRANCH_PREFIX, Prober } from '../dispatcher/prober';
import { nativeUdp, type NativeUdpSocket } from '../native';
import { E, E_SIZE, EntryType, FIXED, METHOD_IDS, NONE, S, STRIDE } from '../native/layout';
import { SipMessage } from '../sip/message';
import { TimerWheel } from '../tm/timer-wheel';
import { type RouteEnv } from '../routes';
import { type RouteScript } from '../routes/api';
import { localIdentity, type LocalIdentity, type TmTimers } from '../tm/tm';
import { BatchSender } from './sender';
import { CONSUMED, Shard } from './shard';
import { buildShardTable } from './shard-table';
import { Telemetry, T } from './telemetry';

/** What a shard worker is started with (structured-cloned once). */
export interface ShardWorkerData {
  index: number;
  fd: number;
  config: ResolvedConfig;
  local: { ip: string; port: number; aliases: { ip: string; port: number }[] };
  timers: Partial<TmTimers>;
  /** The destination state (SharedArrayBuffer) and the list it was made for. */
  ds: { sab: SharedArrayBuffer; list: DsList };
  /** Shared telemetry; this shard writes block `index`. */
  telemetry: SharedArrayBuffer;
}

/** A management query for every shard (registerShardQuery). */
export interface ShardQueryTask {
  query: { name: string; params: unknown[] };
}

/** Start draining: new INVITEs get 503 + Retry-After. */
export interface ShardDrainTask {
  drain: { retryAfter: number };
}

export interface ShardBatchTask {
  /** [count, then count x (offset, length, ipv4, port)] then the datagram bytes; offsets are absolute. */
  data: ArrayBuffer;
}

/** The ordered channel the main thread sends batches on (once per worker thread). */
export interface ShardPortTask {
  port: MessagePort;
}

/** A new dispatcher list for every shard (reload). */
export interface ShardReloadTask {
  reload: { sab: SharedArrayBuffer; list: DsList };
}

export interface DataplaneOptions {
  config: ResolvedConfig;
  log: Logger;
  /** A route factory for `workers: 0` (tests); else config.route. */
  route?: (env: RouteEnv) => RouteScript;
  /** The dispatcher list; loaded from the config when absent. */
  dsList?: DsList;
  /** Receive batch size (datagrams per recvmmsg). */
  batch?: number;
}

export interface DataplaneStats {
  received: number;
  sent: number;
  batches: number;
  shardRestarts: number;
  shardErrors: number;
  droppedBatches: number;
}

/** Batches kept for a shard while its thread is being replaced (then dropped and counted). */
const MAX_HELD_BATCHES = 4096;

/** Young generation of shard threads, MB (the main thread gets --max-semi-space-size=64). */
const YOUNG_GENERATION_MB = 192;

function timersOf(config: ResolvedConfig): Partial<TmTimers> {
  const tm = config.tm;
  return { t1: tm.t1, t2: tm.t2, t4: tm.t4, frTimer: tm.frTimer, frInvTimer: tm.frInvTimer };
}

export class Dataplane {
  readonly config: ResolvedConfig;
  readonly local: LocalIdentity;
  readonly sockets: NativeUdpSocket[] = [];
  /** The main-thread shard (workers: 0). */
  shard: Shard | undefined;
  /** Destination state shared with every shard (replaced on reload). */
  dsState: DsState;
  /** OPTIONS keepalives (main thread). */
  readonly prober: Prober;
  private readonly pingMethod: number;
  private readonly pingBranch = Buffer.from(PING_BRANCH_PREFIX, 'latin1');
  private readonly mainWheel = new TimerWheel({ tickMs: 20 });
  /** Counters of every shard, in shared memory. */
  readonly telemetry: Telemetry;
  private mainTicker: NodeJS.Timeout | undefined;
  private pools: Piscina[] = [];
  /** Per shard: the main thread's end of its batch channel. */
  private ports: (MessagePort | undefined)[] = [];
  /** Per shard: batches held while its replacement thread is being connected. */
  private held: ShardBatchTask[][] = [];
  private stopping = false;
  private readonly table: Uint8Array;
  private readonly log: Logger;
  private readonly counters = { shardRestarts: 0, shardErrors: 0, droppedBatches: 0 };
  /** The list changed since the workers were started (a restarted one needs it). */
  private reloaded = false;

  private constructor(config: ResolvedConfig, log: Logger, local: LocalIdentity, dsState: DsState, sock0: NativeUdpSocket) {
    this.config = config;
    this.dsState = dsState;
    this.log = log;
    this.local = local;
    this.table = buildShardTable(Math.max(1, config.workers));
    this.telemetry = new Telemetry(Math.max(1, config.workers));
    this.pingMethod = METHOD_IDS.get(config.dispatcher.dsPingMethod) ?? 31;
    this.prober = new Prober({
      config: config.dispatcher,
      state: () => this.dsState,
      hostport: local.hostport,
      sender: new BatchSender((buf, quads, n) => sock0.send(buf, quads, n), { bytes: 1 << 16, datagrams: 256 }),
      wheel: this.mainWheel,
      log: log.child({ module: 'dispatcher' }),
      timers: { t1: config.tm.t1, t2: config.tm.t2, frTimer: config.tm.frTimer },
    });
  }

  static async start(o: DataplaneOptions): Promise<Dataplane> {
    const udp = nativeUdp();
    if (!udp) throw new Error('the native addon (build/Release/switchyard.node) is required for UDP I/O');
    const cfg = o.config;
    const first = cfg.listen[0]!;
    const adv = cfg.advertise;
    const sockets: NativeUdpSocket[] = [];
    let dp: Dataplane | undefined;
    const onBatch = (sock: () => NativeUdpSocket) => (count: number) => dp!.onBatch(sock(), count);
    try {
      for (const l of cfg.listen) {
        let s: NativeUdpSocket | undefined;
        s = new udp.UdpSocket(l.host, l.port, { batch: o.batch ?? 64, slot: 65536, rcvbuf: 8 << 20, sndbuf: 8 << 20 }, onBatch(() => s!));
        sockets.push(s);
      }
    } catch (err) {
      for (const s of sockets) s.close();
      throw err;
    }
    const port = sockets[0]!.port;
    const aliases = cfg.listen.map((l, i) => ({ ip: l.host, port: sockets[i]!.port }));
    const local = localIdentity(adv?.host ?? first.host, adv?.port ?? port, aliases);
    const dsState = DsState.create(o.dsList ?? loadConfiguredDispatcherList(cfg));
    dp = new Dataplane(cfg, o.log, local, dsState, sockets[0]!);
    dp.sockets.push(...sockets);
    const limits = cfg.sip;
    if (cfg.workers === 0) {
      const fd0 = sockets[0]!;
      dp.shard = new Shard({
        index: 0,
        config: cfg,
        local,
        dsState,
        route: o.route,
        telemetry: dp.telemetry.block(0),
        log: o.log.child({ module: 'tm', shard: 0 }),
        flush: (buf, quads, n) => fd0.send(buf, quads, n),
        timers: timersOf(cfg),
      });
      dp.shard.startTimers();
    } else {
      const filename = path.join(__dirname, 'shard-worker.js');
      for (let k = 0; k < cfg.workers; k++) {
        const workerData: ShardWorkerData = {
          index: k,
          fd: sockets[0]!.fd,
          config: cfg,
          local: { ip: local.ip, port: local.port, aliases },
          timers: timersOf(cfg),
          ds: { sab: dsState.buffer as SharedArrayBuffer, list: dsState.list },
          telemetry: dp.telemetry.buffer,
        };
        const pool = new Piscina({
          filename,
          minThreads: 1,
          maxThreads: 1,
          idleTimeout: Number.MAX_SAFE_INTEGER,
          atomics: 'disabled',
          maxQueue: 4096,
          concurrentTasksPerWorker: 1,
          // Transactions live seconds: a larger young generation lets most
          // per-message garbage die there (bench/RESULTS.md, call-path).
          resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
          workerData,
        });
        pool.on('error', (err: unknown) => {
          dp!.counters.shardRestarts++;
          o.log.error({ err, shard: k }, 'shard worker died; piscina replaces it');
        });
        dp.pools.push(pool);
      }
      // Each shard gets its batch channel; this also waits until every shard
      // has loaded its route (a bad route module fails start).
      await Promise.all(dp.pools.map((_, k) => dp!.connect(k)));
    }
    for (const s of sockets) s.start(limits);
    dp.mainTicker = setInterval(() => dp!.mainWheel.advance(), 20);
    dp.prober.start();
    return dp;
  }

  /**
   * Takes keepalive replies off a batch for the prober: responses with the
   * ping method whose top Via branch starts with our ping prefix. They are
   * marked CONSUMED for the shards.
   */
  private takePingReplies(sock: NativeUdpSocket, count: number): void {
    const slots = sock.slots;
    const buf = sock.buffer;
    const prefix = this.pingBranch;
    for (let i = 0; i < count; i++) {
      const at = i * STRIDE;
      if (slots[at + S.ERROR] !== 0 || slots[at + S.KIND] !== 2 || slots[at + S.CSEQ_METHOD] !== this.pingMethod) continue;
      const n = slots[at + S.ENTRY_COUNT]!;
      for (let k = 0; k < n; k++) {
        const e = at + FIXED + k * E_SIZE;
        if (slots[e + E.TYPE] !== EntryType.VIA) continue;
        const bOff = slots[e + E.VIA_BRANCH_OFF]!;
        if (bOff !== NONE && slots[e + E.VIA_BRANCH_LEN]! >= prefix.length && buf.compare(prefix, 0, prefix.length, bOff, bOff + prefix.length) === 0) {
          this.prober.onReply(new SipMessage(buf, slots, at));
          slots[at + S.ERROR] = CONSUMED;
        }
        break;
      }
    }
  }

  private onBatch(sock: NativeUdpSocket, count: number): void {
    const meta = sock.meta;
    this.takePingReplies(sock, count);
    if (this.shard) {
      this.shard.handleBatch(sock.buffer, meta, count, sock.slots);
      return;
    }
    this.dispatch(sock, count);
  }

  /** workers > 0: one transfer buffer per shard that got messages. */
  private dispatch(sock: NativeUdpSocket, count: number): void {
    const meta = sock.meta;
    const slots = sock.slots;
    const n = this.pools.length;
    const counts = new Uint32Array(n);
    const bytes = new Uint32Array(n);
    const owner = new Int16Array(count);
    for (let i = 0; i < count; i++) {
      const err = slots[i * STRIDE + S.ERROR];
      if (err === CONSUMED) {
        owner[i] = -1;
        continue;
      }
      // Malformed messages go to shard 0, which answers them.
      const k = err === 0 ? this.table[slots[i * STRIDE + S.BUCKET]!]! : 0;
      owner[i] = k;
      counts[k]!++;
      bytes[k]! += meta[i * 4 + 1]!;
    }
    for (let k = 0; k < n; k++) {
      const c = counts[k]!;
      if (c === 0) continue;
      const head = 4 + c * 16;
      const data = new ArrayBuffer(head + bytes[k]!);
      const q = new Uint32Array(data, 0, 1 + c * 4);
      const body = new Uint8Array(data);
      q[0] = c;
      let w = 0;
      let at = head;
      for (let i = 0; i < count; i++) {
        if (owner[i] !== k) continue;
        const off = meta[i * 4]!;
        const len = meta[i * 4 + 1]!;
        body.set(sock.buffer.subarray(off, off + len), at);
        q[1 + w * 4] = at;
        q[2 + w * 4] = len;
        q[3 + w * 4] = meta[i * 4 + 2]!;
        q[4 + w * 4] = meta[i * 4 + 3]!;
        at += len;
        w++;
      }
      const task: ShardBatchTask = { data };
      const port = this.ports[k];
      if (port) port.postMessage(task, [data]);
      else if ((this.held[k] ??= []).length < MAX_HELD_BATCHES) this.held[k]!.push(task);
      else this.counters.droppedBatches++;
    }
  }

  /**
   * Swaps the dispatcher list everywhere: one new DsState, handed to every
   * shard; what is in flight keeps its destinations.
   */
  async reloadDispatcher(list: DsList): Promise<void> {
    const state = DsState.create(list);
    this.dsState = state;
    this.reloaded = true;
    if (this.shard) this.shard.reloadDispatcher(state);
    const task: ShardReloadTask = { reload: { sab: state.buffer as SharedArrayBuffer, list } };
    await Promise.all(this.pools.map((p) => p.run(task)));
  }

  /**
   * Gives shard k (its current thread, or the one piscina starts for it) a
   * new batch channel, and the dispatcher list in force if it changed since
   * start. When that thread dies its port closes and this runs again.
   */
  private async connect(k: number): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const task: ShardPortTask = { port: port2 };
    await this.pools[k]!.run(task, { transferList: [port2] });
    this.ports[k] = port1;
    for (const b of this.held[k]?.splice(0) ?? []) port1.postMessage(b, [b.data]);
    port1.on('close', () => {
      if (this.ports[k] === port1) this.ports[k] = undefined;
      if (this.stopping) return;
      this.counters.shardRestarts++;
      this.log.error({ shard: k }, 'shard died and was restarted; its transactions are lost');
      this.reconnect(k, 0);
    });
  }

  /**
   * Connects shard k's replacement thread. The first attempt can reach the
   * dying thread before piscina has noticed its exit: retried, bounded.
   */
  private reconnect(k: number, attempt: number): void {
    if (this.stopping) return;
    this.connect(k)
      .then(() => {
        if (!this.reloaded) return undefined;
        const reload: ShardReloadTask = { reload: { sab: this.dsState.buffer as SharedArrayBuffer, list: this.dsState.list } };
        return this.pools[k]!.run(reload);
      })
      .catch((err: unknown) => {
        if (attempt < 20) setTimeout(() => this.reconnect(k, attempt + 1), 50 * (attempt + 1));
        else this.log.error({ err, shard: k }, 'shard restart failed');
      });
  }

  /** Asks every shard (registerShardQuery); one answer per shard. */
  async queryShards(name: string, params: unknown[] = []): Promise<unknown[]> {
    if (this.shard) return [this.shard.query(name, params)];
    const task: ShardQueryTask = { query: { name, params } };
    return Promise.all(this.pools.map((p) => p.run(task) as Promise<unknown>));
  }

  /**
   * SIGTERM: stop taking new INVITEs (503 + Retry-After), wait until every
   * transaction has its final reply or `maxWaitMs` passed (completed ones
   * that only linger to absorb retransmissions are not waited for). Returns
   * the transactions still without a final reply when it gave up (0 = clean).
   */
  async drain(maxWaitMs: number, retryAfter = 5): Promise<number> {
    if (this.shard) this.shard.drain(retryAfter);
    const task: ShardDrainTask = { drain: { retryAfter } };
    await Promise.all(this.pools.map((p) => p.run(task)));
    const until = Date.now() + maxWaitMs;
    for (;;) {
      if (this.shard) this.shard.publish();
      const open = this.telemetry.sum(T.TRANSACTIONS_PENDING);
      if (open === 0 || Date.now() >= until) return open;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stats(): DataplaneStats {
    let received = 0;
    let sent = 0;
    let batches = 0;
    for (const s of this.sockets) {
      const st = s.stats;
      received += st.received;
      sent += st.sent;
      batches += st.batches;
    }
    return { received, sent, batches, ...this.counters };
  }

  /** Stops reading, lets shards finish, closes sockets. */
  async stop(): Promise<void> {
    this.prober.stop();
    if (this.mainTicker) clearInterval(this.mainTicker);
    for (const s of this.sockets) s.stop();
    this.shard?.stopTimers();
    this.stopping = true;
    for (const p of this.ports) p?.close();
    this.ports = [];
    await Promise.all(this.pools.map((p) => p.destroy()));
    this.pools = [];
    for (const s of this.sockets) s.close();
  }
}
