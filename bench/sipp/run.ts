/**
 * SIPp benchmark driver: calls through the proxy, switchyard vs Kamailio.
 *
 *   npm run bench:sipp -- [--target switchyard|kamailio|both] [--workers 0,1,2]
 *                         [--rate N] [--calls N] [--ramp ...] [--out FILE]
 *
 * Topology (loopback only): SIPp UAC 127.0.0.4:5060 -> proxy 127.0.0.1:5060 ->
 * dispatcher set 1 = SIPp UAS 127.0.0.2:5060 and 127.0.0.3:5060 (alg 0,
 * limit 2; the same bench/kamailio/kamailio-dispatcher.list for both
 * proxies). Calls: INVITE/100/180/200/ACK/BYE/200, no hold time, ACK and BYE
 * loose-routed by the Record-Route of the 200 (bench/sipp/scenarios/).
 *
 * Targets: switchyard (`node dist/src/cli.js --config`, workers N, sbc route,
 * fr_timer = fr_inv_timer = --fr-timer) and the Kamailio anchor
 * (bench/kamailio/kamailio-sbc.cfg, CHILDREN=--kam-children, FR_TIMER=--fr-timer).
 * Every measurement starts the two UAS and the proxy fresh and stops them
 * after (proxy: SIGTERM; UAS: SIGUSR1 = finish open calls and exit).
 *
 * Metrics per point (see bench/sipp/harness.ts for how each is read):
 * - successful calls/s = UAC SuccessfulCall / wall time of the UAC process;
 * - failed calls (UAC FailedCall, plus calls that never ended = incomplete);
 * - retransmissions = UAC + both UAS Retransmissions (sent by SIPp);
 * - SIP messages/s through the proxy = datagrams sent+received by the three
 *   SIPp instances (-trace_counts etc.) / wall time; a clean call is 13
 *   (6 in + 7 out at the proxy: INVITE, 180, 200, ACK, BYE, 200 in; 100,
 *   INVITE, 180, 200, ACK, BYE, 200 out);
 * - proxy CPU s per 1,000 calls: utime+stime of the proxy (all threads; for
 *   Kamailio all processes of its group) from /proc over the UAC run;
 * - call setup latency INVITE -> 200 at the UAC, p50/p99 (µs timestamps of
 *   -trace_shortmsg).
 *
 * --ramp: rates --ramp-start, +--ramp-step, ... up to --ramp-max, each step
 * --ramp-seconds long (calls = rate x seconds), all targets at the same rate
 * one after the other; a target drops out at its first failing step (after
 * --ramp-retries re-runs). Pass (seen from the UAC, like the anchor's figures) =
 * every call successful, 0 failed, retransmissions (UAC+UAS) < 1 % of calls;
 * calls that failed at a UAS (ACK/BYE reordered by the proxy) are reported in
 * their own column. The whole ramp stops after --max-time s.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import {
  KAMAILIO_LIST,
  ROOT,
  killAll,
  kamailioVersion,
  percentile,
  runUac,
  setupLatenciesMs,
  sippVersion,
  startKamailio,
  startSwitchyard,
  startUas,
  stopUas,
  ticksPerSecond,
  udpPortInUse,
  type ProxyHandle,
  type SippResult,
  type UasHandle,
  cpuTicks,
  snapshotSwitchyard,
  machineBusyTicks,
  udpBufErrors,
  udpDrops,
  waitQuiet,
  SIPP_BUFF_SIZE,
} from './harness';

const PROXY_IP = '127.0.0.1';
const PROXY_PORT = 5060;
const UAS_IPS = ['127.0.0.2', '127.0.0.3'] as const;
const UAC_IP = '127.0.0.4';
const SIP_PORT = 5060;
/** SIP datagrams through the proxy for one clean call (6 in + 7 out). */
const MSGS_PER_CALL = 13;
const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');
const SECTION = '## SIPp: calls through the proxy';

