#!/usr/bin/env node
/**
 * switchyard [--config FILE] [--set key.path=value ...] [--check]
 *
 * Without --config it runs the embedded default config (an SBC on
 * 127.0.0.1:5060 in front of two loopback routers). --check validates the
 * config and its dispatcher list, prints every problem as file:line: key:
 * message, and exits 1 if there is one.
 */
import { parseArgs } from 'node:util';

import { checkConfig, loadConfig, type ResolvedConfig } from './config';
import { ConfigErrors, SwitchyardError } from './errors';
import { rootLogger, setLogLevel } from './log';
import { nativeLoadError, scanner, setParseLimits } from './native';
import { Dataplane } from './transport/dataplane';

const USAGE = `usage: switchyard [--config FILE] [--set key.path=value ...] [--check]

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

async function run(config: ResolvedConfig): Promise<void> {
  setLogLevel(config.logLevel);
  const log = rootLogger();
  setParseLimits(config.sip);
  if (scanner.kind !== 'native') log.warn({ err: nativeLoadError() }, 'native scanner unavailable, using the TypeScript fallback');
  const dp = await Dataplane.start({ config, log });
  const listen = config.listen.map((l, i) => `udp:${l.host}:${dp.sockets[i]!.port}`);
  log.info(
    { listen, workers: config.workers, route: config.route.kind === 'builtin' ? config.route.name : config.route.path, scanner: scanner.kind },
    `switchyard listening on ${listen.join(', ')}`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    dp.stop().then(
      () => {
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
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
