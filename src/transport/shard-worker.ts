/**
 * Entry of a shard worker thread (a single-thread piscina pool). It builds
 * its Shard once from workerData, keeps its timer wheel running on its own
 * event loop, and handles the batches the main thread transfers to it.
 */
import { workerData } from 'node:worker_threads';

import { DsState } from '../dispatcher';
import { nativeUdp, setParseLimits } from '../native';
import { childLogger, setLogLevel } from '../log';
import { localIdentity } from '../tm/tm';
import {
  type ShardBatchTask,
  type ShardDrainTask,
  type ShardPortTask,
  type ShardQueryTask,
  type ShardReloadTask,
  type ShardWorkerData,
} from './dataplane';
import { Shard } from './shard';
import { Telemetry } from './telemetry';

const wd = workerData as ShardWorkerData;
setLogLevel(wd.config.logLevel);
setParseLimits(wd.config.sip);
const log = childLogger({ module: 'tm', shard: wd.index });
const udp = nativeUdp();
if (!udp) throw new Error('shard worker: the native addon is required');
const fd = wd.fd;
const shard = new Shard({
  index: wd.index,
  config: wd.config,
  local: localIdentity(wd.local.ip, wd.local.port, wd.local.aliases),
  dsState: DsState.attach(wd.ds.sab, wd.ds.list),
  telemetry: new Telemetry(Math.max(1, wd.config.workers), wd.telemetry).block(wd.index),
  log,
  flush: (buf, quads, n) => udp.sendBatchFd(fd, buf, quads, n),
  timers: wd.timers,
});
shard.startTimers();

type Task = ShardBatchTask | ShardPortTask | ShardReloadTask | ShardQueryTask | ShardDrainTask | { ping: true };

function batch(task: ShardBatchTask): number {
  const data = task.data;
  const count = new Uint32Array(data, 0, 1)[0]!;
  const meta = new Uint32Array(data, 4, count * 4);
  shard.handleBatch(Buffer.from(data), meta, count);
  return count;
}

export default function handle(task: Task): unknown {
  if ('port' in task) {
    // Batches arrive on this port, in the order the main thread received them.
    task.port.on('message', (t: ShardBatchTask) => {
      try {
        batch(t);
      } catch (err) {
        log.error({ err }, 'batch handling failed');
      }
    });
    return shard.index;
  }
  if ('query' in task) return shard.query(task.query.name, task.query.params);
  if ('drain' in task) {
    shard.drain(task.drain.retryAfter);
    return shard.index;
  }
  if ('reload' in task) {
    shard.reloadDispatcher(DsState.attach(task.reload.sab, task.reload.list));
    return shard.index;
  }
  if (!('data' in task)) return shard.index;
  return batch(task);
}
