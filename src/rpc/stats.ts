/**
 * `stats.get_statistics` (Kamailio kex module): every parameter is `all`, a
 * group ending in `:` (`core:`, `dialog:`) or a statistic name; the answer is
 * an array of `"group:name = value"` strings sorted by group then name;
 * unknown names add nothing; no parameter (or a first one that is not a
 * string) is 400 "Please provide which stats to retrieve". Values are read
 * from the shards' shared telemetry and the prober when asked.
 *
 * Names kept from Kamailio where the meaning is the same:
 *   core:rcv_requests, core:rcv_requests_<method>, core:rcv_replies,
 *   core:rcv_replies_<N>xx, core:fwd_requests (stateful + stateless relays),
 *   core:bad_msg_hdr (messages the scanner rejected),
 *   tmx:UAS_transactions, tmx:UAC_transactions, tmx:active_transactions,
 *   tmx:local_replies, dialog:active_dialogs (states 3-4),
 *   dialog:early_dialogs (state 2).
 * switchyard additions (no Kamailio counterpart):
 *   tmx:retransmissions_sent, tmx:retransmissions_absorbed, tmx:timeouts,
 *   tmx:failure_routes, tmx:stray_replies, core:route_errors,
 *   dispatcher:keepalives_sent/_ok/_failed, dispatcher:keepalive_retransmissions,
 *   dispatcher:keepalives_in_flight.
 */
import { Method } from '../native/layout';
import { type Dataplane } from '../transport/dataplane';
import { T } from '../transport/telemetry';
import { RpcFault, type RpcRegistry } from './registry';

export type StatsPlane = Pick<Dataplane, 'telemetry' | 'prober'>;

interface Stat {
  readonly group: string;
  readonly name: string;
  readonly value: () => number;
}

/** The methods Kamailio counts as core:rcv_requests_<method>. */
const KAMAILIO_METHODS = ['ACK', 'BYE', 'CANCEL', 'INFO', 'INVITE', 'MESSAGE', 'NOTIFY', 'OPTIONS', 'PRACK', 'PUBLISH', 'REFER', 'REGISTER', 'SUBSCRIBE', 'UPDATE'] as const;

export function buildStats(dp: StatsPlane): Stat[] {
  const tel = dp.telemetry;
  const sum = (slot: number, n = 1): number => {
    let s = 0;
    for (let k = 0; k < n; k++) s += tel.sum(slot + k);
    return s;
  };
  const out: Stat[] = [
    { group: 'core', name: 'rcv_requests', value: () => sum(T.REQ_IN, 32) },
    { group: 'core', name: 'rcv_replies', value: () => sum(T.REPLY_IN + 1, 6) },
    { group: 'core', name: 'fwd_requests', value: () => sum(T.RELAYED) + sum(T.STATELESS_RELAYED) },
    { group: 'core', name: 'bad_msg_hdr', value: () => sum(T.PARSE_ERR + 1, 31) },
    { group: 'core', name: 'route_errors', value: () => sum(T.ROUTE_ERRORS) },
    { group: 'tmx', name: 'UAS_transactions', value: () => sum(T.TRANSACTIONS_TOTAL) },
    { group: 'tmx', name: 'UAC_transactions', value: () => sum(T.RELAYED) },
    { group: 'tmx', name: 'active_transactions', value: () => sum(T.TRANSACTIONS_ACTIVE) },
    { group: 'tmx', name: 'local_replies', value: () => sum(T.LOCAL_REPLIES) },
    { group: 'tmx', name: 'retransmissions_sent', value: () => sum(T.RETR_SENT) },
    { group: 'tmx', name: 'retransmissions_absorbed', value: () => sum(T.RETR_ABSORBED) },
    { group: 'tmx', name: 'timeouts', value: () => sum(T.TIMEOUTS) },
    { group: 'tmx', name: 'failure_routes', value: () => sum(T.FAILURE_ROUTES) },
    { group: 'tmx', name: 'stray_replies', value: () => sum(T.STRAY_REPLIES) },
    { group: 'dialog', name: 'active_dialogs', value: () => sum(T.DIALOG_STATE + 3, 2) },
    { group: 'dialog', name: 'early_dialogs', value: () => sum(T.DIALOG_STATE + 2) },
    { group: 'dispatcher', name: 'keepalives_sent', value: () => dp.prober.stats.sent },
    { group: 'dispatcher', name: 'keepalives_ok', value: () => dp.prober.stats.ok },
    { group: 'dispatcher', name: 'keepalives_failed', value: () => dp.prober.stats.failed },
    { group: 'dispatcher', name: 'keepalive_retransmissions', value: () => dp.prober.stats.retransmissions },
    { group: 'dispatcher', name: 'keepalives_in_flight', value: () => dp.prober.inFlight },
  ];
  for (const m of KAMAILIO_METHODS) out.push({ group: 'core', name: `rcv_requests_${m.toLowerCase()}`, value: () => sum(T.REQ_IN + Method[m]) });
  for (let c = 1; c <= 6; c++) out.push({ group: 'core', name: `rcv_replies_${c}xx`, value: () => sum(T.REPLY_IN + c) });
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return out.sort((a, b) => cmp(a.group, b.group) || cmp(a.name, b.name));
}

export function registerStatsRpc(reg: RpcRegistry, dp: StatsPlane): void {
  const stats = buildStats(dp);
  reg.register({
    name: 'stats.get_statistics',
    doc: 'Returns the statistics: "all", "group:" or a name, one or more',
    array: true,
    handler: (p) => {
      const first = p.scan('s');
      if (first.n < 1) throw new RpcFault(400, 'Please provide which stats to retrieve');
      const wanted = [first.v[0] as string];
      for (let r = p.scan('*s'); r.n > 0; r = p.scan('*s')) wanted.push(r.v[0] as string);
      const out: string[] = [];
      for (const w of wanted) {
        let pick: Stat[];
        if (w === 'all') pick = stats;
        else if (w.endsWith(':')) pick = stats.filter((s) => s.group === w.slice(0, -1));
        else pick = stats.filter((s) => s.name === w);
        for (const s of pick) out.push(`${s.group}:${s.name} = ${s.value()}`);
      }
      return out;
    },
  });
}