const USAGE = `usage: node dist/bench/sipp/run.js [options]

  --target T        switchyard | kamailio | both (default both)
  --workers LIST    switchyard worker counts to sweep, e.g. 0,1,2 (default 0,1,2)
  --routes LIST     switchyard routes, e.g. sbc,bench/routes/plain-relay.js (default sbc)
  --rate N          calls/s for a fixed-rate point (default 1000)
  --calls N         calls per fixed-rate point (default 10000)
  --repeat N        run each fixed-rate point N times (default 1)
  --warmup N        before each measured point, N calls through the freshly started proxy at
                    --warmup-rate, to UAS of their own, not counted (default 0: none). A JIT-compiled
                    proxy runs its first second or so on unoptimised code; near the ceiling that
                    start-up lag alone can tip a step into a retransmission spiral
  --warmup-rate R   calls/s of the warm-up (default 1000)
  --ramp            find the highest rate with 0 failed calls and < 1% retransmissions
  --ramp-start N    first ramp rate (default 500)
  --ramp-step N     ramp increment (default 500)
  --ramp-max N      highest ramp rate tried (default 8000)
  --ramp-seconds S  length of one ramp step (default 5)
  --ramp-retries N  re-runs of a failing step before a target drops out (default 1)
  --max-time S      bound on the total ramp time (default 1200)
  --fr-timer MS     tm fr_timer/fr_inv_timer of both proxies (default 2000)
  --kam-children N  Kamailio CHILDREN (default 2)
  --quiet-wait S    before each point wait up to S s for the machine to be quiet (default 60; 0 = no wait)
  --quiet-cores C   quiet = less than C cores busy over 1 s, all processes (default 0.3)
  --noisy-pct P     a point is noisy if other processes used more than P % of a core during it (default 25)
  --noisy-retries N re-run a noisy point up to N times and keep the least noisy run (default 2)
  --sipp-buff B     SIPp -buff_size in bytes for UAC and UAS (default 4194304; SIPp's own default is 65535)
  --out FILE        write all points as JSON
  --note TEXT       a note for the RESULTS.md entry
  --no-results      do not append to bench/RESULTS.md
  --keep            keep every run directory (default: only those with anomalies)
`;

interface Target {
  kind: 'switchyard' | 'kamailio';
  workers: number;
  label: string;
  /** switchyard route (sbc, or a module path). */
  route?: string;
}

