/**
 * Prometheus metrics (`GET /metrics`, prom-client text format).
 *
 * Nothing here runs on the message path: every value is read when scraped,
 * in prom-client `collect()` callbacks, from what the dataplane already
 * keeps - the shards' shared telemetry blocks (transport/telemetry.ts), the
 * dispatcher state (SharedArrayBuffer), the prober's counters and the
 * sockets' stats. Counters are re-set to the current totals at each scrape
 * (they only grow, except across a restart).
 *
 * Names: `switchyard_` prefix, `_total` for counters, seconds for times.
 * Shard telemetry is refreshed by each shard every 10 timer ticks (~100 ms),
 * per-message counters (requests, replies, parse errors, batches)
 * immediately. Plus prom-client's default process_* / nodejs_* metrics.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

import { DS_DISABLED_DST, DS_INACTIVE_DST, DS_PROBING_DST, DS_TRYING_DST } from '../dispatcher';
import { Method } from '../native/layout';
import { type Dataplane } from '../transport/dataplane';
import { BATCH_BUCKETS, T } from '../transport/telemetry';

export type MetricsPlane = Pick<Dataplane, 'telemetry' | 'dsState' | 'prober' | 'stats' | 'config' | 'sockets'>;

const METHOD_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(Method).map(([k, v]) => [v as number, k]));
const DIALOG_STATES = ['', 'unconfirmed', 'early', 'confirmed_na', 'confirmed', 'deleted'] as const;

type Labels = Record<string, string | number>;
type Emit = (labels: Labels, value: number) => void;

export interface MetricsOptions {
  version: string;
  /** prom-client's process/nodejs metrics (default true). */
  defaultMetrics?: boolean;
}

