/**
 * The config file as the user writes it (every key optional) and its JSON
 * Schema. Keys are Kamailio's modparam names verbatim (shared/spec/interface.md);
 * load.ts maps them to camelCase once, into ResolvedConfig (defaults.ts).
 *
 * Validation is ajv (allErrors, strict) over the YAML document after `--set`
 * overrides; unknown keys are errors. Address shapes are ajv formats backed by
 * the parsers in address.ts, so a format error and a resolved value can never
 * disagree; htable strings and ds_ping_reply_codes are parsed after the schema
 * passes (load.ts) to report what exactly is wrong inside them.
 */
import { parseAdvertise, parseCidr, parseDmqAddress, parseHttpListen, parseListen } from './address';
import { parseDsUri } from '../dispatcher/list-file';

/** pino's levels plus silent. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface SipInput {
  max_message?: number;
  max_headers?: number;
  max_header_line?: number;
}

export interface TmInput {
  fr_timer?: number;
  fr_inv_timer?: number;
  t1?: number;
  t2?: number;
  t4?: number;
}

export interface DispatcherInput {
  list_file?: string;
  /** Inline dispatcher.list text (what the embedded default uses); excludes list_file. */
  list?: string | null;
  flags?: number;
  force_dst?: number;
  ds_hash_size?: number;
  ds_ping_interval?: number;
  ds_probing_mode?: number;
  ds_probing_threshold?: number;
  ds_inactive_threshold?: number;
  ds_ping_method?: string;
  ds_ping_from?: string;
  ds_ping_timeout?: number;
  ds_ping_reply_codes?: string;
  xavp_dst?: string;
  xavp_ctx?: string;
  use_default?: number;
  reload_delta?: number;
  ds_hash_expire?: number;
  ds_hash_initexpire?: number;
  ds_hash_check_interval?: number;
  ds_load_mode?: number;
  xavp_dst_mode?: number;
  xavp_ctx_mode?: number;
  set?: number;
  alg?: number;
  limit?: number;
}

export interface DialogInput {
  enable_dmq?: number;
  default_timeout?: number;
}

export interface DmqInput {
  server_address?: string;
  notification_address?: string | string[];
  multi_notify?: number;
  num_workers?: number;
  ping_interval?: number;
  allow?: string[];
}

export interface HttpInput {
  listen?: string | null;
  /** Bearer token required on every HTTP request (RPC and /metrics); null = none. */
  token?: string | null;
  /** Largest accepted request body, bytes (413 above). */
  max_body?: number;
}

/** The YAML file: every key optional (piscina's `Options`). */
export interface ConfigInput {
  listen?: string | string[];
  advertise?: string | null;
  workers?: number;
  route?: string;
  log_level?: LogLevel;
  sip?: SipInput | null;
  tm?: TmInput | null;
  dispatcher?: DispatcherInput | null;
  dialog?: DialogInput | null;
  htable?: string[] | null;
  dmq?: DmqInput | null;
  http?: HttpInput | null;
  /** SIGTERM: ms to let transactions finish before exiting. */
  shutdown_timeout?: number;
}

/** ajv formats: name -> [check, human description used in error messages]. */
export const FORMATS: Readonly<Record<string, readonly [(s: string) => boolean, string]>> = {
  'udp-listen': [(s) => parseListen(s) !== null, 'must be udp:IP:PORT (e.g. udp:127.0.0.1:5060, udp:[::1]:5060)'],
  advertise: [(s) => parseAdvertise(s) !== null, 'must be HOST or HOST:PORT (e.g. 203.0.113.7:5060)'],
  'http-listen': [(s) => parseHttpListen(s) !== null, 'must be HOST:PORT (e.g. 127.0.0.1:8080)'],
  'dmq-address': [(s) => parseDmqAddress(s) !== null, 'must be sip:HOST:PORT or udp:HOST:PORT (e.g. sip:127.0.0.1:5062)'],
  cidr: [(s) => parseCidr(s) !== null, 'must be an IP address or CIDR (e.g. 10.0.0.0/8)'],
  'sip-uri': [(s) => parseDsUri(s) !== null, 'must be a sip: or sips: URI (e.g. sip:dispatcher@localhost)'],
  'sip-method': [(s) => /^[A-Za-z][A-Za-z0-9._!%*+`'~-]*$/.test(s), 'must be a SIP method token (e.g. OPTIONS)'],
  'xavp-name': [(s) => s === '' || /^[A-Za-z_][A-Za-z0-9_]*$/.test(s), 'must be an XAVP name (letters, digits, _) or empty'],
  'route-spec': [(s) => s.length > 0, 'must be sbc, router or a path to a route module'],
  path: [(s) => s.length > 0 && !s.includes('\0'), 'must be a file path'],
};

const int = (minimum: number, maximum?: number): Record<string, unknown> =>
  maximum === undefined ? { type: 'integer', minimum } : { type: 'integer', minimum, maximum };
const flag = { type: 'integer', enum: [0, 1] };
const str = (format: string): Record<string, unknown> => ({ type: 'string', format });
const obj = (properties: Record<string, unknown>): Record<string, unknown> => ({
  type: ['object', 'null'],
  additionalProperties: false,
  properties,
});

/** JSON Schema (draft-07) of ConfigInput. */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: { type: ['string', 'array'], format: 'udp-listen', minItems: 1, items: str('udp-listen') },
    advertise: { type: ['string', 'null'], format: 'advertise' },
    workers: int(0, 64),
    route: str('route-spec'),
    log_level: { type: 'string', enum: [...LOG_LEVELS] },
    sip: obj({
      max_message: int(512, 65535),
      max_headers: int(1, 4096),
      max_header_line: int(64, 65535),
    }),
    tm: obj({
      fr_timer: int(1),
      fr_inv_timer: int(1),
      t1: int(1),
      t2: int(1),
      t4: int(1),
    }),
    dispatcher: obj({
      list_file: str('path'),
      list: { type: ['string', 'null'] },
      flags: int(0),
      force_dst: flag,
      ds_hash_size: int(0, 20),
      ds_ping_interval: int(0),
      ds_probing_mode: int(0, 3),
      ds_probing_threshold: int(0),
      ds_inactive_threshold: int(0),
      ds_ping_method: str('sip-method'),
      ds_ping_from: str('sip-uri'),
      ds_ping_timeout: int(0),
      ds_ping_reply_codes: { type: 'string' },
      xavp_dst: str('xavp-name'),
      xavp_ctx: str('xavp-name'),
      use_default: flag,
      reload_delta: int(0),
      ds_hash_expire: int(0),
      ds_hash_initexpire: int(0),
      ds_hash_check_interval: int(0),
      ds_load_mode: flag,
      xavp_dst_mode: int(0, 7),
      xavp_ctx_mode: int(0, 1),
      set: int(0),
      alg: int(0, 13),
      limit: int(0),
    }),
    dialog: obj({
      enable_dmq: flag,
      default_timeout: int(1),
    }),
    htable: { type: ['array', 'null'], items: { type: 'string' } },
    dmq: obj({
      server_address: str('dmq-address'),
      notification_address: { type: ['string', 'array'], format: 'dmq-address', minItems: 1, items: str('dmq-address') },
      multi_notify: flag,
      num_workers: int(1, 64),
      ping_interval: int(1),
      allow: { type: 'array', items: str('cidr') },
    }),
    http: obj({
      listen: { type: ['string', 'null'], format: 'http-listen' },
      token: { type: ['string', 'null'], minLength: 1 },
      max_body: int(256, 1 << 30),
    }),
    shutdown_timeout: int(0, 3_600_000),
  },
} as const;