interface Point {
  target: string;
  kind: Target['kind'];
  workers: number;
  rate: number;
  calls: number;
  wallS: number;
  created: number;
  successful: number;
  failed: number;
  incomplete: number;
  uasFailed: number;
  /** 180s that reached the UAC after the 200 (tolerated by uac.xml, counted here). */
  late180: number;
  successfulCps: number;
  retransUac: number;
  retransUas: number;
  retransmissions: number;
  datagrams: number;
  msgsPerS: number;
  msgsPerCall: number;
  /** datagrams - 13 x successful calls: retransmissions, pings, failed calls' messages. */
  extraMsgs: number;
  proxyCpuS: number;
  proxyCpuPer1000: number;
  proxyCpuPct: number;
  proxyProcs: number;
  sippCpuPct: number;
  /** CPU used by everything else on the machine during the run, % of one core. */
  otherCpuPct: number;
  /** Busy cores (all processes) in the 1 s before the point. */
  busyBefore: number;
  /** Datagrams the kernel dropped (receive buffer full) on the proxy's socket(s) during the point. */
  dropsProxy: number;
  /** ... on the UAC and UAS sockets (UAC sampled every 100 ms). */
  dropsSipp: number;
  /** Machine-wide UDP Rcvbuf+Sndbuf errors during the point. */
  dropsMachine: number;
  /** Other runs of this point discarded as noisier (see measureClean). */
  noisyAttempts: number;
  /** Other processes used more than --noisy-pct % of a core during the point. */
  noisy: boolean;
  setupP50Ms: number;
  setupP99Ms: number;
  setupMaxMs: number;
  latencySamples: number;
  uasCalls: number[];
  unexpected: number;
  outOfCall: number;
  deadCall: number;
  failures: Record<string, number>;
  /** SIPp error-log events by kind, per SIPp instance. */
  errorKinds: Record<string, Record<string, number>>;
  uacExit: number;
  proxyExit: number;
  loadavg: string;
  pass: boolean;
  why: string;
  dir: string | null;
  errors: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const loadavg = (): string => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Waits until the SIPp ports (and the proxy's, unless `proxyToo` is false) are free. */
async function waitPortsFree(proxyToo = true): Promise<void> {
  const sippAddrs = [...UAS_IPS.map((ip): [string, number] => [ip, SIP_PORT]), [UAC_IP, SIP_PORT] as [string, number]];
  const addrs: [string, number][] = proxyToo ? [[PROXY_IP, PROXY_PORT], ...sippAddrs] : sippAddrs;
  for (let i = 0; i < 100; i++) {
    const busy = addrs.filter(([ip, p]) => udpPortInUse(ip, p));
    if (busy.length === 0) return;
    if (i === 99) throw new Error(`UDP ports still in use: ${busy.map(([ip, p]) => `${ip}:${p}`).join(', ')}`);
    await sleep(100);
  }
}

async function measure(t: Target, rate: number, calls: number, o: Opts): Promise<Point> {
  await waitPortsFree();
  const busyBefore = o.quietWait > 0 ? await waitQuiet(o.quietCores, o.quietWait) : 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sy-sipp-${t.label.replace(/\s+/g, "-")}-${rate}-`));
  const la = loadavg();
  const durS = calls / rate;
  const maxMs = (durS + 120) * 1000;
  const uas: UasHandle[] = [];
  let proxy: ProxyHandle | null = null;
  const errors: string[] = [];
  try {
    // With a warm-up, the proxy's first calls go to UAS of their own (in
    // DIR/warmup); the measured UAS start fresh after them.
    const startUasPair = async (sub: string): Promise<void> => {
      for (const ip of UAS_IPS) uas.push(await startUas(ip, SIP_PORT, path.join(dir, sub, `uas-${ip}`), maxMs, o.sippBuff));
    };
    await startUasPair(o.warmup > 0 ? 'warmup' : '');
    if (t.kind === 'switchyard') {
      proxy = await startSwitchyard({
        cli: o.cli, dir, listenIp: PROXY_IP, listenPort: PROXY_PORT, workers: t.workers, dsList: KAMAILIO_LIST, frTimerMs: o.frTimer, maxMs, route: t.route,
      });
    } else {
      proxy = await startKamailio({
        dir, listenIp: PROXY_IP, listenPort: PROXY_PORT, children: o.kamChildren, frTimerMs: o.frTimer, dsListFile: KAMAILIO_LIST, maxMs,
      });
    }
    if (o.warmup > 0) {
      const w = await runUac({
        dir: path.join(dir, 'warmup', 'uac'), ip: UAC_IP, port: SIP_PORT, proxy: `${PROXY_IP}:${PROXY_PORT}`, calls: o.warmup, rate: o.warmupRate,
        timeoutS: Math.ceil(o.warmup / o.warmupRate + 60), recvTimeoutMs: 10_000, buffSize: o.sippBuff, shortmsg: false,
      });
      for (const u of uas.splice(0)) await stopUas(u);
      if (w.successful !== o.warmup) errors.push(`warm-up: ${w.successful}/${o.warmup} calls successful`);
      await waitPortsFree(false);
      await startUasPair('');
    }
    await sleep(200); // let the start-up settle before the CPU snapshot
    const proc = proxy.pids().length;
    const cpu0 = proxy.cpuTicks();
    const uasCpu0 = uas.reduce((a, u) => a + cpuTicks(u.proc.pid), 0);
    const busy0 = machineBusyTicks();
    const drops0 = { proxy: udpDrops(PROXY_IP, PROXY_PORT), uas: UAS_IPS.reduce((a, ip) => a + udpDrops(ip, SIP_PORT), 0), all: udpBufErrors() };
    const self0 = process.cpuUsage();
    // Sample the UAC's CPU while it runs (its /proc entry is gone once reaped).
    let uacCpu = 0;
    let uacDrops = 0;
    let poll: NodeJS.Timeout | undefined;
    const uac = await runUac({
      dir: path.join(dir, 'uac'), ip: UAC_IP, port: SIP_PORT, proxy: `${PROXY_IP}:${PROXY_PORT}`, calls, rate,
      timeoutS: Math.ceil(durS + 60), recvTimeoutMs: 10_000, buffSize: o.sippBuff,
      onStart: (pid) => {
        poll = setInterval(() => {
          uacCpu = Math.max(uacCpu, cpuTicks(pid));
          uacDrops = Math.max(uacDrops, udpDrops(UAC_IP, SIP_PORT));
        }, 100);
      },
    });
    clearInterval(poll);
    const cpu1 = proxy.cpuTicks();
    const uasCpu1 = uas.reduce((a, u) => a + cpuTicks(u.proc.pid), 0);
    const busy1 = machineBusyTicks();
    const drops1 = { proxy: udpDrops(PROXY_IP, PROXY_PORT), uas: UAS_IPS.reduce((a, ip) => a + udpDrops(ip, SIP_PORT), 0), all: udpBufErrors() };
    const self1 = process.cpuUsage(self0);
    const proxyExit = await proxy.stop();
    proxy = null;
    const uasRes: SippResult[] = [];
    for (const u of uas.splice(0)) uasRes.push(await stopUas(u));
    const tck = ticksPerSecond();
    const wallS = uac.wallMs / 1000;
    const proxyCpuS = (cpu1 - cpu0) / tck;
    const lat = setupLatenciesMs(path.join(dir, 'uac', 'short.log'));
    const retransUas = uasRes.reduce((a, r) => a + r.retransmissions, 0);
    const datagrams = uac.datagrams + uasRes.reduce((a, r) => a + r.datagrams, 0);
    const unexpected = [uac, ...uasRes].reduce((a, r) => a + Object.entries(r.counts).filter(([k]) => k.endsWith('_Unexp')).reduce((s, [, v]) => s + v, 0), 0);
    const failures: Record<string, number> = {};
    for (const [who, r] of [['uac', uac], ...uasRes.map((r, i): [string, SippResult] => [`uas${UAS_IPS[i]!.slice(-2)}`, r])] as [string, SippResult][]) {
      for (const [k, v] of Object.entries(r.failures)) failures[`${who}:${k}`] = v;
      if (r.errorLogBytes > 0) {
        const kinds = Object.entries(r.errorKinds).sort((x, y) => y[1] - x[1]);
        errors.push(`${who} error log ${path.join(r.dir, 'errors.log')}: ${kinds.map(([k, n]) => `${n} x ${k}`).join('; ')}`);
      }
    }
    const created = uac.created || calls;
    const uasFailed = uasRes.reduce((a, r) => a + r.failed, 0);
    const retransmissions = uac.retransmissions + retransUas;
    const p: Point = {
      target: t.label, kind: t.kind, workers: t.workers, rate, calls, wallS,
      created: uac.created,
      successful: uac.successful,
      failed: uac.failed,
      incomplete: Math.max(0, calls - uac.successful - uac.failed),
      uasFailed,
      late180: uac.late180,
      successfulCps: wallS > 0 ? uac.successful / wallS : 0,
      retransUac: uac.retransmissions,
      retransUas,
      retransmissions,
      datagrams,
      msgsPerS: wallS > 0 ? datagrams / wallS : 0,
      msgsPerCall: uac.successful > 0 ? datagrams / uac.successful : 0,
      extraMsgs: datagrams - MSGS_PER_CALL * uac.successful,
      proxyCpuS,
      proxyCpuPer1000: (proxyCpuS / created) * 1000,
      proxyCpuPct: wallS > 0 ? (proxyCpuS / wallS) * 100 : 0,
      proxyProcs: proc,
      sippCpuPct: wallS > 0 ? ((uacCpu + uasCpu1 - uasCpu0) / tck / wallS) * 100 : 0,
      otherCpuPct:
        wallS > 0
          ? Math.max(0, ((busy1 - busy0 - (cpu1 - cpu0) - uacCpu - (uasCpu1 - uasCpu0)) / tck - (self1.user + self1.system) / 1e6) / wallS) * 100
          : 0,
      busyBefore,
      noisyAttempts: 0,
      noisy: false,
      dropsProxy: drops1.proxy - drops0.proxy,
      dropsSipp: drops1.uas - drops0.uas + uacDrops,
      dropsMachine: drops1.all - drops0.all,
      setupP50Ms: percentile(lat, 50),
      setupP99Ms: percentile(lat, 99),
      setupMaxMs: lat.length ? lat[lat.length - 1]! : NaN,
      latencySamples: lat.length,
      uasCalls: uasRes.map((r) => r.created),
      unexpected,
      outOfCall: [uac, ...uasRes].reduce((a, r) => a + r.outOfCall, 0),
      deadCall: [uac, ...uasRes].reduce((a, r) => a + r.deadCall, 0),
      failures,
      errorKinds: Object.fromEntries([['uac', uac.errorKinds], ...uasRes.map((r, i) => [`uas${UAS_IPS[i]!.slice(-2)}`, r.errorKinds])]),
      uacExit: uac.exitCode,
      proxyExit,
      loadavg: la,
      pass: false,
      why: '',
      dir,
      errors,
    };
    const why: string[] = [];
    if (p.successful !== calls) why.push(`${p.successful}/${calls} successful`);
    if (p.failed > 0) why.push(`${p.failed} failed`);
    // UAS-side failures are reported (column "UAS failed") but do not fail a
    // step: they are ACK/BYE arriving in the wrong order at the UAS (SIPp
    // aborts the call there, answers the BYE, and the UAC call succeeds),
    // which Kamailio with CHILDREN=2 also does now and then.
    if (p.retransmissions >= 0.01 * calls) why.push(`${p.retransmissions} retransmissions (>= 1%)`);
    p.pass = why.length === 0;
    p.why = why.join(', ');
    if (proxyExit !== 0) errors.push(`proxy exit code ${proxyExit} after SIGTERM`);
    const anomalies = !p.pass || errors.length > 0 || p.unexpected > 0 || p.retransmissions > 0;
    if (!o.keep) {
      fs.rmSync(path.join(dir, 'uac', 'short.log'), { force: true });
      if (!anomalies) {
        fs.rmSync(dir, { recursive: true, force: true });
        p.dir = null;
      }
    }
    return p;
  } finally {
    if (proxy) await proxy.stop();
    for (const u of uas) await stopUas(u, 3000);
  }
}


/**
 * measure(), re-run while the machine was noisy (other processes used more
 * than --noisy-pct % of a core during the point), at most --noisy-retries
 * times; returns the least noisy run, with the noisy attempts counted.
 */
async function measureClean(t: Target, rate: number, calls: number, o: Opts, log: (s: string) => void): Promise<Point> {
  let best: Point | null = null;
  let runs = 0;
  for (let attempt = 0; attempt <= o.noisyRetries; attempt++) {
    const p = await measure(t, rate, calls, o);
    runs++;
    p.noisy = p.otherCpuPct > o.noisyPct;
    if (best === null || p.otherCpuPct < best.otherCpuPct) best = p;
    if (!p.noisy) break;
    if (attempt < o.noisyRetries) log(`    (noisy: other processes used ${Math.round(p.otherCpuPct)}% of a core; running the point again)`);
  }
  best!.noisyAttempts = runs - 1;
  return best!;
}

// ---------------------------------------------------------------------------

interface Opts {
  targets: Target[];
  rate: number;
  calls: number;
  repeat: number;
  /** Warm-up calls through each fresh proxy before the measured run (0 = none). */
  warmup: number;
  warmupRate: number;
  ramp: boolean;
  rampStart: number;
  rampStep: number;
  rampMax: number;
  rampSeconds: number;
  rampRetries: number;
  maxTimeS: number;
  frTimer: number;
  kamChildren: number;
  quietWait: number;
  quietCores: number;
  noisyPct: number;
  noisyRetries: number;
  /** SIPp -buff_size, bytes. */
  sippBuff: number;
  /** switchyard CLI of the build snapshot taken at start. */
  cli?: string;
  out: string | null;
  note: string | null;
  results: boolean;
  keep: boolean;
}

function parse(argv: string[]): Opts {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', default: 'both' },
      workers: { type: 'string', default: '0,1,2' },
      routes: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      calls: { type: 'string', default: '10000' },
      repeat: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '0' },
      'warmup-rate': { type: 'string', default: '1000' },
      ramp: { type: 'boolean', default: false },
      'ramp-start': { type: 'string', default: '500' },
      'ramp-step': { type: 'string', default: '500' },
      'ramp-max': { type: 'string', default: '8000' },
      'ramp-seconds': { type: 'string', default: '5' },
      'ramp-retries': { type: 'string', default: '1' },
      'max-time': { type: 'string', default: '1200' },
      'fr-timer': { type: 'string', default: '2000' },
      'kam-children': { type: 'string', default: '2' },
      'quiet-wait': { type: 'string', default: '60' },
      'quiet-cores': { type: 'string', default: '0.3' },
      'noisy-pct': { type: 'string', default: '25' },
      'noisy-retries': { type: 'string', default: '2' },
      'sipp-buff': { type: 'string', default: String(SIPP_BUFF_SIZE) },
      out: { type: 'string' },
      note: { type: 'string' },
      'no-results': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (v.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (name: string, s: string, min: number): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(s)}`);
    return n;
  };
  if (!(Number(v['quiet-cores']) > 0)) throw new RangeError(`--quiet-cores must be a number > 0, got ${v['quiet-cores']}`);
  if (!['switchyard', 'kamailio', 'both'].includes(v.target!)) throw new RangeError(`--target must be switchyard, kamailio or both, got ${v.target}`);
  const workers = v.workers!.split(',').map((w) => int('workers', w.trim(), 0));
  const targets: Target[] = [];
  // --routes sbc,bench/routes/plain-relay.js: every worker count with each route (what the dispatcher costs).
  const routes = (v.routes ?? 'sbc').split(',').map((r) => r.trim()).filter(Boolean);
  if (v.target !== 'kamailio') {
    for (const r of routes) {
      const route = r === 'sbc' || r === 'router' ? r : path.resolve(r);
      const suffix = r === 'sbc' ? '' : ` ${path.basename(r).replace(/\.js$/, '')}`;
      for (const w of workers) targets.push({ kind: 'switchyard', workers: w, label: `switchyard w${w}${suffix}`, route });
    }
  }
  if (v.target !== 'switchyard') targets.push({ kind: 'kamailio', workers: 0, label: `kamailio c${v['kam-children']}` });
  const o: Opts = {
    targets,
    rate: int('rate', v.rate!, 1),
    calls: int('calls', v.calls!, 1),
    repeat: int('repeat', v.repeat!, 1),
    warmup: int('warmup', v.warmup!, 0),
    warmupRate: int('warmup-rate', v['warmup-rate']!, 1),
    ramp: v.ramp!,
    rampStart: int('ramp-start', v['ramp-start']!, 1),
    rampStep: int('ramp-step', v['ramp-step']!, 1),
    rampMax: int('ramp-max', v['ramp-max']!, 1),
    rampSeconds: int('ramp-seconds', v['ramp-seconds']!, 1),
    rampRetries: int('ramp-retries', v['ramp-retries']!, 0),
    maxTimeS: int('max-time', v['max-time']!, 1),
    frTimer: int('fr-timer', v['fr-timer']!, 100),
    kamChildren: int('kam-children', v['kam-children']!, 1),
    quietWait: int('quiet-wait', v['quiet-wait']!, 0),
    quietCores: Number(v['quiet-cores']),
    noisyPct: int('noisy-pct', v['noisy-pct']!, 0),
    noisyRetries: int('noisy-retries', v['noisy-retries']!, 0),
    sippBuff: int('sipp-buff', v['sipp-buff']!, 1024),
    out: v.out ?? null,
    note: v.note ?? null,
    results: !v['no-results'],
    keep: v.keep!,
  };
  return o;
}

