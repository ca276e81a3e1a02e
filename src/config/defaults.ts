/**
 * Defaults and the resolved (filled, camelCased, frozen) config type.
 *
 * Defaults for absent keys are the product values of shared/spec/interface.md
 * (its example config), except `dmq`, which is off (null) when absent. Units:
 * tm timers in ms, dispatcher/dialog/dmq intervals in s, as in Kamailio; each
 * field's doc says which.
 *
 * The embedded default (`npm start` without --config, `defaultConfig()`) is
 * DEFAULT_CONFIG_YAML: interface.md's example verbatim, except that
 * `dispatcher.list_file` is replaced by `dispatcher.list`, an inline
 * dispatcher.list text (DEFAULT_DISPATCHER_LIST: set 1 = 127.0.0.2:5060 and
 * 127.0.0.3:5060), so nothing has to exist on disk. Note that the example, and
 * so the embedded default, includes a `dmq:` section (DMQ on at
 * udp:127.0.0.1:5062, notifying itself).
 */
import type { DsListSource } from '../dispatcher/list-file';
import type { CidrRange, DmqAddress, HostPort, ListenSocket } from './address';
import type { HtableSpec } from './htable';
import type { LogLevel } from './schema';

// ---------------------------------------------------------------------------
// Resolved config (piscina's FilledOptions: no optionals)

export type RouteSpec =
  | { readonly kind: 'builtin'; readonly name: 'sbc' | 'router' }
  /** A user route module, absolute path (relative paths resolve against the config file's directory). */
  | { readonly kind: 'module'; readonly path: string };

/** One entry of `ds_ping_reply_codes` (`class=2;code=403`). */
export interface DsReplyCode {
  readonly kind: 'class' | 'code';
  readonly value: number;
}

export interface ResolvedSip {
  /** Largest accepted datagram, bytes. */
  readonly maxMessage: number;
  /** Most header fields per message. */
  readonly maxHeaders: number;
  /** Longest header line, bytes. */
  readonly maxHeaderLine: number;
}

export interface ResolvedTm {
  /** `fr_timer`, ms: final-response timeout with no provisional (Timer B/F). */
  readonly frTimer: number;
  /** `fr_inv_timer`, ms: INVITE timeout after a provisional (~Timer C). */
  readonly frInvTimer: number;
  /** RFC 3261 T1, ms (Kamailio `retr_timer1`). */
  readonly t1: number;
  /** RFC 3261 T2, ms (Kamailio `retr_timer2`). */
  readonly t2: number;
  /** RFC 3261 T4, ms. */
  readonly t4: number;
}

export interface ResolvedDispatcher {
  /** Where the list comes from: a file (absolute path) or inline text. */
  readonly listSource: DsListSource;
  /** Absolute path of `list_file`, or null when the list is inline (`list`). */
  readonly listFile: string | null;
  /** `flags`: 1 = hash the URI user only, 2 = failover list in XAVP. */
  readonly flags: number;
  readonly forceDst: boolean;
  /** `ds_hash_size`: call-load table of 2^n slots (0 = none). */
  readonly dsHashSize: number;
  /** `ds_ping_interval`, s; 0 disables probing. */
  readonly dsPingInterval: number;
  readonly dsProbingMode: number;
  readonly dsProbingThreshold: number;
  readonly dsInactiveThreshold: number;
  readonly dsPingMethod: string;
  readonly dsPingFrom: string;
  /**
   * `ds_ping_timeout`, ms: when a keepalive with no final reply counts as
   * failed. 0 = tm's fr_timer, as in Kamailio 5.6 (detection then takes
   * ds_ping_interval + fr_timer).
   */
  readonly dsPingTimeout: number;
  /** Parsed `ds_ping_reply_codes`. */
  readonly dsPingReplyCodes: readonly DsReplyCode[];
  readonly xavpDst: string;
  readonly xavpCtx: string;
  readonly useDefault: boolean;
  /** `reload_delta`, s. */
  readonly reloadDelta: number;
  /** `ds_hash_expire`, s. */
  readonly dsHashExpire: number;
  /** `ds_hash_initexpire`, s. */
  readonly dsHashInitexpire: number;
  /** `ds_hash_check_interval`, s. */
  readonly dsHashCheckInterval: number;
  readonly dsLoadMode: 0 | 1;
  readonly xavpDstMode: number;
  readonly xavpCtxMode: number;
  /** Built-in sbc route: `ds_select_dst(set, alg, limit)`. */
  readonly set: number;
  readonly alg: number;
  readonly limit: number;
}

export interface ResolvedDialog {
  readonly enableDmq: boolean;
  /** `default_timeout`, s. */
  readonly defaultTimeout: number;
}

export interface ResolvedDmq {
  readonly serverAddress: DmqAddress;
  readonly notificationAddresses: readonly DmqAddress[];
  readonly multiNotify: boolean;
  readonly numWorkers: number;
  /** `ping_interval`, s. */
  readonly pingInterval: number;
  /** Accepted peers; empty = any (like Kamailio). */
  readonly allow: readonly CidrRange[];
}

export interface ResolvedHttp {
  /** JSON-RPC + /metrics listener; null = no HTTP server. */
  readonly listen: (HostPort & { readonly port: number }) | null;
  /** `http.token`: required as `Authorization: Bearer <token>`; null = no auth. */
  readonly token: string | null;
  /** `http.max_body`, bytes: larger request bodies get 413. */
  readonly maxBody: number;
}

