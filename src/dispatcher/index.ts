/**
 * Dispatcher module (Kamailio 5.6.3 `dispatcher`): list file parser
 * (list-file.ts), shared runtime state (state.ts), selection algorithms and
 * failover records (select.ts), alg 10 call-load table (call-load.ts).
 * Spec: shared/spec/dispatcher.md.
 *
 * Threading: the main thread loads the list and creates the DsState (one
 * SharedArrayBuffer); each shard attaches to it and builds its own
 * Dispatcher + CallLoadTable:
 *
 *   main:  const state = DsState.create(list); worker.postMessage({ sab: state.buffer, list })
 *   shard: const state = DsState.attach(sab, list);
 *          const ds = new Dispatcher(list, state, dispatcherOptionsFromConfig(cfg.dispatcher, callLoad));
 */
import type { ResolvedDispatcher } from '../config/defaults';
import { CallLoadTable } from './call-load';
import type { DispatcherOptions } from './select';

export * from './list-file';
export * from './state';
export * from './call-load';
export * from './select';

/**
 * Dispatcher options from the resolved config. Pass the shard's existing
 * call-load table on a reload so recorded calls survive; without one, a table
 * is created when `ds_hash_size > 0`.
 */
export function dispatcherOptionsFromConfig(cfg: ResolvedDispatcher, callLoad?: CallLoadTable): DispatcherOptions {
  return {
    flags: cfg.flags,
    useDefault: cfg.useDefault,
    forceDst: cfg.forceDst,
    xavpDst: cfg.xavpDst,
    xavpDstMode: cfg.xavpDstMode,
    xavpCtxMode: cfg.xavpCtxMode,
    hashSize: cfg.dsHashSize,
    hashExpire: cfg.dsHashExpire,
    hashInitexpire: cfg.dsHashInitexpire,
    callLoad:
      callLoad ??
      (cfg.dsHashSize > 0
        ? new CallLoadTable({ hashSize: cfg.dsHashSize, expire: cfg.dsHashExpire, initExpire: cfg.dsHashInitexpire })
        : undefined),
    probingMode: cfg.dsProbingMode,
    probingThreshold: cfg.dsProbingThreshold,
    inactiveThreshold: cfg.dsInactiveThreshold,
  };
}