// ---------------------------------------------------------------------------
// Output

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '-');

function pointTable(points: Point[]): string {
  const head =
    '| target | rate (calls/s) | calls | successful | failed | UAS failed | successful calls/s | retrans (UAC+UAS) | UDP drops proxy/SIPp | SIP msgs/s at proxy | msgs/call | proxy CPU s / 1,000 calls | proxy CPU % | setup p50 ms | setup p99 ms | UAS .2/.3 calls | SIPp CPU % | other CPU % | load avg | notes |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n';
  return (
    head +
    points
      .map((p) => {
        const notes: string[] = [];
        if (p.incomplete > 0) notes.push(`${p.incomplete} incomplete`);
        if (p.late180 > 0) notes.push(`${p.late180} late 180s (after the 200)`);
        if (p.unexpected > 0) notes.push(`${p.unexpected} unexpected msgs at SIPp`);
        if (p.outOfCall + p.deadCall > 0) notes.push(`${p.outOfCall} out-of-call, ${p.deadCall} dead-call msgs`);
        if (p.noisy) notes.push('NOISY (other processes were busy)');
        if (p.noisyAttempts > 0) notes.push(`kept the least noisy of ${p.noisyAttempts + 1} runs`);
        if (p.proxyExit !== 0) notes.push(`proxy exit ${p.proxyExit}`);
        for (const [k, v] of Object.entries(p.failures)) notes.push(`${k}=${v}`);
        return `| ${p.target} | ${f0(p.rate)} | ${f0(p.calls)} | ${f0(p.successful)} | ${f0(p.failed)} | ${f0(p.uasFailed)} | ${f0(p.successfulCps)} | ${f0(p.retransUac)}+${f0(p.retransUas)} | ${f0(p.dropsProxy)}/${f0(p.dropsSipp)} | ${f0(p.msgsPerS)} | ${f2(p.msgsPerCall)} | ${f3(p.proxyCpuPer1000)} | ${f0(p.proxyCpuPct)} | ${f2(p.setupP50Ms)} | ${f2(p.setupP99Ms)} | ${p.uasCalls.map(f0).join('/')} | ${f0(p.sippCpuPct)} | ${f0(p.otherCpuPct)} | ${p.loadavg} | ${notes.join('; ')} |`;
      })
      .join('\n') +
    '\n'
  );
}

