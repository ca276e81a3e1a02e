/**
 * Kamailio core RPCs that make sense here (core.c in Kamailio 5.6.3):
 * - core.version: one string, `switchyard <version> (<arch>/<platform>)`;
 * - core.uptime: `{now, up_since, uptime}`, times as ctime() text in local
 *   time, uptime in whole seconds;
 * - core.ps / core.psx: the "processes": the main thread (sockets,
 *   keepalives, management) and each shard worker thread - one PID, as they
 *   are threads; core.ps is the flat [pid, description, ...] array,
 *   core.psx an array of {IDX, PID, DSC};
 * - system.listMethods: every registered method name, sorted.
 */
import { type RpcRegistry } from './registry';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C ctime() without the newline: `Thu Nov 26 05:06:21 2026` (local time). */
export function ctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

export interface CoreRpcOptions {
  version: string;
  startedAt: Date;
  /** Shard worker threads (0 = shards on the main thread). */
  workers: number;
  now?: () => Date;
}

export function registerCoreRpc(reg: RpcRegistry, o: CoreRpcOptions): void {
  const now = o.now ?? (() => new Date());
  reg.register({
    name: 'core.version',
    doc: 'Returns the version string of the server',
    handler: () => `switchyard ${o.version} (${process.arch}/${process.platform})`,
  });
  reg.register({
    name: 'core.uptime',
    doc: 'Returns uptime of the server',
    handler: () => {
      const t = now();
      return {
        now: ctime(t),
        up_since: ctime(o.startedAt),
        uptime: Math.max(0, Math.floor(t.getTime() / 1000) - Math.floor(o.startedAt.getTime() / 1000)),
      };
    },
  });
  const procs = (): { pid: number; dsc: string }[] => {
    const out = [{ pid: process.pid, dsc: 'main thread - udp receivers, keepalives, management' }];
    for (let k = 0; k < o.workers; k++) out.push({ pid: process.pid, dsc: `shard worker thread ${k}` });
    if (o.workers === 0) out[0]!.dsc += ', shard 0';
    return out;
  };
  reg.register({
    name: 'core.ps',
    doc: 'Returns the description of running processes',
    array: true,
    handler: () => procs().flatMap((p) => [p.pid, p.dsc]),
  });
  reg.register({
    name: 'core.psx',
    doc: 'Returns the detailed description of running processes',
    array: true,
    handler: () => procs().map((p, i) => ({ IDX: i, PID: p.pid, DSC: p.dsc })),
  });
  reg.register({
    name: 'system.listMethods',
    doc: 'Lists all RPC methods supported by the server',
    array: true,
    handler: () => reg.names(),
  });
}
