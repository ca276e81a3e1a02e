/**
 * Configuration: YAML file (Kamailio modparam names) -> validated, filled,
 * camelCased, deep-frozen ResolvedConfig. See load.ts for the pipeline and
 * defaults.ts for the defaults and the embedded default config.
 */
export {
  loadConfig,
  loadConfigText,
  checkConfig,
  defaultConfig,
  loadConfiguredDispatcherList,
  parseSetArgument,
  parseReplyCodes,
  formatKeyPath,
  deepFreeze,
  type LoadConfigOptions,
  type LoadConfigTextOptions,
  type CheckResult,
} from './load';
export {
  DEFAULTS,
  DMQ_DEFAULTS,
  DEFAULT_CONFIG_YAML,
  DEFAULT_CONFIG_NAME,
  DEFAULT_DISPATCHER_LIST,
  type ResolvedConfig,
  type ResolvedSip,
  type ResolvedTm,
  type ResolvedDispatcher,
  type ResolvedDialog,
  type ResolvedDmq,
  type ResolvedHttp,
  type RouteSpec,
  type DsReplyCode,
} from './defaults';
export { CONFIG_SCHEMA, LOG_LEVELS, type LogLevel, type ConfigInput } from './schema';
export { parseHtableSpec, htableBuckets, type HtableSpec } from './htable';
export {
  parseListen,
  parseAdvertise,
  parseHttpListen,
  parseDmqAddress,
  parseCidr,
  type ListenSocket,
  type HostPort,
  type DmqAddress,
  type CidrRange,
} from './address';
