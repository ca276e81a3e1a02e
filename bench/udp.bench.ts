/**
 * UDP I/O benchmark: the server's CPU per datagram echoed, native batched
 * socket (recvmmsg + sendmmsg through the addon) vs Node's dgram, with a
 * separate client process (bench/udp/client.py) keeping WINDOW datagrams in
 * flight. It decides whether the dataplane uses the addon's sockets
 * (dgram only if it is not slower).
 *
 * Usage: node dist/bench/udp.bench.js [--count N] [--window W] [--rounds R]
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as path from 'node:path';

import { nativeUdp } from '../src/native';

const IP = '127.0.0.77';

async function server(kind: 'native' | 'dgram', count: number, window: number): Promise<{ usPerDatagram: number; received: number }> {
  const client = path.join(__dirname, '..', '..', 'bench', 'udp', 'client.py');
  let port = 0;
  let stop: () => void;
  if (kind === 'native') {
    const udp = nativeUdp();
    if (!udp) throw new Error('native addon not loaded');
    const quads = new Uint32Array(4 * 64);
    let s: InstanceType<typeof udp.UdpSocket> | undefined;
    s = new udp.UdpSocket(IP, 0, { batch: 64, parse: false }, (n) => {
      const meta = s!.meta;
      for (let i = 0; i < n; i++) {
        quads[4 * i] = meta[4 * i]!;
        quads[4 * i + 1] = meta[4 * i + 1]!;
        quads[4 * i + 2] = meta[4 * i + 2]!;
        quads[4 * i + 3] = meta[4 * i + 3]!;
      }
      s!.send(s!.buffer, quads, n);
    });
    s.start();
    port = s.port;
    stop = () => s!.close();
  } else {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, r) => sock.send(msg, r.port, r.address));
    await new Promise<void>((res) => sock.bind(0, IP, () => res()));
    port = sock.address().port;
    stop = () => sock.close();
  }
  const c0 = process.cpuUsage();
  const r = await new Promise<string>((resolve) => {
    setImmediate(() => {
      // The client runs in its own process; the event loop must keep turning meanwhile.
      const { spawn } = require('node:child_process') as typeof import('node:child_process');
      const p = spawn('python3', [client, IP, String(port), String(count), String(window), '60']);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', () => resolve(out));
    });
  });
  const c = process.cpuUsage(c0);
  stop();
  const received = Number(/received (\d+)/.exec(r)?.[1] ?? 0);
  return { usPerDatagram: (c.user + c.system) / Math.max(1, received), received };
}

async function main(): Promise<void> {
  const a = process.argv.slice(2);
  const count = Number(a[a.indexOf('--count') + 1] ?? 100000) || 100000;
  const window = Number(a[a.indexOf('--window') + 1] ?? 16) || 16;
  const rounds = Number(a[a.indexOf('--rounds') + 1] ?? 3) || 3;
  const res: Record<string, number[]> = { native: [], dgram: [] };
  for (let r = 0; r < rounds; r++) {
    for (const k of ['native', 'dgram'] as const) {
      const x = await server(k, count, window);
      if (x.received < count * 0.99) throw new Error(`${k}: only ${x.received} of ${count} echoed`);
      res[k]!.push(x.usPerDatagram);
    }
  }
  const med = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const load = (require('node:os') as typeof import('node:os')).loadavg()[0]!.toFixed(2);
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `udp.bench: server CPU per datagram received and echoed (window ${window}, ${count} datagrams, median of ${rounds}): ` +
      `native ${med(res['native']!).toFixed(2)} µs, dgram ${med(res['dgram']!).toFixed(2)} µs, ratio dgram/native ${(med(res['dgram']!) / med(res['native']!)).toFixed(2)}; commit ${git}; load ${load}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
