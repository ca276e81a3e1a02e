#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * switchyard [--config FILE] [--set key.path=value ...] [--check]
 * switchyard rpc METHOD [PARAM ...] [--url URL] [--token T]
 *
 * Without --config it runs the embedded default config (an SBC on
 * 127.0.0.1:5060 in front of two loopback routers). --check validates the
 * config and its dispatcher list, prints every problem as file:line: key:
 * message, and exits 1 if there is one. `rpc` is a kamcmd-like JSON-RPC
 * client (src/rpc/client.ts).
 *
 * Signals (docs/operations.md):
 * - SIGHUP: reload the dispatcher list, like dispatcher.reload but without
 *   the reload_delta limit; a list that does not load is logged and the one
 *   in force stays.
 * - SIGTERM / SIGINT: new INVITEs get 503 + Retry-After, transactions in
 *   flight get up to `shutdown_timeout` ms to finish, then the HTTP server
 *   and the dataplane stop, logs are flushed and the process exits 0. A
 *   second signal cuts the wait short.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { checkConfig, loadConfig, type ResolvedConfig } from './config';
import { ConfigErrors, SwitchyardError } from './errors';
import { rootLogger, setLogLevel } from './log';
import { nativeLoadError, scanner, setParseLimits } from './native';
import { Management } from './rpc';
import { rpcCommand } from './rpc/client';
import { Dataplane } from './transport/dataplane';

/** Retry-After (s) on the 503 to new INVITEs while draining. */
const DRAIN_RETRY_AFTER_S = 5;

const USAGE = `usage: switchyard [--config FILE] [--set key.path=value ...] [--check]
       switchyard rpc METHOD [PARAM ...] [--url URL] [--token T]   (switchyard rpc --help)
       switchyard bench [--kamailio] [--workers 0,1,2] [--rate N --calls N | --ramp ...]   (switchyard bench --help)

  --config FILE   YAML config (Kamailio modparam names); default: the embedded config
  --set K=V       override one key, e.g. --set workers=0 --set tm.fr_timer=2000
  --check         validate the config and the dispatcher list, then exit (0 ok, 1 errors)
  --help          this text
  --version       the version
`;

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../package.json') as { version: string }).version;
}