interface RampSummary {
  target: string;
  best: Point | null;
  firstFail: Point | null;
  stoppedBy: string;
}

function rampTable(rs: RampSummary[]): string {
  const head =
    '| target | highest passing rate (calls/s) | successful calls/s there | SIP msgs/s there | proxy CPU % there | proxy CPU s / 1,000 calls there | setup p99 ms there | first failing rate | why it failed |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---|\n';
  return (
    head +
    rs
      .map((r) => {
        const b = r.best;
        const fl = r.firstFail;
        return `| ${r.target} | ${b ? f0(b.rate) : 'none'} | ${b ? f0(b.successfulCps) : '-'} | ${b ? f0(b.msgsPerS) : '-'} | ${b ? f0(b.proxyCpuPct) : '-'} | ${b ? f3(b.proxyCpuPer1000) : '-'} | ${b ? f2(b.setupP99Ms) : '-'} | ${fl ? f0(fl.rate) : `none (${r.stoppedBy})`} | ${fl ? fl.why : ''} |`;
      })
      .join('\n') +
    '\n'
  );
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`;
}

function appendResults(block: string): void {
  let text = '';
  try {
    text = fs.readFileSync(RESULTS_MD, 'utf8');
  } catch {
    text = '# Benchmark results\n';
  }
  const i = text.indexOf(`${SECTION}\n`);
  if (i < 0) {
    const intro =
      `${SECTION}\n\n` +
      'Driver: `bench/sipp/run.ts` (`npm run bench:sipp -- ...`). SIPp UAC 127.0.0.4 -> proxy 127.0.0.1:5060 -> two SIPp UAS ' +
      '127.0.0.2:5060 / 127.0.0.3:5060 (dispatcher set 1, alg 0, limit 2, the same list file for both proxies); calls ' +
      'INVITE/100/180/200/ACK/BYE/200 without hold time, ACK and BYE loose-routed (bench/sipp/scenarios/). Each point starts ' +
      'the UAS and the proxy fresh. Kamailio = shared/anchors/kamailio-sbc.cfg (copy in bench/kamailio/), CHILDREN=2, ' +
      'FR_TIMER=2000; switchyard: sbc route, fr_timer = fr_inv_timer = 2000 ms, ds_ping_interval 0.\n\n' +
      'How each column is measured:\n' +
      '- successful calls/s: UAC SuccessfulCall(C) / wall time of the UAC process (start to exit);\n' +
      '- failed: UAC FailedCall(C); "incomplete" = calls neither successful nor failed when the UAC stopped;\n' +
      '- UAS failed: FailedCall(C) of both UAS. Below overload these are ACKs that reached the UAS after the BYE of the same call ' +
      '(the proxy reordered them): SIPp\'s UAS answers the BYE and aborts its side, the UAC call still succeeds; under overload ' +
      'also late retransmissions (see the error-log lists). Not counted ' +
      'as a failure by the ramp (pass/fail is judged at the UAC), listed under each table;\n' +
      '- late 180s (notes): a 180 that reached the UAC after the 200 of its call (the proxy reordered them). The UAC scenario ' +
      'accepts it (an optional 180 before the BYE\'s 200; the lab scenario aborted the call) and counts it;\n' +
      '- retrans: SIPp Retransmissions(C) = retransmissions sent by the UAC (INVITE, BYE) + by both UAS (200 to INVITE);\n' +
      '- UDP drops proxy/SIPp: datagrams the kernel dropped because a receive buffer was full, from the `drops` column of ' +
      '/proc/net/udp for the proxy\'s socket(s) and for the UAC+UAS sockets (the proxies keep their own buffer settings; SIPp ' +
      'runs with -buff_size 4 MiB, see each entry, because with SIPp\'s default of 64 KiB its own sockets overflow first);\n' +
      '- SIP msgs/s at proxy: every datagram sent or received by the three SIPp instances (-trace_counts Sent/Retrans/Recv/Unexp ' +
      '+ out-of-call + dead-call + 2 x auto-answered) / wall time. Each passes the proxy once, so this is proxy in + out; a clean ' +
      'call is 13 (6 in: INVITE, 180, 200, ACK, BYE, 200; 7 out: 100, INVITE, 180, 200, ACK, BYE, 200); Kamailio adds its OPTIONS pings;\n' +
      '- proxy CPU: utime+stime from /proc/PID/stat over the UAC run (switchyard: the process, all threads; Kamailio: all ' +
      'processes of its process group), per 1,000 calls and as % of one core;\n' +
      '- setup p50/p99: INVITE sent -> 200 received at the UAC, per call, from -trace_shortmsg µs timestamps (SIPp\'s own ' +
      '-trace_rtt has 1 ms resolution);\n' +
      '- SIPp CPU %: UAC + both UAS, % of one core (the harness shares the machine with the proxy);\n' +
      '- other CPU %: CPU used by every other process on the machine during the point (/proc/stat busy minus proxy, SIPp ' +
      'and the driver), % of one core: other engineers\' builds and tests share this machine, so a point with a high value is noisy. ' +
      'Before each point the driver waits (up to --quiet-wait s) for less than --quiet-cores cores busy;\n' +
      '- load avg: /proc/loadavg (1, 5, 15 min) just before the point.\n';
    text = `${text.replace(/\s*$/, '\n')}\n${intro}\n${block}`;
  } else {
    const j = text.indexOf('\n## ', i + SECTION.length);
    const end = j < 0 ? text.length : j + 1;
    const before = text.slice(0, end).replace(/\s*$/, '\n');
    text = `${before}\n${block}${j < 0 ? '' : `\n${text.slice(end)}`}`;
  }
  fs.writeFileSync(RESULTS_MD, text);
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const sipp = sippVersion();
  if (!sipp) throw new Error('sipp is not installed (Debian: apt-get install sip-tester)');
  const kam = o.targets.some((t) => t.kind === 'kamailio') ? kamailioVersion() : null;
  if (o.targets.some((t) => t.kind === 'kamailio') && !kam) throw new Error('kamailio is not installed');
  const started = new Date();
  let build = '';
  let snapDir = '';
  if (o.targets.some((t) => t.kind === 'switchyard')) {
    snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-sipp-build-'));
    const snap = snapshotSwitchyard(snapDir);
    o.cli = snap.cli;
    build = snap.sha1.slice(0, 12);
  }
  const la0 = loadavg();
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  log(`bench:sipp ${o.targets.map((t) => t.label).join(', ')}; load average ${la0}`);

  const points: Point[] = [];
  const ramp: RampSummary[] = [];
  const show = (p: Point): void =>
    log(
      `  ${p.target.padEnd(14)} ${String(p.rate).padStart(5)} cps x ${p.calls}: ok ${p.successful} failed ${p.failed}` +
        ` ${f0(p.successfulCps)} calls/s, retrans ${p.retransUac}+${p.retransUas}, drops ${p.dropsProxy}/${p.dropsSipp}, ${f0(p.msgsPerS)} msgs/s,` +
        ` CPU ${f3(p.proxyCpuPer1000)} s/1000 (${f0(p.proxyCpuPct)}%), others ${f0(p.otherCpuPct)}%, p50 ${f2(p.setupP50Ms)} p99 ${f2(p.setupP99Ms)} ms` +
        `${p.pass ? '' : ` FAIL: ${p.why}`}${p.dir ? ` [${p.dir}]` : ''}`,
    );

  if (!o.ramp) {
    for (let r = 0; r < o.repeat; r++) {
      for (const t of o.targets) {
        const p = await measureClean(t, o.rate, o.calls, o, log);
        show(p);
        for (const e of p.errors) log(`    ${e.split('\n').join('\n    ')}`);
        points.push(p);
      }
    }
  } else {
    const deadline = Date.now() + o.maxTimeS * 1000;
    const alive = new Map(o.targets.map((t) => [t.label, { t, best: null as Point | null, fail: null as Point | null }]));
    let stoppedBy = `ramp-max ${o.rampMax}`;
    for (let rate = o.rampStart; rate <= o.rampMax; rate += o.rampStep) {
      const running = [...alive.values()].filter((a) => a.fail === null);
      if (running.length === 0) break;
      if (Date.now() > deadline) {
        stoppedBy = `max-time ${o.maxTimeS} s`;
        break;
      }
      for (const a of running) {
        let p: Point | null = null;
        for (let attempt = 0; attempt <= o.rampRetries; attempt++) {
          p = await measureClean(a.t, rate, rate * o.rampSeconds, o, log);
          show(p);
          for (const e of p.errors) log(`    ${e.split('\n').join('\n    ')}`);
          points.push(p);
          if (p.pass) break;
        }
        if (p!.pass) a.best = p;
        else a.fail = p;
      }
    }
    for (const a of alive.values()) ramp.push({ target: a.t.label, best: a.best, firstFail: a.fail, stoppedBy });
  }

  const la1 = loadavg();
  const cmd = `node dist/bench/sipp/run.js ${process.argv.slice(2).join(' ')}`.trim();
  const commit = sh('git', ['rev-parse', '--short', 'HEAD']);
  const changed = sh('git', ['status', '--porcelain', '--', 'src', 'native']).split('\n').filter((l) => l.trim() !== '').length;
  const dirty = changed > 0 ? ` + ${changed} uncommitted file(s) under src/ and native/ (other engineers' work in progress)` : '';
  let block =
    `### ${started.toISOString()} — ${o.ramp ? 'ramp' : `${o.rate} calls/s x ${o.calls}`}\n\n` +
    `- command: \`${cmd}\`\n` +
    `- git commit: ${commit || 'unknown'}${dirty}\n` +
    (build ? `- switchyard build measured: a copy of dist/src + build/Release/switchyard.node taken at the start, sha1 ${build}\n` : '') +
    `- machine: ${machine()}\n` +
    `- Node ${process.version}, ${sipp}, ${kam ?? 'Kamailio not run'}\n` +
    `- load average (1/5/15 min): ${la0} at start, ${la1} at end\n` +
    `- SIPp -buff_size ${o.sippBuff}; proxies: fr_timer ${o.frTimer} ms${o.targets.some((t) => t.kind === 'kamailio') ? `, Kamailio CHILDREN=${o.kamChildren}` : ''}\n` +
    (o.note ? `- note: ${o.note}\n` : '') +
    '\n';
  if (o.ramp) {
    block +=
      `Ramp: ${o.rampStart}, +${o.rampStep} ... up to ${o.rampMax} calls/s, ${o.rampSeconds} s per step, a target drops out at its ` +
      `first failing step after ${o.rampRetries} re-run(s); pass = all calls successful and 0 failed at the UAC, retransmissions (UAC+UAS) < 1% of calls (UAS-side failures are reported, not counted).\n\n` +
      rampTable(ramp) +
      '\nAll steps:\n\n';
  }
  block += pointTable(points);
  const anomalies = points.filter((p) => Object.values(p.errorKinds).some((k) => Object.keys(k).length > 0) || p.errors.some((e) => !e.includes('error log')));
  if (anomalies.length > 0) {
    block += '\nSIPp error logs (-trace_err), events by kind:\n\n';
    for (const p of anomalies) {
      const parts: string[] = [];
      for (const [who, kinds] of Object.entries(p.errorKinds)) {
        for (const [k, n] of Object.entries(kinds).sort((x, y) => y[1] - x[1])) parts.push(`${who}: ${n} x "${k.replace(/\|/g, '\\|')}"`);
      }
      for (const e of p.errors) if (!e.includes('error log')) parts.push(e);
      block += `- ${p.target} @ ${p.rate} calls/s: ${parts.join('; ')}\n`;
    }
  }
  const table = block;
  process.stdout.write(`\n${table}\n`);
  if (snapDir) fs.rmSync(snapDir, { recursive: true, force: true });
  if (o.out) fs.writeFileSync(o.out, JSON.stringify({ command: cmd, started: started.toISOString(), commit, build, machine: machine(), node: process.version, sipp, kamailio: kam, loadavg: [la0, la1], points, ramp }, null, 2));
  if (o.results) {
    appendResults(block);
    log(`appended to ${path.relative(process.cwd(), RESULTS_MD) || RESULTS_MD}`);
  }
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  killAll();
  process.exit(143);
});

main().then(
  () => process.exit(0),
  (err: unknown) => {
    killAll();
    process.stderr.write(`bench:sipp: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