/** Builds the registry; `dp()` gives the dataplane at scrape time. */
export function buildMetrics(dp: () => MetricsPlane, o: MetricsOptions): Registry {
  const registry = new Registry();
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const counter = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<string>) {
        this.reset();
        fill((labels, v) => this.inc(labels, v));
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (emit: Emit) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Gauge<string>) {
        this.reset();
        fill((labels, v) => this.set(labels, v));
      },
    });
  };
  const sum = (slot: number): number => dp().telemetry.sum(slot);
  const total = (name: string, help: string, slot: number): void => counter(name, help, [], (emit) => emit({}, sum(slot)));

  new Gauge({ name: 'switchyard_info', help: 'Version of the running switchyard', labelNames: ['version'], registers: [registry] }).set({ version: o.version }, 1);

  // --- SIP messages in
  counter('switchyard_sip_requests_received_total', 'SIP requests received, by method', ['method'], (emit) => {
    const tel = dp().telemetry;
    for (let id = 1; id < 32; id++) {
      const name = METHOD_NAMES.get(id);
      const v = tel.sum(T.REQ_IN + id);
      if (name && (v > 0 || id <= Method.UPDATE)) emit({ method: name }, v);
    }
  });
  counter('switchyard_sip_replies_received_total', 'SIP replies received, by class', ['class'], (emit) => {
    for (let c = 1; c <= 6; c++) emit({ class: `${c}xx` }, sum(T.REPLY_IN + c));
  });
  counter('switchyard_sip_parse_errors_total', 'Datagrams the SIP scanner rejected, by kind', ['kind'], (emit) => {
    for (const e of dp().telemetry.parseErrors()) emit({ kind: e.error }, e.count);
  });
  total('switchyard_sip_bad_request_replies_total', '400 replies sent to malformed requests', T.BAD_REQUEST_REPLIES);

  // --- transactions, dialogs
  gauge('switchyard_transactions_active', 'Transactions in memory', [], (emit) => emit({}, sum(T.TRANSACTIONS_ACTIVE)));
  total('switchyard_transactions_total', 'Server transactions created', T.TRANSACTIONS_TOTAL);
  total('switchyard_relayed_requests_total', 'Requests relayed statefully (client branches)', T.RELAYED);
  total('switchyard_stateless_relayed_requests_total', 'Requests relayed statelessly', T.STATELESS_RELAYED);
  total('switchyard_local_replies_total', 'Replies generated locally (tm and stateless)', T.LOCAL_REPLIES);
  total('switchyard_retransmissions_sent_total', 'Retransmissions sent (requests by Timer A/E, replies)', T.RETR_SENT);
  total('switchyard_retransmissions_absorbed_total', 'Retransmissions received and absorbed', T.RETR_ABSORBED);
  total('switchyard_timeouts_total', 'Client branches that timed out (Timer B/F, fr_timer, fr_inv_timer)', T.TIMEOUTS);
  total('switchyard_failovers_total', 'Failure routes run (failover attempts)', T.FAILURE_ROUTES);
  total('switchyard_stray_replies_total', 'Replies matching no transaction', T.STRAY_REPLIES);
  total('switchyard_route_errors_total', 'Route script errors', T.ROUTE_ERRORS);
  gauge('switchyard_dialogs_active', 'Dialogs in memory (every state)', [], (emit) => emit({}, sum(T.DIALOGS_ACTIVE)));
  gauge('switchyard_dialogs', 'Dialogs by state', ['state'], (emit) => {
    for (let s = 1; s <= 5; s++) emit({ state: DIALOG_STATES[s]! }, sum(T.DIALOG_STATE + s));
  });

  // --- dispatcher destinations (state, load, keepalive round trip)
  gauge('switchyard_dispatcher_destination_state', 'Destination state: 1 if the destination is in this state', ['set', 'uri', 'state'], (emit) => {
    const st = dp().dsState;
    for (let i = 0; i < st.size; i++) {
      const f = st.flags(i);
      const labels = { set: st.setIdOf(i), uri: st.destination(i).uri };
      const active = (f & (DS_INACTIVE_DST | DS_DISABLED_DST | DS_TRYING_DST)) === 0;
      emit({ ...labels, state: 'active' }, active ? 1 : 0);
      emit({ ...labels, state: 'inactive' }, f & DS_INACTIVE_DST ? 1 : 0);
      emit({ ...labels, state: 'trying' }, f & DS_TRYING_DST ? 1 : 0);
      emit({ ...labels, state: 'disabled' }, f & DS_DISABLED_DST ? 1 : 0);
      emit({ ...labels, state: 'probing' }, f & DS_PROBING_DST ? 1 : 0);
    }
  });
  gauge('switchyard_dispatcher_destination_load', 'Active calls recorded for a destination (alg 10 dload, DLGLOAD)', ['set', 'uri'], (emit) => {
    const st = dp().dsState;
    for (let i = 0; i < st.size; i++) emit({ set: st.setIdOf(i), uri: st.destination(i).uri }, st.dload(i));
  });
  gauge('switchyard_dispatcher_keepalive_rtt_seconds', 'Round trip of the last answered keepalive of a destination', ['set', 'uri'], (emit) => {
    const d = dp();
    const st = d.dsState;
    const rtt = d.prober.stats.latency;
    for (let i = 0; i < st.size; i++) {
      const ms = rtt.get(st.destination(i).uri);
      if (ms !== undefined) emit({ set: st.setIdOf(i), uri: st.destination(i).uri }, ms / 1000);
    }
  });
  counter('switchyard_dispatcher_keepalives_total', 'Keepalives (OPTIONS pings): sent, ok (answered as success), failed', ['result'], (emit) => {
    const s = dp().prober.stats;
    emit({ result: 'sent' }, s.sent);
    emit({ result: 'ok' }, s.ok);
    emit({ result: 'failed' }, s.failed);
  });
  counter('switchyard_dispatcher_keepalive_retransmissions_total', 'Keepalive retransmissions', [], (emit) => emit({}, dp().prober.stats.retransmissions));
  gauge('switchyard_dispatcher_keepalives_in_flight', 'Keepalives waiting for a final reply', [], (emit) => emit({}, dp().prober.inFlight));
  gauge('switchyard_dispatcher_ping_active', 'dispatcher.ping_active: 1 when keepalive rounds run', [], (emit) => emit({}, dp().prober.active ? 1 : 0));

  // --- datagrams, shards
  counter('switchyard_udp_datagrams_received_total', 'Datagrams read from the listen sockets', [], (emit) => emit({}, dp().stats().received));
  counter('switchyard_udp_datagrams_sent_total', 'Datagrams sent', [], (emit) => {
    const d = dp();
    // The sockets count what goes through them (keepalives; the shard too with
    // workers: 0). Worker shards send on the socket's fd from their thread:
    // their counts are in their telemetry. (Dataplane.stats().sent adds the
    // main shard's sender on top of the socket count, which counts it twice.)
    let sent = 0;
    for (const s of d.sockets) sent += s.stats.sent;
    emit({}, sent + (d.config.workers > 0 ? d.telemetry.sum(T.DATAGRAMS_SENT) : 0));
  });
  counter('switchyard_udp_receive_batches_total', 'recvmmsg batches read', [], (emit) => emit({}, dp().stats().batches));
  total('switchyard_udp_send_drops_total', 'Datagrams the shards could not send', T.SEND_DROPS);
  counter('switchyard_shard_restarts_total', 'Shard worker threads that died and were replaced', [], (emit) => emit({}, dp().stats().shardRestarts));
  counter('switchyard_shard_dropped_batches_total', 'Batches dropped because a shard queue was full', [], (emit) => emit({}, dp().stats().droppedBatches));
  gauge('switchyard_shard_event_loop_delay_seconds', 'Event loop delay of each shard thread over the last ~1 s window', ['shard', 'stat'], (emit) => {
    const tel = dp().telemetry;
    for (let k = 0; k < tel.shards; k++) {
      emit({ shard: k, stat: 'p50' }, tel.get(k, T.LOOP_DELAY_P50) / 1000);
      emit({ shard: k, stat: 'p99' }, tel.get(k, T.LOOP_DELAY_P99) / 1000);
      emit({ shard: k, stat: 'max' }, tel.get(k, T.LOOP_DELAY_MAX) / 1000);
    }
  });
  gauge('switchyard_shard_timers', 'Timers pending in each shard wheel', ['shard'], (emit) => {
    const tel = dp().telemetry;
    for (let k = 0; k < tel.shards; k++) emit({ shard: k }, tel.get(k, T.TIMERS));
  });

  // Batch sizes per shard: the shards keep bucket counts; exposed as a histogram.
  const hname = 'switchyard_shard_batch_size';
  registry.registerMetric({
    name: hname,
    help: 'Datagrams per batch handed to a shard (_sum = messages the shard handled)',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const tel = dp().telemetry;
      const values: { labels: Labels; value: number; metricName: string }[] = [];
      for (let k = 0; k < tel.shards; k++) {
        let acc = 0;
        BATCH_BUCKETS.forEach((le, b) => {
          acc += tel.get(k, T.BATCH_HIST + b);
          values.push({ labels: { le: le === Infinity ? '+Inf' : le, shard: k }, value: acc, metricName: `${hname}_bucket` });
        });
        let msgs = 0;
        for (let s = 0; s < 32; s++) msgs += tel.get(k, T.REQ_IN + s) + tel.get(k, T.PARSE_ERR + s);
        for (let c = 1; c <= 6; c++) msgs += tel.get(k, T.REPLY_IN + c);
        values.push({ labels: { shard: k }, value: msgs, metricName: `${hname}_sum` });
        values.push({ labels: { shard: k }, value: tel.get(k, T.BATCHES), metricName: `${hname}_count` });
      }
      return { name: hname, help: 'Datagrams per batch handed to a shard (_sum = messages the shard handled)', type: 'histogram', values, aggregator: 'sum' };
    },
  } as unknown as Parameters<Registry['registerMetric']>[0]);

  return registry;
}
