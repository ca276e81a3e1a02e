/**
 * The management plane: JSON-RPC (Kamailio's method names and shapes) and
 * Prometheus metrics over HTTP, next to a running Dataplane.
 *
 *   const mgmt = await Management.start({ dp, config, log });
 *   ...
 *   await mgmt.control.reload({ rateLimited: false });   // SIGHUP
 *   await mgmt.close();
 *
 * Every module registers its own methods on the registry (dispatcher.ts,
 * dlg.ts, core.ts, stats.ts); modules added later (htable, dmq) register
 * theirs the same way through `mgmt.registry`.
 */
import { type FastifyInstance } from 'fastify';
import { type Logger } from 'pino';
import { type Registry } from 'prom-client';

import { type ResolvedConfig } from '../config';
import { type Dataplane } from '../transport/dataplane';
import { registerCoreRpc } from './core';
import { DispatcherControl, registerDispatcherRpc } from './dispatcher';
import { registerDlgRpc } from './dlg';
import { buildMetrics } from './metrics';
import { RpcRegistry } from './registry';
import { startHttpServer } from './server';
import { registerStatsRpc } from './stats';

export { RpcRegistry, RpcParams, RpcFault, JSONRPC } from './registry';
export { dispatchRpc } from './jsonrpc';
export { DispatcherControl, writeAtomically } from './dispatcher';
export { printKamailioJson } from './srjson';

export interface ManagementOptions {
  dp: Dataplane;
  config: ResolvedConfig;
  log: Logger;
  /** Default: package.json's version. */
  version?: string;
  /** Default: now. */
  startedAt?: Date;
  /** Start the HTTP server on config.http.listen (default true; it is off anyway when listen is null). */
  http?: boolean;
  /** prom-client default process metrics (default true). */
  defaultMetrics?: boolean;
}

export function packageVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export class Management {
  readonly registry: RpcRegistry;
  readonly control: DispatcherControl;
  readonly metrics: Registry;
  /** The HTTP server's address, null when http.listen is null. */
  readonly address: { host: string; port: number } | null;
  private readonly app: FastifyInstance | null;

  private constructor(registry: RpcRegistry, control: DispatcherControl, metrics: Registry, app: FastifyInstance | null, address: { host: string; port: number } | null) {
    this.registry = registry;
    this.control = control;
    this.metrics = metrics;
    this.app = app;
    this.address = address;
  }

  static async start(o: ManagementOptions): Promise<Management> {
    const version = o.version ?? packageVersion();
    const log = o.log.child({ module: 'rpc' });
    const registry = new RpcRegistry();
    const control = new DispatcherControl({ dp: o.dp, config: o.config, log: o.log.child({ module: 'dispatcher' }) });
    registerDispatcherRpc(registry, control);
    registerDlgRpc(registry, o.dp);
    registerStatsRpc(registry, o.dp);
    registerCoreRpc(registry, { version, startedAt: o.startedAt ?? new Date(), workers: o.config.workers });
    const metrics = buildMetrics(() => o.dp, { version, defaultMetrics: o.defaultMetrics });
    const listen = o.config.http.listen;
    if (!listen || o.http === false) return new Management(registry, control, metrics, null, null);
    const { app, port } = await startHttpServer({
      host: listen.host,
      port: listen.port,
      token: o.config.http.token,
      maxBody: o.config.http.maxBody,
      registry,
      metrics,
      log,
      server: `switchyard (${version})`,
    });
    log.info({ host: listen.host, port }, `management HTTP on ${listen.family === 6 ? `[${listen.host}]` : listen.host}:${port} (POST /RPC, GET /metrics)`);
    return new Management(registry, control, metrics, app, { host: listen.host, port });
  }

  /** Stops the HTTP server (open connections are closed). */
  async close(): Promise<void> {
    await this.app?.close();
  }
}