/** The validated, filled, deep-frozen config. */
export interface ResolvedConfig {
  /** Absolute path of the config file, or null for the embedded default / a string. */
  readonly file: string | null;
  readonly listen: readonly ListenSocket[];
  readonly advertise: HostPort | null;
  /** Shard worker threads; 0 = everything on the main thread. */
  readonly workers: number;
  readonly route: RouteSpec;
  readonly logLevel: LogLevel;
  readonly sip: ResolvedSip;
  readonly tm: ResolvedTm;
  readonly dispatcher: ResolvedDispatcher;
  readonly dialog: ResolvedDialog;
  readonly htable: readonly HtableSpec[];
  /** null = DMQ off. */
  readonly dmq: ResolvedDmq | null;
  readonly http: ResolvedHttp;
  /** `shutdown_timeout`, ms: SIGTERM waits this long for transactions to end. */
  readonly shutdownTimeout: number;
}

// ---------------------------------------------------------------------------
// Defaults in file form (keys as in the YAML)

export const DEFAULTS = {
  listen: 'udp:127.0.0.1:5060',
  advertise: null,
  workers: 2,
  route: 'sbc',
  log_level: 'info',
  sip: {
    max_message: 65535,
    max_headers: 128,
    max_header_line: 8192,
  },
  tm: {
    fr_timer: 5000,
    fr_inv_timer: 30000,
    t1: 500,
    t2: 4000,
    t4: 5000,
  },
  dispatcher: {
    list_file: './dispatcher.list',
    list: null,
    flags: 2,
    force_dst: 1,
    ds_hash_size: 9,
    ds_ping_interval: 5,
    ds_probing_mode: 1,
    ds_probing_threshold: 1,
    ds_inactive_threshold: 1,
    ds_ping_method: 'OPTIONS',
    ds_ping_from: 'sip:dispatcher@localhost',
    ds_ping_timeout: 0,
    ds_ping_reply_codes: '',
    xavp_dst: '_dsdst_',
    xavp_ctx: '_dsctx_',
    use_default: 0,
    reload_delta: 5,
    ds_hash_expire: 7200,
    ds_hash_initexpire: 7200,
    ds_hash_check_interval: 30,
    ds_load_mode: 0,
    xavp_dst_mode: 0,
    xavp_ctx_mode: 0,
    set: 1,
    alg: 0,
    limit: 2,
  },
  dialog: {
    enable_dmq: 0,
    default_timeout: 43200,
  },
  htable: [] as string[],
  /** Absent = DMQ off. */
  dmq: null,
  http: {
    listen: '127.0.0.1:8080',
    token: null,
    max_body: 1048576,
  },
  shutdown_timeout: 5000,
} as const;

/** Defaults of the keys of a present `dmq:` section. */
export const DMQ_DEFAULTS = {
  server_address: 'udp:127.0.0.1:5062',
  notification_address: 'udp:127.0.0.1:5062',
  multi_notify: 1,
  num_workers: 4,
  ping_interval: 15,
  allow: [] as readonly string[],
} as const;

/** The embedded default list: two routers on loopback (seed / anchors). */
export const DEFAULT_DISPATCHER_LIST = '# setid destination\n1 sip:127.0.0.2:5060\n1 sip:127.0.0.3:5060\n';

/** File name used in messages about the embedded default config. */
export const DEFAULT_CONFIG_NAME = '<default config>';

/** interface.md's example, with the dispatcher list inline. */
export const DEFAULT_CONFIG_YAML = `listen: udp:127.0.0.1:5060      # Kamailio's listen=; a list is allowed
advertise: null                 # address put in Via/Record-Route if not the listen one
workers: 2                      # shard worker threads; 0 = everything on the main thread
route: sbc                      # built-in route script (sbc | router) or a path to a module
log_level: info
tm:
  fr_timer: 5000                # ms, non-INVITE / no final reply
  fr_inv_timer: 30000           # ms, INVITE after a provisional reply
dispatcher:
  list: |                       # inline dispatcher.list (instead of list_file), Kamailio format
    # setid destination
    1 sip:127.0.0.2:5060
    1 sip:127.0.0.3:5060
  flags: 2
  force_dst: 1
  ds_hash_size: 9
  ds_ping_interval: 5           # s; 0 disables probing
  ds_probing_mode: 1
  ds_probing_threshold: 1
  ds_inactive_threshold: 1
  ds_ping_method: OPTIONS
  ds_ping_from: sip:dispatcher@localhost
  ds_ping_timeout: 0            # ms a keepalive may stay unanswered; 0 = tm.fr_timer (Kamailio 5.6)
  ds_ping_reply_codes: ""       # e.g. "class=2;code=403;code=404"
  xavp_dst: _dsdst_
  xavp_ctx: _dsctx_
  # used by the built-in sbc route, like DISPATCHER_ALG in the seed:
  set: 1
  alg: 0
  limit: 2
dialog:
  enable_dmq: 0
  default_timeout: 43200        # s
htable:                         # Kamailio's htable modparam strings, verbatim
  - "ipban=>size=8;autoexpire=300;dmqreplicate=1;"
dmq:                            # absent = DMQ off
  server_address: udp:127.0.0.1:5062
  notification_address: udp:127.0.0.1:5062
  multi_notify: 1
  num_workers: 4
  ping_interval: 15
  allow: []                     # optional: peer addresses/CIDRs accepted (empty = any, like Kamailio)
http:
  listen: 127.0.0.1:8080        # JSON-RPC 2.0 at POST /RPC, Prometheus at GET /metrics
`;
