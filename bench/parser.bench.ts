/**
 * Parser benchmark: messages per second of one thread scanning a realistic
 * INVITE (with SDP), a 200 OK (with SDP, two Vias, two Record-Routes) and an
 * in-dialog BYE (two Routes).
 *
 * Cases, each in its own process (fresh JIT, no cross-talk), 1 s runs after
 * a 0.5 s warm-up, ROUNDS rounds (each round runs every case once, so the
 * cases of a message are measured side by side), medians reported; the
 * ratios are medians of per-round ratios:
 *   native        scanner.parse() per message: one JS->C++ crossing each, plus
 *                 reading the Call-ID bucket and method from the slot array
 *   native-batch  scanner.parseBatch() over 32 datagrams in one buffer
 *                 (how the dataplane calls it), per-message figures
 *   native+view   native, then a SipMessage view reading Call-ID, From tag and
 *                 the top Via branch as strings (what a route script reads)
 *   fallback      the TypeScript port of the scanner (same output)
 *   plain-ts      a plain TypeScript header parse (bench/plain-parse.ts)
 *
 * Usage: node dist/bench/parser.bench.js [--rounds N] [--json]
 */
import { execFileSync, fork } from 'node:child_process';
import * as os from 'node:os';

import { fallbackScanner, scanner, type SipScanner } from '../src/native';
import { S, STRIDE } from '../src/native/layout';
import { SipMessage } from '../src/sip/message';
import { MESSAGES } from './messages';
import { plainParse } from './plain-parse';

const CASES = ['native', 'native-batch', 'native+view', 'fallback', 'plain-ts'] as const;
type CaseName = (typeof CASES)[number];
const BATCH = 32;

function timeLoop(fn: () => number, seconds: number): { ops: number; secs: number; sink: number } {
  let ops = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  for (;;) {
    for (let i = 0; i < 2000; i++) sink = (sink + fn()) | 0;
    ops += 2000;
    const el = process.hrtime.bigint() - start;
    if (el >= limit) return { ops, secs: Number(el) / 1e9, sink };
  }
}

function makeCase(name: CaseName, msg: Buffer): { fn: () => number; perCall: number } {
  const out = new Uint32Array(STRIDE * BATCH);
  const scan = (sc: SipScanner) => () => {
    const r = sc.parse(msg, 0, msg.length, out, 0);
    return r + out[S.BUCKET]! + out[S.METHOD]!;
  };
  switch (name) {
    case 'native':
      return { fn: scan(scanner), perCall: 1 };
    case 'fallback':
      return { fn: scan(fallbackScanner), perCall: 1 };
    case 'native-batch': {
      const big = Buffer.concat(Array.from({ length: BATCH }, () => msg));
      const spans = new Uint32Array(BATCH * 2);
      for (let i = 0; i < BATCH; i++) {
        spans[2 * i] = i * msg.length;
        spans[2 * i + 1] = msg.length;
      }
      return {
        fn: () => {
          const good = scanner.parseBatch(big, spans, BATCH, out);
          let acc = good;
          for (let i = 0; i < BATCH; i++) acc += out[i * STRIDE + S.BUCKET]!;
          return acc;
        },
        perCall: BATCH,
      };
    }
    case 'native+view':
      return {
        fn: () => {
          scanner.parse(msg, 0, msg.length, out, 0);
          const m = new SipMessage(msg, out, 0);
          return m.callId.length + (m.fromTag?.length ?? 0) + (m.topVia?.branch?.length ?? 0);
        },
        perCall: 1,
      };
    case 'plain-ts':
      return {
        fn: () => {
          const p = plainParse(msg);
          return p.callId.length + (p.fromTag?.length ?? 0) + (p.vias[0]?.branch?.length ?? 0);
        },
        perCall: 1,
      };
  }
}

function child(name: CaseName, msgName: string): void {
  const msg = MESSAGES[msgName]!;
  if (name.startsWith('native') && scanner.kind !== 'native') throw new Error('native addon not loaded');
  const { fn, perCall } = makeCase(name, msg);
  timeLoop(fn, 0.5);
  const r = timeLoop(fn, 1.0);
  const cpu = process.cpuUsage();
  process.send!({ msgsPerSec: (r.ops * perCall) / r.secs, sink: r.sink, cpuUser: cpu.user });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function runChild(name: CaseName, msgName: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = fork(__filename, ['--child', name, msgName], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let got: number | undefined;
    c.on('message', (m: { msgsPerSec: number }) => (got = m.msgsPerSec));
    c.on('exit', (code) => (got !== undefined ? resolve(got) : reject(new Error(`${name} ${msgName} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1] as CaseName, args[2]!);
  const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;
  const json = args.includes('--json');
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  // Rounds interleave the cases (round r runs every case of a message once),
  // and the ratios are medians of per-round ratios: this VM's speed drifts
  // over seconds, and cases run minutes apart would not compare.
  const results: Record<string, Record<string, number>> = {};
  const ratios: Record<string, { native: number; batch: number }> = {};
  for (const msgName of Object.keys(MESSAGES)) {
    const runs: Record<string, number[]> = Object.fromEntries(CASES.map((c) => [c, []]));
    for (let r = 0; r < rounds; r++) for (const c of CASES) runs[c]!.push(await runChild(c, msgName));
    results[msgName] = Object.fromEntries(CASES.map((c) => [c, median(runs[c]!)]));
    const per = (c: CaseName): number => median(runs[c]!.map((x, i) => x / runs['plain-ts']![i]!));
    ratios[msgName] = { native: per('native'), batch: per('native-batch') };
    if (!json) for (const c of CASES) process.stderr.write(`  ${msgName.padEnd(7)} ${c.padEnd(13)} ${Math.round(results[msgName]![c]!).toLocaleString('en-US')} msgs/s\n`);
  }
  if (json) {
    console.log(JSON.stringify({ date: new Date().toISOString(), commit, machine, rounds, results, ratios }, null, 1));
    return;
  }
  console.log(`\nparser.bench — ${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${machine}, median of ${rounds} interleaved rounds; ratios: median of the per-round ratios`);
  console.log('');
  console.log('| message | bytes | native msgs/s | native-batch msgs/s | native+view msgs/s | fallback msgs/s | plain-ts msgs/s | native / plain-ts | batch / plain-ts |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const f = (x: number): string => Math.round(x).toLocaleString('en-US');
  for (const [m, r] of Object.entries(results)) {
    console.log(
      `| ${m} | ${MESSAGES[m]!.length} | ${f(r['native']!)} | ${f(r['native-batch']!)} | ${f(r['native+view']!)} | ${f(r['fallback']!)} | ${f(r['plain-ts']!)} | ${ratios[m]!.native.toFixed(1)}× | ${ratios[m]!.batch.toFixed(1)}× |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
