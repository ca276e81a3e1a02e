/**
 * switchyard as a library: run the dataplane with a config, write route
 * scripts against the route API, use the scanner, the dispatcher and the
 * management plane directly.
 */
export { loadConfig, loadConfigText, checkConfig, defaultConfig, type ResolvedConfig } from './config';
export { Dataplane, type DataplaneOptions } from './transport/dataplane';
export { Management } from './rpc';
export type {
  RouteScript,
  RequestContext,
  FailureContext,
  ReplyContext,
  FailureHandler,
  TxnVars,
} from './routes/api';
export type { RouteEnv, RouteFactory } from './routes';
export { dsSelectDst, dsNextDst, xavpDst, xavpCtxCnt, selectInput, type DispatcherHandle } from './dispatcher/route-api';
export { Dispatcher, DsState, parseDispatcherList, loadDispatcherList, type DsList, type DsSelection } from './dispatcher';
export { DialogTable, Dialog, DlgState } from './dialog/dialog';
export { SipMessage, parseMessage, isParseFailure, type ParseFailure, type ViaView, type RouteView } from './sip/message';
export { scanner, fallbackScanner, dsHash, coreCaseHash, callIdBucket, type SipScanner } from './native';
export { SwitchyardError, ConfigError, ConfigErrors } from './errors';
