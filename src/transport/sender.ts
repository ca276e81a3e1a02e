/**
 * Batches outgoing datagrams: every send() of one turn (a received batch, a
 * timer tick) is copied into one staging buffer and leaves in a single
 * sendmmsg() when the turn's synchronous work is done. The shard brackets
 * its own turns (beginTurn() ... flush()); a send() outside them schedules
 * the flush as a microtask.
 */
import { type Addr } from '../sip/addr';
import { type Sender } from '../tm/tm';

/** flush(buf, quads [offset, length, ipv4, port]..., count) -> datagrams sent. */
export type FlushFn = (buf: Buffer, quads: Uint32Array, count: number) => number;

export interface SenderStats {
  sent: number;
  dropped: number;
  batches: number;
}

export class BatchSender implements Sender {
  readonly stats: SenderStats = { sent: 0, dropped: 0, batches: 0 };
  private readonly buf: Buffer;
  private readonly quads: Uint32Array;
  private readonly max: number;
  private used = 0;
  private count = 0;
  private scheduled = false;
  private readonly flushFn: FlushFn;

  constructor(flushFn: FlushFn, options: { bytes?: number; datagrams?: number } = {}) {
    this.flushFn = flushFn;
    this.buf = Buffer.allocUnsafe(options.bytes ?? 1 << 20);
    this.max = options.datagrams ?? 1024;
    this.quads = new Uint32Array(this.max * 4);
  }

  send(data: Buffer, to: Addr): void {
    if (data.length > this.buf.length) {
      this.stats.dropped++;
      return;
    }
    if (this.count === this.max || this.used + data.length > this.buf.length) this.flush();
    const q = this.count * 4;
    this.quads[q] = this.used;
    this.quads[q + 1] = data.length;
    this.quads[q + 2] = to.ip;
    this.quads[q + 3] = to.port;
    this.used += data.copy(this.buf, this.used);
    this.count++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /**
   * The caller's turn starts: it calls flush() when the turn ends (in a
   * `finally`), so sends until then need no microtask.
   */
  beginTurn(): void {
    this.scheduled = true;
  }

  /** Sends what is queued now. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.count === 0) return;
    const n = this.count;
    const r = this.flushFn(this.buf, this.quads, n);
    this.stats.batches++;
    if (r >= 0) {
      this.stats.sent += r;
      this.stats.dropped += n - r;
    } else {
      this.stats.dropped += n;
    }
    this.count = 0;
    this.used = 0;
  };
}
