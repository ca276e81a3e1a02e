/**
 * SIPp harness shared by bench/sipp/run.ts and test/sipp/relay-1000.test.ts.
 *
 * Processes: SIPp UAS instances (bench/sipp/scenarios/uas.xml), a proxy under
 * test (switchyard or Kamailio), and one SIPp UAC (scenarios/uac.xml) that
 * places a fixed number of calls at a fixed rate with no hold time. Every
 * process is spawned in its own process group (detached) with a hard
 * `timeout`-style deadline, and stopped by signalling that group only.
 *
 * What is read back, and from where:
 * - calls: SIPp `-trace_stat -stf FILE -fd 1`, last row (cumulative "(C)"
 *   columns); SIPp writes a final row when it exits.
 * - retransmissions: Retransmissions(C) of the stat file = retransmissions
 *   *sent* by that SIPp (UAC: INVITE/BYE; UAS: 200 to INVITE).
 * - datagrams at SIPp: `-trace_counts` (per scenario element Sent, Retrans,
 *   Recv, Unexp) + OutOfCallMsgs + DeadCallMsgs + 2 x AutoAnswered. Every
 *   datagram the proxy receives was sent by a SIPp and every datagram it sends
 *   is received by one, so the sum over UAC and UAS instances is the number of
 *   SIP messages through the proxy (in + out), minus any lost in socket buffers.
 * - call-setup latency: UAC `-trace_shortmsg` (µs timestamps), per Call-ID the
 *   first INVITE sent -> the first 200 to the INVITE received. SIPp's own
 *   `-trace_rtt` only has 1 ms resolution, too coarse on loopback.
 * - CPU: utime+stime from /proc/PID/stat (the process and all its threads);
 *   for a process group (Kamailio's forked children) summed over its members.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root (this file runs from dist/bench/sipp/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SCENARIOS = path.join(ROOT, 'bench', 'sipp', 'scenarios');
export const UAC_XML = path.join(SCENARIOS, 'uac.xml');
export const UAS_XML = path.join(SCENARIOS, 'uas.xml');
export const SWITCHYARD_CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
export const KAMAILIO_CFG = path.join(ROOT, 'bench', 'kamailio', 'kamailio-sbc.cfg');
export const KAMAILIO_LIST = path.join(ROOT, 'bench', 'kamailio', 'kamailio-dispatcher.list');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// Tools

/** `sipp -v` first line, or null when SIPp is not installed. */
export function sippVersion(): string | null {
  const r = spawnSync('sipp', ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return null;
  const m = /SIPp v?[^\s]+/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[0] : 'SIPp (unknown version)';
}

/** `kamailio -v` version, or null when Kamailio is not installed. */
export function kamailioVersion(): string | null {
  const r = spawnSync('kamailio', ['-v'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return null;
  const m = /kamailio\s+(\S+)/.exec(r.stdout);
  return m ? `kamailio ${m[1]}` : 'kamailio (unknown version)';
}

// ---------------------------------------------------------------------------
// Processes (one process group each)

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or 128+signal) when the process exits. */
  readonly exited: Promise<number>;
  exitCode: number | null;
  /** Hard deadline timer (SIGKILL to the group). */
  deadline: NodeJS.Timeout;
}

const live = new Set<Proc>();

/**
 * Spawns `cmd args` detached (its own process group), stdout+stderr to
 * `logFile`, killed with SIGKILL (whole group) after `maxMs`.
 */
export function startProc(name: string, cmd: string, args: readonly string[], opts: { cwd: string; logFile: string; maxMs: number }): Proc {
  const fd = fs.openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: spawn ${cmd} failed`);
  const pid = child.pid;
  const p: Proc = {
    name,
    child,
    pid,
    exitCode: null,
    exited: new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (code, signal) => {
        const c = code ?? 128 + (signal ? (os_signals[signal] ?? 0) : 0);
        p.exitCode = c;
        clearTimeout(p.deadline);
        live.delete(p);
        resolve(c);
      });
    }),
    deadline: setTimeout(() => killGroup(pid, 'SIGKILL'), opts.maxMs),
  };
  p.deadline.unref();
  live.add(p);
  return p;
}

const os_signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGTERM: 15 };

/** Signals a whole process group (ignores ESRCH). */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/** Signals one process (ignores ESRCH). */
function killOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Stops `p`: `signal` to the process, then SIGKILL to its group after
 * `graceMs`. Resolves with the exit code of the (leader) process.
 */
export async function stopProc(p: Proc, signal: NodeJS.Signals, graceMs: number): Promise<number> {
  if (p.exitCode !== null) {
    killGroup(p.pid, 'SIGKILL'); // leftovers of the group, if any
    return p.exitCode;
  }
  killOne(p.pid, signal);
  const t = setTimeout(() => killGroup(p.pid, 'SIGKILL'), graceMs);
  const code = await p.exited;
  clearTimeout(t);
  killGroup(p.pid, 'SIGKILL');
  return code;
}

/** SIGKILLs every process group this module started and that is still running. */
export function killAll(): void {
  for (const p of live) killGroup(p.pid, 'SIGKILL');
}

// Last resort: never leave SIPp/Kamailio behind if the driver dies.
process.once('exit', killAll);

// ---------------------------------------------------------------------------
// CPU from /proc

/** utime+stime of one process (all its threads), in clock ticks; 0 if gone. */
export function cpuTicks(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": [0]=state (field 3) ... utime = field 14, stime = field 15
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Pids whose process group is `pgid`. */
export function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) out.push(Number(d)); // field 5 = pgrp
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

/** utime+stime summed over a process group, in clock ticks. */
export function groupCpuTicks(pgid: number): number {
  return groupPids(pgid).reduce((a, pid) => a + cpuTicks(pid), 0);
}

/** Busy CPU ticks of the whole machine (all CPUs, /proc/stat: total - idle - iowait). */
export function machineBusyTicks(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - f[3]! - f[4]!;
}

/**
 * Waits until the machine is quiet: busy CPU (all processes) below
 * `maxBusyCores` over a 1 s window, for at most `maxWaitS`. Returns the busy
 * cores of the last window.
 */
export async function waitQuiet(maxBusyCores: number, maxWaitS: number): Promise<number> {
  const end = Date.now() + maxWaitS * 1000;
  let busy = 0;
  do {
    const b0 = machineBusyTicks();
    await sleep(1000);
    busy = (machineBusyTicks() - b0) / ticksPerSecond();
    if (busy < maxBusyCores) return busy;
  } while (Date.now() < end);
  return busy;
}

let clkTck = 0;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux). */
export function ticksPerSecond(): number {
  if (clkTck === 0) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clkTck = Number(r.stdout?.trim()) || 100;
  }
  return clkTck;
}

// ---------------------------------------------------------------------------
// Readiness: an OPTIONS to the proxy itself (both the sbc route and the
// Kamailio anchor answer 200 to OPTIONS for myself without a user part).

export async function waitForSip(host: string, port: number, fromIp: string, maxMs: number, alive: () => boolean = () => true): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, fromIp, () => resolve());
  });
  const lport = sock.address().port;
  let got = false;
  sock.on('message', () => {
    got = true;
  });
  try {
    const end = Date.now() + maxMs;
    for (let i = 0; !got && Date.now() < end; i++) {
      if (!alive()) throw new Error(`proxy exited before answering OPTIONS on ${host}:${port}`);
      const msg =
        `OPTIONS sip:${host}:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP ${fromIp}:${lport};branch=z9hG4bK-ready-${process.pid}-${i}\r\n` +
        `From: <sip:ready@${fromIp}>;tag=r${i}\r\nTo: <sip:${host}:${port}>\r\n` +
        `Call-ID: ready-${process.pid}-${i}@${fromIp}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      sock.send(msg, port, host);
      await sleep(100);
    }
    if (!got) throw new Error(`no reply to OPTIONS from ${host}:${port} within ${maxMs} ms`);
  } finally {
    sock.close();
  }
}