function flushLogs(log: ReturnType<typeof rootLogger>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    try {
      log.flush((_err?: Error) => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

async function run(config: ResolvedConfig): Promise<void> {
  setLogLevel(config.logLevel);
  const log = rootLogger();
  setParseLimits(config.sip);
  if (scanner.kind !== 'native') log.warn({ err: nativeLoadError() }, 'native scanner unavailable, using the TypeScript fallback');
  const startedAt = new Date();
  const dp = await Dataplane.start({ config, log });
  let mgmt: Management;
  try {
    mgmt = await Management.start({ dp, config, log, version: version(), startedAt });
  } catch (err) {
    await dp.stop();
    throw err;
  }
  const listen = config.listen.map((l, i) => `udp:${l.host}:${dp.sockets[i]!.port}`);
  log.info(
    {
      listen,
      http: mgmt.address ? `${mgmt.address.host}:${mgmt.address.port}` : null,
      workers: config.workers,
      route: config.route.kind === 'builtin' ? config.route.name : config.route.path,
      scanner: scanner.kind,
    },
    `switchyard listening on ${listen.join(', ')}`,
  );
  // Modules of the config contract that this version does not run yet.
  if (config.dmq) log.warn({ dmq: config.dmq.serverAddress }, 'dmq: configured, but DMQ replication is not available in this version; ignored');
  if (config.htable.length) log.warn({ tables: config.htable.map((t) => t.name) }, 'htable: configured, but htables are not available in this version; ignored');

  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading the dispatcher list');
    // Failures are logged by the reload itself; the list in force stays.
    mgmt.control.reload({ rateLimited: false, reason: 'SIGHUP' }).catch(() => undefined);
  });

  let stopping = false;
  let cutShort: (() => void) | undefined;
  const stop = async (signal: string): Promise<void> => {
    const t0 = Date.now();
    log.info({ signal, timeoutMs: config.shutdownTimeout, retryAfter: DRAIN_RETRY_AFTER_S }, 'stopping: new INVITEs get 503, waiting for transactions');
    const forced = new Promise<number>((resolve) => (cutShort = () => resolve(-1)));
    // Each shard publishes its transaction count as it starts draining.
    const wait = (): Promise<number> => dp.drain(config.shutdownTimeout, DRAIN_RETRY_AFTER_S);
    const open = await Promise.race([wait(), forced]);
    if (open > 0) log.warn({ open }, 'transactions still open after shutdown_timeout');
    else if (open < 0) log.warn({ signal }, 'shutdown wait cut short by a second signal');
    await mgmt.close();
    await dp.stop();
    log.info({ ms: Date.now() - t0 }, 'stopped');
  };
  const onSignal = (signal: string): void => {
    if (stopping) {
      cutShort?.();
      return;
    }
    stopping = true;
    stop(signal).then(
      async () => {
        await flushLogs(log);
        process.exit(0);
      },
      async (err: unknown) => {
        log.error({ err }, 'stop failed');
        await flushLogs(log);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/**
 * switchyard bench [driver options]: the SIPp benchmark (bench/sipp/run.ts)
 * from a source checkout. Without a rate or --ramp it runs the ramp over
 * workers 0,1,2 (--kamailio adds Kamailio side by side); then it draws the
 * worker-sweep chart into bench/results/ and appends it to bench/RESULTS.md.
 */
async function benchCommand(args: string[]): Promise<number> {
  const root = path.join(__dirname, '..', '..');
  const driver = path.join(root, 'dist', 'bench', 'sipp', 'run.js');
  const report = path.join(root, 'dist', 'bench', 'sipp', 'chart-report.js');
  if (!fs.existsSync(driver) || !fs.existsSync(report)) {
    process.stderr.write('switchyard bench: needs a source checkout built with `npm install` (dist/bench is missing)\n');
    return 1;
  }
  if (args.includes('--help')) return spawnSync(process.execPath, [driver, '--help'], { stdio: 'inherit' }).status ?? 1;
  const a = args.filter((x) => x !== '--kamailio');
  if (!a.includes('--target')) a.push('--target', args.includes('--kamailio') ? 'both' : 'switchyard');
  if (!a.includes('--rate') && !a.includes('--ramp')) a.push('--ramp');
  if (!a.includes('--workers')) a.push('--workers', '0,1,2');
  const out = path.join(os.tmpdir(), `switchyard-bench-${process.pid}.json`);
  const r = spawnSync(process.execPath, [driver, ...a, '--out', out], { stdio: 'inherit', cwd: root });
  if (r.status !== 0 || !fs.existsSync(out)) return r.status ?? 1;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { appendChart } = require(report) as { appendChart: (json: string, benchDir: string) => string };
  process.stdout.write(`chart: ${appendChart(out, path.join(root, 'bench'))} (appended to bench/RESULTS.md)\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'bench') return benchCommand(argv.slice(1));
  if (argv[0] === 'rpc') {
    return rpcCommand(argv.slice(1), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  }
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        set: { type: 'string', multiple: true, short: 's' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`switchyard: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`switchyard ${version()}\n`);
    return 0;
  }
  const opts = { file: v.config, sets: v.set ?? [] };
  if (v.check) {
    const r = checkConfig(opts);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const e of r.errors) process.stderr.write(`${e.message}\n`);
    if (!r.ok) return 1;
    const sets = r.dispatcherList?.sets.length ?? 0;
    const dsts = r.dispatcherList?.destinations.length ?? 0;
    process.stdout.write(`${v.config ?? 'embedded default config'}: ok (${sets} dispatcher set(s), ${dsts} destination(s))\n`);
    return 0;
  }
  let config: ResolvedConfig;
  try {
    config = loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigErrors || err instanceof SwitchyardError) {
      rootLogger().fatal({ code: err.code }, err.message);
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    await run(config);
  } catch (err) {
    rootLogger().fatal({ err }, 'start failed');
    process.stderr.write(`switchyard: ${(err as Error).message}\n`);
    return 1;
  }
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`switchyard: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
