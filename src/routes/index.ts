/**
 * Route scripts: the built-in `sbc` and `router`, or a user module. A module
 * exports `createRoute(env)` (or a default export of it) returning a
 * RouteScript; it is loaded once per shard.
 */
import { type Logger } from 'pino';

import { type ResolvedConfig } from '../config';
import { type DialogTable } from '../dialog/dialog';
import { type DispatcherHandle } from '../dispatcher/route-api';
import { type RouteScript } from './api';
import { createRouterRoute } from './router';
import { createSbcRoute } from './sbc';

export * from './api';

/** What a route factory gets. */
export interface RouteEnv {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  /** Index of the shard this instance serves. */
  readonly shard: number;
  /** This shard's dispatcher (its `current` is swapped on reload). */
  readonly dispatcher: DispatcherHandle;
  /** This shard's dialogs. */
  readonly dialogs: DialogTable;
}

export type RouteFactory = (env: RouteEnv) => RouteScript;

export function loadRoute(env: RouteEnv): RouteScript {
  const spec = env.config.route;
  if (spec.kind === 'builtin') return spec.name === 'sbc' ? createSbcRoute(env) : createRouterRoute(env);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(spec.path) as { createRoute?: RouteFactory; default?: RouteFactory | { createRoute?: RouteFactory } };
  const factory =
    mod.createRoute ?? (typeof mod.default === 'function' ? mod.default : mod.default?.createRoute);
  if (typeof factory !== 'function') throw new TypeError(`route module ${spec.path} exports no createRoute(env)`);
  return factory(env);
}