/**
 * Datagrams dropped by the kernel on the UDP sockets bound to ip:port
 * (receive buffer full), from the `drops` column of /proc/net/udp; summed over
 * every socket with that local address (SO_REUSEPORT, Kamailio's children).
 */
export function udpDrops(ip: string, port: number): number {
  const want = `${hexAddr(ip)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const l of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f[1] === want) n += Number(f[f.length - 1]) || 0;
  }
  return n;
}

/** Machine-wide UDP RcvbufErrors + SndbufErrors (/proc/net/snmp). */
export function udpBufErrors(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const head = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return (Number(vals[head.indexOf('RcvbufErrors')]) || 0) + (Number(vals[head.indexOf('SndbufErrors')]) || 0);
}

function hexAddr(ip: string): string {
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** True if something is bound to udp ip:port (from /proc/net/udp). */
export function udpPortInUse(ip: string, port: number): boolean {
  const hexIp = hexAddr(ip);
  const want = `${hexIp}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const any = `00000000:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const text = fs.readFileSync('/proc/net/udp', 'utf8');
  return text.split('\n').some((l) => {
    const local = l.trim().split(/\s+/)[1];
    return local === want || local === any;
  });
}

// ---------------------------------------------------------------------------
// Proxies

export interface ProxyHandle {
  readonly kind: 'switchyard' | 'kamailio';
  readonly proc: Proc;
  /** CPU ticks of the proxy (all threads / all processes). */
  cpuTicks(): number;
  /** Processes counted by cpuTicks(). */
  pids(): number[];
  /** SIGTERM, wait; resolves with the exit code. */
  stop(): Promise<number>;
}

/**
 * Copies the built product (dist/src, build/Release/switchyard.node,
 * package.json; node_modules symlinked) to `dir`, so that a benchmark run
 * measures one build even while dist/ is being recompiled by someone else.
 * Returns the CLI path in the copy and a sha1 over the copied files.
 */
export function snapshotSwitchyard(dir: string): { cli: string; sha1: string } {
  const h = createHash('sha1');
  const copyTree = (from: string, to: string): void => {
    fs.mkdirSync(to, { recursive: true });
    for (const e of fs.readdirSync(from, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const src = path.join(from, e.name);
      const dst = path.join(to, e.name);
      if (e.isDirectory()) copyTree(src, dst);
      else if (e.isFile() && e.name.endsWith('.js')) {
        const b = fs.readFileSync(src);
        h.update(path.relative(ROOT, src)).update(b);
        fs.writeFileSync(dst, b);
      }
    }
  };
  copyTree(path.join(ROOT, 'dist', 'src'), path.join(dir, 'dist', 'src'));
  const addon = path.join(ROOT, 'build', 'Release', 'switchyard.node');
  if (fs.existsSync(addon)) {
    fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
    const b = fs.readFileSync(addon);
    h.update('switchyard.node').update(b);
    fs.writeFileSync(path.join(dir, 'build', 'Release', 'switchyard.node'), b);
  }
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return { cli: path.join(dir, 'dist', 'src', 'cli.js'), sha1: h.digest('hex') };
}

export interface SwitchyardOptions {
  /** CLI to run (default dist/src/cli.js of this checkout). */
  cli?: string;
  dir: string;
  listenIp: string;
  listenPort: number;
  workers: number;
  /** Absolute path of a dispatcher.list, or inline list text (`inline: true`). */
  dsList: string;
  inline?: boolean;
  frTimerMs: number;
  logLevel?: string;
  maxMs: number;
  /** Route script: `sbc` (default), `router` or a module path. */
  route?: string;
}

/**
 * The node flags of the CLI's `#!/usr/bin/env -S node ...` line, so the
 * proxy runs with the V8 settings the `switchyard` command (and `npm start`)
 * gives it, e.g. its young generation size.
 */
export function shebangFlags(cli: string): string[] {
  const first = fs.readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!.*\bnode\b(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** Starts `node dist/src/cli.js --config DIR/switchyard.yaml` and waits until it answers OPTIONS. */
export async function startSwitchyard(o: SwitchyardOptions): Promise<ProxyHandle> {
  const cfg = path.join(o.dir, 'switchyard.yaml');
  const list = o.inline
    ? `  list: ${JSON.stringify(o.dsList)}\n`
    : `  list_file: ${JSON.stringify(o.dsList)}\n`;
  fs.writeFileSync(
    cfg,
    `listen: udp:${o.listenIp}:${o.listenPort}\n` +
      `workers: ${o.workers}\n` +
      `route: ${JSON.stringify(o.route ?? 'sbc')}\n` +
      `log_level: ${o.logLevel ?? 'warn'}\n` +
      `tm:\n  fr_timer: ${o.frTimerMs}\n  fr_inv_timer: ${o.frTimerMs}\n` +
      `dispatcher:\n${list}  ds_ping_interval: 0\n  set: 1\n  alg: 0\n  limit: 2\n` +
      `http:\n  listen: null\n`,
  );
  const cli = o.cli ?? SWITCHYARD_CLI;
  // BENCH_PROXY_NODE_FLAGS: extra node flags for the proxy only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const extra = (process.env.BENCH_PROXY_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const proc = startProc('switchyard', process.execPath, [...shebangFlags(cli), ...extra, cli, '--config', cfg], {
    cwd: o.dir,
    logFile: path.join(o.dir, 'switchyard.log'),
    maxMs: o.maxMs,
  });
  const h: ProxyHandle = {
    kind: 'switchyard',
    proc,
    cpuTicks: () => cpuTicks(proc.pid),
    pids: () => [proc.pid],
    stop: () => stopProc(proc, 'SIGTERM', 10_000),
  };
  try {
    await waitForSip(o.listenIp, o.listenPort, '127.0.0.1', 15_000, () => proc.exitCode === null);
  } catch (err) {
    await h.stop();
    throw new Error(`switchyard did not start: ${(err as Error).message}; log: ${tail(path.join(o.dir, 'switchyard.log'))}`);
  }
  return h;
}

export interface KamailioOptions {
  dir: string;
  listenIp: string;
  listenPort: number;
  children: number;
  frTimerMs: number;
  dsListFile: string;
  maxMs: number;
}

/** Starts the anchor (bench/kamailio/kamailio-sbc.cfg) with -DD -E and waits until it answers OPTIONS. */
export async function startKamailio(o: KamailioOptions): Promise<ProxyHandle> {
  const rundir = path.join(o.dir, 'kamailio-run');
  fs.mkdirSync(rundir, { recursive: true });
  const args = [
    '-f', KAMAILIO_CFG, '-DD', '-E', '-m', '512', '-M', '16', '-P', path.join(rundir, 'kamailio.pid'),
    '-A', `CHILDREN=${o.children}`,
    '-A', `FR_TIMER=${o.frTimerMs}`,
    '-A', `DS_LIST="${o.dsListFile}"`,
    '-A', `RUNDIR="${rundir}"`,
    '-A', `CTL_SOCK="unix:${rundir}/ctl.sock"`,
    '-A', `LISTEN=udp:${o.listenIp}:${o.listenPort}`,
  ];
  const proc = startProc('kamailio', 'kamailio', args, { cwd: o.dir, logFile: path.join(o.dir, 'kamailio.log'), maxMs: o.maxMs });
  const h: ProxyHandle = {
    kind: 'kamailio',
    proc,
    cpuTicks: () => groupCpuTicks(proc.pid),
    pids: () => groupPids(proc.pid),
    stop: () => stopProc(proc, 'SIGTERM', 10_000),
  };
  try {
    await waitForSip(o.listenIp, o.listenPort, '127.0.0.1', 15_000, () => proc.exitCode === null);
  } catch (err) {
    await h.stop();
    throw new Error(`kamailio did not start: ${(err as Error).message}; log: ${tail(path.join(o.dir, 'kamailio.log'))}`);
  }
  return h;
}

function tail(file: string, n = 2000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-n);
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------
// SIPp

/**
 * SIPp socket buffer (-buff_size, bytes; SIPp's default is 65,535). With the
 * default the UAC/UAS sockets overflow from ~1,750 calls/s on a 2-core box and
 * the harness, not the proxy, causes the retransmissions. The kernel caps it at
 * net.core.rmem_max / wmem_max.
 */
export const SIPP_BUFF_SIZE = 4 * 1024 * 1024;

export interface UasHandle {
  readonly ip: string;
  readonly port: number;
  readonly dir: string;
  readonly proc: Proc;
}

/** Starts a SIPp UAS (uas.xml) on ip:port, outputs in `dir`. */
export async function startUas(ip: string, port: number, dir: string, maxMs: number, buffSize = SIPP_BUFF_SIZE): Promise<UasHandle> {
  fs.mkdirSync(dir, { recursive: true });
  const args = [
    '-sf', UAS_XML, '-i', ip, '-p', String(port), '-bind_local', '-nostdin', '-aa', '-buff_size', String(buffSize),
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1',
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
    '-trace_counts',
  ];
  const proc = startProc(`sipp-uas-${ip}`, 'sipp', args, { cwd: dir, logFile: path.join(dir, 'screen.log'), maxMs });
  // SIPp binds synchronously at start; give it a moment and check it is alive.
  for (let i = 0; i < 50 && !udpPortInUse(ip, port); i++) {
    if (proc.exitCode !== null) break;
    await sleep(20);
  }
  if (proc.exitCode !== null || !udpPortInUse(ip, port)) {
    await stopProc(proc, 'SIGKILL', 1000);
    throw new Error(`SIPp UAS on ${ip}:${port} did not start: ${tail(path.join(dir, 'screen.log'))}`);
  }
  return { ip, port, dir, proc };
}

/**
 * Stops a UAS gracefully (SIGUSR1: no new calls, finish the open ones, write
 * the final stat row and exit); SIGKILL after `graceMs`.
 */
export async function stopUas(u: UasHandle, graceMs = 8000): Promise<SippResult> {
  const code = await stopProc(u.proc, 'SIGUSR1', graceMs);
  return readSippDir(u.dir, code, 0);
}

export interface UacOptions {
  dir: string;
  ip: string;
  port: number;
  proxy: string;
  calls: number;
  rate: number;
  /** SIPp -timeout, s. */
  timeoutS: number;
  /** SIPp -recv_timeout, ms (a lost call fails after this instead of ~32 s). */
  recvTimeoutMs?: number;
  /** Keep the µs message log for latency (default true). */
  shortmsg?: boolean;
  /** Called with the UAC's pid once it runs (e.g. to sample its CPU). */
  onStart?: (pid: number) => void;
  /** SIPp -buff_size (default SIPP_BUFF_SIZE). */
  buffSize?: number;
}

/** Runs the UAC to completion. */
export async function runUac(o: UacOptions): Promise<SippResult> {
  fs.mkdirSync(o.dir, { recursive: true });
  const args = [
    o.proxy, '-sf', UAC_XML, '-i', o.ip, '-p', String(o.port), '-bind_local', '-nostdin', '-buff_size', String(o.buffSize ?? SIPP_BUFF_SIZE),
    '-m', String(o.calls), '-r', String(o.rate), '-rp', '1000',
    '-timeout', `${o.timeoutS}s`,
    '-recv_timeout', String(o.recvTimeoutMs ?? 10_000),
    // no concurrent-call cap below what overload needs (default 3 x rate)
    '-l', String(Math.max(1000, o.rate * 10)),
    '-trace_stat', '-stf', path.join(o.dir, 'stat.csv'), '-fd', '1',
    '-trace_err', '-error_file', path.join(o.dir, 'errors.log'),
    '-trace_counts',
  ];
  if (o.shortmsg !== false) args.push('-trace_shortmsg', '-shortmessage_file', path.join(o.dir, 'short.log'));
  const t0 = process.hrtime.bigint();
  const proc = startProc('sipp-uac', 'sipp', args, { cwd: o.dir, logFile: path.join(o.dir, 'screen.log'), maxMs: (o.timeoutS + 15) * 1000 });
  o.onStart?.(proc.pid);
  const code = await proc.exited;
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  killGroup(proc.pid, 'SIGKILL');
  return readSippDir(o.dir, code, wallMs);
}

export interface SippResult {
  exitCode: number;
  /** Wall time of the process, ms (UAC only; 0 for a UAS). */
  wallMs: number;
  /** Last row of the stat file; empty if none was written. */
  stat: Record<string, string>;
  created: number;
  successful: number;
  failed: number;
  /** Retransmissions sent by this SIPp. */
  retransmissions: number;
  outOfCall: number;
  deadCall: number;
  autoAnswered: number;
  /** Failure causes with a non-zero count (FailedXxx(C)). */
  failures: Record<string, number>;
  /** Datagrams sent + received by this SIPp (see the file comment). */
  datagrams: number;
  /** Per scenario element counters: last row of *_counts.csv. */
  counts: Record<string, number>;
  /** Size of the error log (unexpected messages etc.), bytes. */
  errorLogBytes: number;
  errorLog: string;
  /** Error-log events grouped by kind (Call-IDs and numbers blanked), with counts. */
  errorKinds: Record<string, number>;
  /** UAC: 180s received after the 200 (the optional 180 before the BYE's 200 in uac.xml). */
  late180: number;
  dir: string;
}

/** Parses SIPp's stat file (last row), counts file and error log in `dir`. */
export function readSippDir(dir: string, exitCode: number, wallMs: number): SippResult {
  const stat = lastCsvRow(path.join(dir, 'stat.csv'));
  const num = (k: string): number => Number(stat[k] ?? 0) || 0;
  const countsFile = fs.readdirSync(dir).find((f) => f.endsWith('_counts.csv'));
  const countsRaw = countsFile ? lastCsvRow(path.join(dir, countsFile)) : {};
  const counts: Record<string, number> = {};
  let scenarioMsgs = 0;
  for (const [k, v] of Object.entries(countsRaw)) {
    if (k === 'CurrentTime' || k === 'ElapsedTime' || k === '') continue;
    counts[k] = Number(v) || 0;
    if (/_(Sent|Retrans|Recv|Unexp)$/.test(k)) scenarioMsgs += counts[k]!;
  }
  const failures: Record<string, number> = {};
  for (const [k, v] of Object.entries(stat)) {
    const m = /^Failed(.+)\(C\)$/.exec(k); // FailedXxx(C) causes; FailedCall(C) is their total
    if (m && m[1] !== 'Call' && Number(v) > 0) failures[m[1]!] = Number(v);
  }
  const errorFile = path.join(dir, 'errors.log');
  let errorLog = '';
  let errorLogBytes = 0;
  let errorKinds: Record<string, number> = {};
  try {
    errorLogBytes = fs.statSync(errorFile).size;
    const full = fs.readFileSync(errorFile, 'utf8');
    errorLog = full.slice(0, 4000);
    errorKinds = errorEventKinds(full);
  } catch {
    /* none */
  }
  const outOfCall = num('OutOfCallMsgs(C)');
  const deadCall = num('DeadCallMsgs(C)');
  const autoAnswered = num('AutoAnswered(C)');
  return {
    exitCode,
    wallMs,
    stat,
    created: num('TotalCallCreated'),
    successful: num('SuccessfulCall(C)'),
    failed: num('FailedCall(C)'),
    retransmissions: num('Retransmissions(C)'),
    outOfCall,
    deadCall,
    autoAnswered,
    failures,
    datagrams: scenarioMsgs + outOfCall + deadCall + 2 * autoAnswered,
    counts,
    errorLogBytes,
    errorLog,
    errorKinds,
    late180: late180(counts),
    dir,
  };
}

/** Recv count of `N_180_Recv` elements placed after the first 200 `M_200_Recv` (M < N). */
function late180(counts: Record<string, number>): number {
  let first200 = Infinity;
  for (const k of Object.keys(counts)) {
    const m = /^(\d+)_200_Recv$/.exec(k);
    if (m) first200 = Math.min(first200, Number(m[1]));
  }
  let n = 0;
  for (const [k, v] of Object.entries(counts)) {
    const m = /^(\d+)_180_Recv$/.exec(k);
    if (m && Number(m[1]) > first200) n += v;
  }
  return n;
}

/**
 * Groups the events of a SIPp error log: each event starts with
 * "YYYY-MM-DD\tHH:MM:SS.us\tEPOCH: "; the kind is its text up to the first
 * line of a quoted message, with Call-IDs and numbers blanked.
 */
export function errorEventKinds(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = /\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t\d+\.\d+: /g;
  const ev: [number, number][] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) ev.push([m.index, m.index + m[0].length]);
  ev.forEach(([, s], i) => {
    const body = text.slice(s, i + 1 < ev.length ? ev[i + 1]![0] : text.length);
    const kind = body
      .split(/\r?\n/)[0]!
      .replace(/\r/g, '')
      .replace(/Call-Id '[^']*'/gi, "Call-Id '*'")
      .replace(/(for call:|Dead call) [^\s,']+/gi, '$1 *')
      .replace(/\d+/g, 'N')
      .slice(0, 200);
    out[kind] = (out[kind] ?? 0) + 1;
  });
  return out;
}

/** Header + last non-empty row of a ';'-separated SIPp CSV, as a record. */
function lastCsvRow(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return {};
  const head = lines[0]!.split(';');
  const row = lines[lines.length - 1]!.split(';');
  const out: Record<string, string> = {};
  head.forEach((h, i) => {
    if (h !== '') out[h] = row[i] ?? '';
  });
  return out;
}

/**
 * INVITE -> 200 latencies in ms from the UAC's -trace_shortmsg log: per
 * Call-ID, first INVITE sent to first 200 (CSeq INVITE) received. Sorted.
 */
export function setupLatenciesMs(shortLog: string): number[] {
  let text: string;
  try {
    text = fs.readFileSync(shortLog, 'utf8');
  } catch {
    return [];
  }
  const sent = new Map<string, number>();
  const out: number[] = [];
  for (const line of text.split('\n')) {
    // date \t time \t epoch.us \t S|R \t call-id \t CSeq:n METHOD \t first line
    const f = line.split('\t');
    if (f.length < 7 || !f[5]!.endsWith(' INVITE')) continue;
    const t = Number(f[2]);
    if (f[3] === 'S') {
      if (f[6]!.startsWith('INVITE ') && !sent.has(f[4]!)) sent.set(f[4]!, t);
    } else if (f[3] === 'R' && f[6]!.startsWith('SIP/2.0 200')) {
      const t0 = sent.get(f[4]!);
      if (t0 !== undefined) {
        out.push((t - t0) * 1000);
        sent.delete(f[4]!);
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/** Nearest-rank percentile of a sorted array (NaN if empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
