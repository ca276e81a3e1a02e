/**
 * The root pino logger. Modules and shards take children
 * (`logger.child({ module: 'tm', shard: 3 })`). Object first, message second;
 * nothing per message above debug.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env['SWITCHYARD_LOG_LEVEL'] ?? 'info', base: { name: 'switchyard' } });

export function rootLogger(): Logger {
  return root;
}

/** Replaces the root logger's level (config `log_level`). */
export function setLogLevel(level: LevelWithSilent): void {
  root.level = level;
}

/** For tests and embedding: route logs elsewhere. */
export function setRootLogger(logger: Logger): void {
  root = logger;
}

export function childLogger(bindings: Record<string, unknown>): Logger {
  return root.child(bindings);
}
