/**
 * SIPp failover run: a router dies under load, long calls up.
 *
 *   npm run bench:failover -- [--target switchyard|kamailio|both] [--workers 0,2]
 *                             [--calls N] [--rate N] [--hold MS] [--kill-after MS] ...
 *
 * Topology (loopback, addresses 127.0.0.81-.89 only, all on port 5060):
 *
 *   SIPp UAC .84 --> proxy .81 --> dispatcher set 1 = "routers" .82 (dies) and .83
 *
 * - proxy: switchyard (`node dist/src/cli.js --config`, route sbc, alg 0 = hash
 *   over Call-ID, limit 2, keepalives every ds_ping_interval s with
 *   ds_ping_timeout, ds_probing_mode 1, JSON-RPC on .81:--http-port), or the
 *   Kamailio anchor (bench/kamailio/kamailio-sbc.cfg; its ds_ping_interval is
 *   fixed at 5 s and a keepalive fails after tm fr_timer, so Kamailio 5.6
 *   detects a dead router only after up to ds_ping_interval + fr_timer).
 * - routers: SIPp UAS with scenarios/failover-router.xml: answers OPTIONS 200,
 *   calls (180/200 echoing Record-Route, ACK, BYE, 200), and BYEs of calls it
 *   never saw (200): the secondary must answer the BYEs of the dead router's
 *   calls.
 * - UAC: scenarios/failover-uac.xml, -m calls -r rate -d hold: INVITE, ACK and
 *   BYE loose-routed by the Record-Route of the 200, after the hold time.
 *
 * --kill-after ms after the UAC started, router .82 gets SIGKILL (its whole
 * process group), and a silent UDP socket (the "tap") takes its address: it
 * answers nothing (a dead host: no SIP reply, no ICMP; switchyard's sockets are
 * not connected and ignore ICMP anyway) and timestamps every datagram the proxy
 * still sends there. What is measured, and from where:
 *
 * - kill -> dst-down: switchyard's warn log line {"event":"dispatcher:dst-down",
 *   "uri":...,"time":epoch ms} (pino takes the time when it logs); cross-checked
 *   by polling dispatcher.list over HTTP every 50 ms. Kamailio: polling
 *   `kamcmd dispatcher.list` every 100 ms (FLAGS I...), so +100 ms resolution.
 * - calls lost: UAC calls not successful (SIPp -trace_stat, cumulative).
 * - per call (UAC -trace_shortmsg, µs epoch timestamps): first INVITE sent, 200
 *   to the INVITE, BYE sent, 200 to the BYE; the router a call was on is the
 *   host of the BYE's request URI (the Contact of the router's 200).
 * - calls up on the dead router at the kill: on .82, 200 to the INVITE before
 *   the kill, no 200 to the BYE before the kill. Their BYE completed via the
 *   secondary = the UAC got a 200 to the BYE and router .83's -trace_shortmsg
 *   shows that BYE as the first message of its Call-ID (a call it never saw).
 * - INVITEs to the dead router: distinct Call-IDs of INVITEs at the tap, i.e.
 *   sent by the proxy after the kill; "failed over by timeout" = those calls
 *   still succeeded (via .83). Time from the kill to the last one (first
 *   transmission of a Call-ID; the proxy's retransmissions of it come later and
 *   are reported separately).
 * - switchyard's /metrics at the end: switchyard_failovers_total (failure
 *   routes run: INVITEs + BYEs), switchyard_timeouts_total.
 *
 * Used by test/sipp/failover.test.ts (runFailover) with small numbers.
 */
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import {
  KAMAILIO_CFG,
  ROOT,
  SCENARIOS,
  SWITCHYARD_CLI,
  kamailioVersion,
  killAll,
  killGroup,
  percentile,
  readSippDir,
  shebangFlags,
  sippVersion,
  snapshotSwitchyard,
  startProc,
  stopProc,
  udpPortInUse,
  waitForSip,
  type Proc,
  type SippResult,
} from './harness';

export const FAILOVER_UAC_XML = path.join(SCENARIOS, 'failover-uac.xml');
export const FAILOVER_ROUTER_XML = path.join(SCENARIOS, 'failover-router.xml');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface FailoverOptions {
  target: 'switchyard' | 'kamailio';
  /** Run directory (logs, SIPp files, config). */
  dir: string;
  /** switchyard shard workers. */
  workers: number;
  calls: number;
  rate: number;
  /** Call hold time (SIPp -d), ms. */
  holdMs: number;
  /** SIGKILL router .82 this long after the UAC started, ms. */
  killAfterMs: number;
  /** switchyard dispatcher.ds_ping_interval, s. */
  pingIntervalS: number;
  /** switchyard dispatcher.ds_ping_timeout, ms. */
  pingTimeoutMs: number;
  /** switchyard dispatcher.ds_probing_threshold. */
  probingThreshold: number;
  /** tm.fr_timer, ms (Kamailio: fr_timer = fr_inv_timer = this). */
  frTimerMs: number;
  /** tm.fr_inv_timer, ms (switchyard only). */
  frInvTimerMs: number;
  /** switchyard http.listen port on the proxy address. */
  httpPort: number;
  kamChildren: number;
  /** switchyard CLI (default dist/src/cli.js of this checkout). */
  cli?: string;
  proxyIp?: string;
  deadIp?: string;
  secondaryIp?: string;
  uacIp?: string;
  /** Source address of the readiness OPTIONS. */
  probeIp?: string;
  port?: number;
  log?: (s: string) => void;
}

export interface CallTrace {
  id: string;
  /** Epoch ms of the first INVITE sent, its 200, the first BYE sent, its 200. */
  invite?: number;
  invite200?: number;
  inviteFinal?: number;
  bye?: number;
  bye200?: number;
  /** Host of the BYE's request URI = the router that answered the INVITE. */
  router?: string;
}

export interface TapMessage {
  t: number;
  /** Method, or the status code for a reply. */
  kind: string;
  callId: string;
}

export interface DsEvent {
  t: number;
  event: string;
  uri: string;
}

export interface FailoverResult {
  target: string;
  workers: number;
  calls: number;
  rate: number;
  holdMs: number;
  killAfterMs: number;
  /** Configured detection bound: ping interval x threshold + keepalive timeout, ms. */
  detectionBoundMs: number;
  uac: SippResult;
  secondary: SippResult;
  /** Epoch ms: SIGKILL sent to router .82. */
  tKill: number;
  /** Epoch ms: the tap bound .82:5060. */
  tTap: number;
  /** Epoch ms of dst-down for .82 (log line; Kamailio: first kamcmd poll showing it inactive), null if never. */
  tDown: number | null;
  detectionMs: number | null;
  detectionSource: string;
  /** dispatcher.list polling (switchyard HTTP / kamcmd): first time .82 was seen inactive, ms after the kill. */
  polledDetectionMs: number | null;
  /** dst-down / dst-up events of the proxy log (switchyard). */
  dsEvents: DsEvent[];
  /** Calls not successful at the UAC (failed + never ended). */
  callsLost: number;
  /** UAC calls whose first INVITE left before the kill / during detection / after dst-down. */
  beforeKill: number;
  duringDetection: number;
  afterDown: number;
  afterDownOk: number;
  /** Calls after dst-down that reached the dead router (tap) or ended up on it. */
  afterDownOnDead: number;
  /** Calls up on the dead router at the kill (see the file comment). */
  deadUp: number;
  deadUpByeOk: number;
  deadUpByeAtSecondary: number;
  /** BYE sent -> 200 received for those, ms, sorted. */
  deadUpByeMs: number[];
  /** Distinct Call-IDs of INVITEs the proxy sent to the dead router after the kill (tap). */
  invitesToDead: number;
  /** Of those, calls that succeeded at the UAC (and on which router). */
  invitesToDeadOk: number;
  invitesToDeadOnSecondary: number;
  /** Their setup time at the UAC (INVITE -> 200), ms, sorted. */
  invitesToDeadSetupMs: number[];
  /** Kill -> first transmission of the last new INVITE at the tap, ms. */
  lastNewInviteToDeadMs: number | null;
  /** Kill -> the last INVITE datagram (retransmissions included) at the tap, ms. */
  lastInviteDatagramToDeadMs: number | null;
  /** Tap INVITE Call-IDs first seen later than dst-down + DOWN_SLACK_MS. */
  newInvitesToDeadAfterDown: number;
  /** Datagrams at the tap, by method/status. */
  tapByKind: Record<string, number>;
  /** UAC calls whose first INVITE left after the kill and that took >= 0.9 x fr_timer to set up on the secondary. */
  uacViewTimeoutFailovers: number;
  /** Orphan BYEs answered by the secondary (first message of a Call-ID is a BYE). */
  orphanByesAtSecondary: number;
  /** Keepalives answered by the secondary. */
  optionsAtSecondary: number;
  /** switchyard /metrics at the end (null for Kamailio or if unavailable). */
  metrics: Record<string, number> | null;
  /** dispatcher.list FLAGS per URI at the end. */
  finalFlags: Record<string, string>;
  proxyExit: number;
  proxyAliveAtEnd: boolean;
  /** Proxy log lines at warn or above other than dst-down/dst-up (switchyard), first 20. */
  proxyWarnings: string[];
  errors: string[];
  dir: string;
}

/** Tap timestamps are taken in this process: slack for its event loop, ms. */
export const DOWN_SLACK_MS = 50;

// ---------------------------------------------------------------------------
// Processes

interface Router {
  ip: string;
  dir: string;
  proc: Proc;
}

function tail(file: string, n = 2000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-n);
  } catch {
    return '(no log)';
  }
}

async function startRouter(ip: string, port: number, dir: string, maxMs: number): Promise<Router> {
  fs.mkdirSync(dir, { recursive: true });
  const args = [
    '-sf', FAILOVER_ROUTER_XML, '-i', ip, '-p', String(port), '-bind_local', '-nostdin',
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1',
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
    '-trace_counts',
    '-trace_shortmsg', '-shortmessage_file', path.join(dir, 'short.log'),
  ];
  const proc = startProc(`sipp-router-${ip}`, 'sipp', args, { cwd: dir, logFile: path.join(dir, 'screen.log'), maxMs });
  for (let i = 0; i < 100 && !udpPortInUse(ip, port); i++) {
    if (proc.exitCode !== null) break;
    await sleep(20);
  }
  if (proc.exitCode !== null || !udpPortInUse(ip, port)) {
    await stopProc(proc, 'SIGKILL', 1000);
    throw new Error(`SIPp router on ${ip}:${port} did not start: ${tail(path.join(dir, 'screen.log'))}`);
  }
  return { ip, dir, proc };
}

interface Proxy {
  proc: Proc;
  log: string;
  stop(): Promise<number>;
  /** FLAGS per URI of set 1, or null if the query failed. */
  flags(): Promise<Record<string, string> | null>;
}

async function startSwitchyard(o: Required<FailoverOptions>, maxMs: number): Promise<Proxy> {
  const cfg = path.join(o.dir, 'switchyard.yaml');
  const list = `1 sip:${o.deadIp}:${o.port}\n1 sip:${o.secondaryIp}:${o.port}\n`;
  fs.writeFileSync(
    cfg,
    `listen: udp:${o.proxyIp}:${o.port}\n` +
      `workers: ${o.workers}\n` +
      'route: sbc\n' +
      'log_level: warn\n' +
      `tm:\n  fr_timer: ${o.frTimerMs}\n  fr_inv_timer: ${o.frInvTimerMs}\n` +
      'dispatcher:\n' +
      `  list: ${JSON.stringify(list)}\n` +
      `  ds_ping_interval: ${o.pingIntervalS}\n` +
      `  ds_ping_timeout: ${o.pingTimeoutMs}\n` +
      '  ds_probing_mode: 1\n' +
      `  ds_probing_threshold: ${o.probingThreshold}\n` +
      '  set: 1\n  alg: 0\n  limit: 2\n' +
      `http:\n  listen: ${o.proxyIp}:${o.httpPort}\n`,
  );
  const log = path.join(o.dir, 'switchyard.log');
  const proc = startProc('switchyard', process.execPath, [...shebangFlags(o.cli), o.cli, '--config', cfg], { cwd: o.dir, logFile: log, maxMs });
  const url = `http://${o.proxyIp}:${o.httpPort}/RPC`;
  const p: Proxy = {
    proc,
    log,
    stop: () => stopProc(proc, 'SIGTERM', 10_000),
    flags: async () => {
      const r = await rpc(url, 'dispatcher.list', []);
      return r === null ? null : dsFlags(r);
    },
  };
  try {
    await waitForSip(o.proxyIp, o.port, o.probeIp, 15_000, () => proc.exitCode === null);
  } catch (err) {
    await p.stop();
    throw new Error(`switchyard did not start: ${(err as Error).message}; log: ${tail(log)}`);
  }
  return p;
}

async function startKamailio(o: Required<FailoverOptions>, maxMs: number): Promise<Proxy> {
  const rundir = path.join(o.dir, 'kamailio-run');
  fs.mkdirSync(rundir, { recursive: true });
  const listFile = path.join(o.dir, 'dispatcher.list');
  fs.writeFileSync(listFile, `# setid destination\n1 sip:${o.deadIp}:${o.port}\n1 sip:${o.secondaryIp}:${o.port}\n`);
  const ctl = `unix:${rundir}/ctl.sock`;
  const args = [
    '-f', KAMAILIO_CFG, '-DD', '-E', '-m', '256', '-M', '16', '-P', path.join(rundir, 'kamailio.pid'),
    '-A', `CHILDREN=${o.kamChildren}`,
    '-A', `FR_TIMER=${o.frTimerMs}`,
    '-A', `DS_LIST="${listFile}"`,
    '-A', `RUNDIR="${rundir}"`,
    '-A', `CTL_SOCK="${ctl}"`,
    '-A', `LISTEN=udp:${o.proxyIp}:${o.port}`,
  ];
  const log = path.join(o.dir, 'kamailio.log');
  const proc = startProc('kamailio', 'kamailio', args, { cwd: o.dir, logFile: log, maxMs });
  const p: Proxy = {
    proc,
    log,
    stop: () => stopProc(proc, 'SIGTERM', 10_000),
    flags: () =>
      new Promise((resolve) => {
        execFile('kamcmd', ['-s', ctl, 'dispatcher.list'], { timeout: 2000, encoding: 'utf8' }, (err, stdout) => {
          if (err) return resolve(null);
          const out: Record<string, string> = {};
          const re = /URI:\s*(\S+)\s+FLAGS:\s*(\w+)/g;
          for (let m = re.exec(stdout); m; m = re.exec(stdout)) out[m[1]!] = m[2]!;
          resolve(out);
        });
      }),
  };
  try {
    await waitForSip(o.proxyIp, o.port, o.probeIp, 15_000, () => proc.exitCode === null);
  } catch (err) {
    await p.stop();
    throw new Error(`kamailio did not start: ${(err as Error).message}; log: ${tail(log)}`);
  }
  return p;
}

/** One JSON-RPC call; the `result`, or null on any failure. */
async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { result?: unknown };
    return body.result ?? null;
  } catch {
    return null;
  }
}

/** URI -> FLAGS of every destination in a dispatcher.list result (any nesting). */
function dsFlags(v: unknown, out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(v)) for (const e of v) dsFlags(e, out);
  else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['URI'] === 'string' && typeof o['FLAGS'] === 'string') out[o['URI']] = o['FLAGS'];
    for (const e of Object.values(o)) dsFlags(e, out);
  }
  return out;
}

async function metrics(url: string): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const text = await res.text();
    const out: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^(switchyard_(?:failovers_total|timeouts_total|retransmissions_sent_total|stray_replies_total|dispatcher_keepalives_total\{result="\w+"\}|relayed_requests_total))\s+(\S+)/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  } catch {
    return null;
  }
}

/** A UDP socket on the dead router's address that answers nothing and timestamps what arrives. */
async function startTap(ip: string, port: number): Promise<{ sock: dgram.Socket; msgs: TapMessage[]; t: number }> {
  const msgs: TapMessage[] = [];
  for (let i = 0; ; i++) {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (b) => {
      const t = Date.now();
      const s = b.toString('latin1');
      const first = s.slice(0, s.indexOf('\r\n'));
      const kind = first.startsWith('SIP/2.0 ') ? first.slice(8, 11) : first.slice(0, first.indexOf(' '));
      const cid = /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im.exec(s);
      msgs.push({ t, kind, callId: cid ? cid[1]! : '' });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(port, ip, () => resolve());
      });
      return { sock, msgs, t: Date.now() };
    } catch (err) {
      sock.close();
      if (i >= 50) throw new Error(`tap: cannot bind ${ip}:${port}: ${(err as Error).message}`);
      await sleep(10);
    }
  }
}

// ---------------------------------------------------------------------------
// Traces

/** Per Call-ID events from a UAC -trace_shortmsg file (epoch ms). */
export function uacTraces(shortLog: string): Map<string, CallTrace> {
  const calls = new Map<string, CallTrace>();
  let text = '';
  try {
    text = fs.readFileSync(shortLog, 'utf8');
  } catch {
    return calls;
  }
  for (const line of text.split('\n')) {
    // date \t time \t epoch.us \t S|R \t call-id \t CSeq:n METHOD \t first line
    const f = line.split('\t');
    if (f.length < 7) continue;
    const t = Number(f[2]) * 1000;
    const id = f[4]!;
    let c = calls.get(id);
    if (!c) calls.set(id, (c = { id }));
    const cseq = f[5]!;
    const first = f[6]!;
    if (f[3] === 'S') {
      if (first.startsWith('INVITE ') && c.invite === undefined) c.invite = t;
      else if (first.startsWith('BYE ') && c.bye === undefined) {
        c.bye = t;
        const m = /^BYE sips?:(?:[^@\s]*@)?([^:;>\s]+)/.exec(first);
        if (m) c.router = m[1];
      }
    } else if (f[3] === 'R' && first.startsWith('SIP/2.0 ')) {
      const code = Number(first.slice(8, 11));
      if (cseq.endsWith(' INVITE')) {
        if (code === 200 && c.invite200 === undefined) c.invite200 = t;
        if (code >= 200 && c.inviteFinal === undefined) c.inviteFinal = code;
      } else if (cseq.endsWith(' BYE') && code === 200 && c.bye200 === undefined) c.bye200 = t;
    }
  }
  return calls;
}

/** Call-IDs a UAS received, by the first request of each: {first: method}. */
function uasFirstRequests(shortLog: string): Map<string, string> {
  const out = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(shortLog, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length < 7 || f[3] !== 'R' || f[6]!.startsWith('SIP/2.0')) continue;
    if (!out.has(f[4]!)) out.set(f[4]!, f[6]!.slice(0, f[6]!.indexOf(' ')));
  }
  return out;
}

function dsEventsFromLog(file: string): { events: DsEvent[]; warnings: string[] } {
  const events: DsEvent[] = [];
  const warnings: string[] = [];
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { events, warnings };
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: { time?: number; event?: string; uri?: string; level?: number };
    try {
      o = JSON.parse(line) as typeof o;
    } catch {
      warnings.push(line.slice(0, 300));
      continue;
    }
    if (typeof o.event === 'string' && o.event.startsWith('dispatcher:dst-')) events.push({ t: o.time ?? 0, event: o.event, uri: o.uri ?? '' });
    else if ((o.level ?? 0) >= 40) warnings.push(line.slice(0, 300));
  }
  return { events, warnings };
}

// ---------------------------------------------------------------------------
// One run

export async function runFailover(opts: FailoverOptions): Promise<FailoverResult> {
  const given = Object.fromEntries(Object.entries(opts).filter(([, x]) => x !== undefined)) as FailoverOptions;
  const o: Required<FailoverOptions> = {
    cli: SWITCHYARD_CLI,
    proxyIp: '127.0.0.81',
    deadIp: '127.0.0.82',
    secondaryIp: '127.0.0.83',
    uacIp: '127.0.0.84',
    probeIp: '127.0.0.89',
    port: 5060,
    log: () => {},
    ...given,
  };
  const log = o.log;
  fs.mkdirSync(o.dir, { recursive: true });
  for (const ip of [o.proxyIp, o.deadIp, o.secondaryIp, o.uacIp]) {
    if (udpPortInUse(ip, o.port)) throw new Error(`udp ${ip}:${o.port} is already in use`);
  }
  const durMs = (o.calls / o.rate) * 1000 + o.holdMs;
  const maxMs = durMs + 90_000;
  const deadUri = `sip:${o.deadIp}:${o.port}`;
  const secUri = `sip:${o.secondaryIp}:${o.port}`;
  const errors: string[] = [];
  const routers: Router[] = [];
  let proxy: Proxy | null = null;
  let tap: Awaited<ReturnType<typeof startTap>> | null = null;
  let uacProc: Proc | null = null;
  try {
    const dead = await startRouter(o.deadIp, o.port, path.join(o.dir, `router-${o.deadIp}`), maxMs);
    routers.push(dead);
    const sec = await startRouter(o.secondaryIp, o.port, path.join(o.dir, `router-${o.secondaryIp}`), maxMs);
    routers.push(sec);
    proxy = o.target === 'switchyard' ? await startSwitchyard(o, maxMs) : await startKamailio(o, maxMs);
    // Both routers must be up (answered a keepalive) before the calls start.
    if (o.target === 'switchyard') {
      const end = Date.now() + 10_000;
      let f: Record<string, string> | null = null;
      for (;;) {
        f = await proxy.flags();
        if (f && f[deadUri]?.startsWith('A') && f[secUri]?.startsWith('A') && proxyKeepalivesOk(await metrics(`http://${o.proxyIp}:${o.httpPort}/metrics`)) >= 2) break;
        if (Date.now() > end) throw new Error(`routers not active after 10 s: ${JSON.stringify(f)}`);
        await sleep(100);
      }
    }
    log(`  ${o.target === 'switchyard' ? `switchyard w${o.workers}` : `kamailio c${o.kamChildren}`}: routers up; UAC ${o.calls} calls at ${o.rate}/s, hold ${o.holdMs} ms; kill ${o.deadIp} at +${o.killAfterMs} ms`);

    // UAC
    const uacDir = path.join(o.dir, 'uac');
    fs.mkdirSync(uacDir, { recursive: true });
    const uacArgs = [
      `${o.proxyIp}:${o.port}`, '-sf', FAILOVER_UAC_XML, '-i', o.uacIp, '-p', String(o.port), '-bind_local', '-nostdin',
      '-m', String(o.calls), '-r', String(o.rate), '-rp', '1000', '-d', String(o.holdMs),
      '-l', String(Math.max(1000, Math.ceil(o.rate * (o.holdMs / 1000 + 10) * 2))),
      '-timeout', `${Math.ceil(durMs / 1000) + 60}s`,
      '-recv_timeout', '15000',
      '-trace_stat', '-stf', path.join(uacDir, 'stat.csv'), '-fd', '1',
      '-trace_err', '-error_file', path.join(uacDir, 'errors.log'),
      '-trace_counts',
      '-trace_shortmsg', '-shortmessage_file', path.join(uacDir, 'short.log'),
    ];
    const tUac = Date.now();
    uacProc = startProc('sipp-uac', 'sipp', uacArgs, { cwd: uacDir, logFile: path.join(uacDir, 'screen.log'), maxMs: durMs + 75_000 });

    // Kill the router.
    await Promise.race([sleep(Math.max(0, tUac + o.killAfterMs - Date.now())), uacProc.exited]);
    if (uacProc.exitCode !== null) throw new Error(`the UAC exited before the kill (code ${uacProc.exitCode}): ${tail(path.join(uacDir, 'screen.log'))}`);
    const tKill = Date.now();
    killGroup(dead.proc.pid, 'SIGKILL');
    await dead.proc.exited;
    tap = await startTap(o.deadIp, o.port);
    log(`  killed ${o.deadIp} at +${tKill - tUac} ms (tap bound ${tap.t - tKill} ms later)`);

    // Poll dispatcher.list until the dead router shows inactive (cross-check / Kamailio's only source).
    let polledDown: number | null = null;
    const pollEnd = tKill + Math.max(15_000, o.pingIntervalS * o.probingThreshold * 1000 + o.pingTimeoutMs + 10_000);
    const pollEvery = o.target === 'switchyard' ? 50 : 100;
    const poller = (async () => {
      while (polledDown === null && Date.now() < pollEnd && uacProc!.exitCode === null) {
        const f = await proxy!.flags();
        if (f && f[deadUri]?.startsWith('I')) polledDown = Date.now();
        else await sleep(pollEvery);
      }
    })();

    await uacProc.exited;
    await poller;
    const uacCode = uacProc.exitCode ?? -1;
    killGroup(uacProc.pid, 'SIGKILL');
    log(`  UAC done (exit ${uacCode}) at +${Date.now() - tUac} ms`);

    // End state, then stop everything.
    const m = o.target === 'switchyard' ? await metrics(`http://${o.proxyIp}:${o.httpPort}/metrics`) : null;
    const finalFlags = (await proxy.flags()) ?? {};
    const proxyAliveAtEnd = proxy.proc.exitCode === null;
    const proxyExit = await proxy.stop();
    const proxyLog = proxy.log;
    proxy = null;
    const secCode = await stopProc(sec.proc, 'SIGUSR1', 5000);
    routers.length = 0;
    const tapMsgs = tap.msgs;
    const tTap = tap.t;
    tap.sock.close();
    tap = null;

    // Analysis
    const uac = readSippDir(uacDir, uacCode, 0);
    const secondary = readSippDir(sec.dir, secCode, 0);
    const traces = uacTraces(path.join(uacDir, 'short.log'));
    const secFirst = uasFirstRequests(path.join(sec.dir, 'short.log'));
    const { events, warnings } = o.target === 'switchyard' ? dsEventsFromLog(proxyLog) : { events: [], warnings: [] };
    const down = events.find((e) => e.event === 'dispatcher:dst-down' && e.uri === deadUri);
    let tDown: number | null = null;
    let source = '';
    if (o.target === 'switchyard') {
      tDown = down ? down.t : null;
      source = 'proxy log (dispatcher:dst-down)';
    } else {
      tDown = polledDown;
      source = 'kamcmd dispatcher.list polled every 100 ms';
    }
    const downAt = tDown ?? Infinity;

    const tapInv = new Map<string, number>();
    let lastInvDatagram: number | null = null;
    const tapByKind: Record<string, number> = {};
    for (const t of tapMsgs) {
      tapByKind[t.kind] = (tapByKind[t.kind] ?? 0) + 1;
      if (t.kind === 'INVITE') {
        if (!tapInv.has(t.callId)) tapInv.set(t.callId, t.t);
        lastInvDatagram = Math.max(lastInvDatagram ?? 0, t.t);
      }
    }
    const ok = (c: CallTrace | undefined): boolean => c !== undefined && c.bye200 !== undefined;
    const all = [...traces.values()].filter((c) => c.invite !== undefined);
    const beforeKill = all.filter((c) => c.invite! < tKill);
    const during = all.filter((c) => c.invite! >= tKill && c.invite! < downAt);
    const after = all.filter((c) => c.invite! >= downAt);
    const deadUp = all.filter((c) => c.router === o.deadIp && c.invite200 !== undefined && c.invite200 < tKill && !(c.bye200 !== undefined && c.bye200 < tKill));
    const invDead = [...tapInv.keys()].map((id) => traces.get(id));
    const lastNewInv = tapInv.size ? Math.max(...tapInv.values()) : null;

    const r: FailoverResult = {
      target: o.target === 'switchyard' ? `switchyard w${o.workers}` : `kamailio c${o.kamChildren}`,
      workers: o.workers,
      calls: o.calls,
      rate: o.rate,
      holdMs: o.holdMs,
      killAfterMs: o.killAfterMs,
      detectionBoundMs: o.target === 'switchyard' ? o.pingIntervalS * o.probingThreshold * 1000 + o.pingTimeoutMs : 5000 + o.frTimerMs,
      uac,
      secondary,
      tKill,
      tTap,
      tDown,
      detectionMs: tDown === null ? null : tDown - tKill,
      detectionSource: source,
      polledDetectionMs: polledDown === null ? null : polledDown - tKill,
      dsEvents: events,
      callsLost: o.calls - uac.successful,
      beforeKill: beforeKill.length,
      duringDetection: during.length,
      afterDown: after.length,
      afterDownOk: after.filter(ok).length,
      afterDownOnDead: after.filter((c) => tapInv.has(c.id) || c.router === o.deadIp).length,
      deadUp: deadUp.length,
      deadUpByeOk: deadUp.filter(ok).length,
      deadUpByeAtSecondary: deadUp.filter((c) => ok(c) && secFirst.get(c.id) === 'BYE').length,
      deadUpByeMs: deadUp.filter(ok).map((c) => c.bye200! - c.bye!).sort((a, b) => a - b),
      invitesToDead: tapInv.size,
      invitesToDeadOk: invDead.filter(ok).length,
      invitesToDeadOnSecondary: invDead.filter((c) => ok(c) && c!.router === o.secondaryIp).length,
      invitesToDeadSetupMs: invDead.filter((c) => c?.invite200 !== undefined && c.invite !== undefined).map((c) => c!.invite200! - c!.invite!).sort((a, b) => a - b),
      lastNewInviteToDeadMs: lastNewInv === null ? null : lastNewInv - tKill,
      lastInviteDatagramToDeadMs: lastInvDatagram === null ? null : lastInvDatagram - tKill,
      newInvitesToDeadAfterDown: [...tapInv.values()].filter((t) => t > downAt + DOWN_SLACK_MS).length,
      tapByKind,
      uacViewTimeoutFailovers: all.filter(
        (c) => c.invite! >= tKill && c.router === o.secondaryIp && c.invite200 !== undefined && c.invite200 - c.invite! >= 0.9 * o.frTimerMs,
      ).length,
      orphanByesAtSecondary: [...secFirst.values()].filter((v) => v === 'BYE').length,
      optionsAtSecondary: [...secFirst.values()].filter((v) => v === 'OPTIONS').length,
      metrics: m,
      finalFlags,
      proxyExit,
      proxyAliveAtEnd,
      proxyWarnings: warnings.slice(0, 20),
      errors,
      dir: o.dir,
    };
    for (const [who, res] of [['uac', uac], ['router .83', secondary]] as [string, SippResult][]) {
      if (res.errorLogBytes > 0) {
        const kinds = Object.entries(res.errorKinds).sort((a, b) => b[1] - a[1]);
        errors.push(`${who} error log ${path.join(res.dir, 'errors.log')}: ${kinds.map(([k, n]) => `${n} x ${k.replace(/\s+/g, ' ').trim()}`).join('; ')}`);
      }
    }
    return r;
  } finally {
    if (uacProc && uacProc.exitCode === null) await stopProc(uacProc, 'SIGKILL', 1000);
    if (proxy) await proxy.stop();
    for (const rt of routers) await stopProc(rt.proc, 'SIGKILL', 1000);
    if (tap) tap.sock.close();
  }
}

function proxyKeepalivesOk(m: Record<string, number> | null): number {
  return m?.['switchyard_dispatcher_keepalives_total{result="ok"}'] ?? 0;
}

// ---------------------------------------------------------------------------
// Report

const f0 = (n: number | null): string => (n !== null && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '-');

export function summaryLine(r: FailoverResult): string {
  return (
    `${r.target}: ${r.uac.successful}/${r.calls} ok, ${r.callsLost} lost; detection ${f0(r.detectionMs)} ms (poll ${f0(r.polledDetectionMs)} ms); ` +
    `up on dead router at kill ${r.deadUp}, BYE ok ${r.deadUpByeOk} (${r.deadUpByeAtSecondary} seen at .83); ` +
    `INVITEs to dead router ${r.invitesToDead} (${r.invitesToDeadOk} ok, ${r.invitesToDeadOnSecondary} on .83), last new +${f0(r.lastNewInviteToDeadMs)} ms, ` +
    `last datagram +${f0(r.lastInviteDatagramToDeadMs)} ms; after dst-down ${r.afterDownOk}/${r.afterDown} ok, ${r.afterDownOnDead} on dead; ` +
    `new INVITEs to dead after dst-down ${r.newInvitesToDeadAfterDown}; tap ${JSON.stringify(r.tapByKind)}; metrics ${JSON.stringify(r.metrics)}; ` +
    `final ${JSON.stringify(r.finalFlags)}; proxy exit ${r.proxyExit}; dir ${r.dir}`
  );
}

function table(rs: FailoverResult[]): string {
  const head =
    '| target | calls | rate (calls/s) | hold (s) | kill at (s) | calls lost | calls up on the dead router at the kill | their BYE completed via the secondary | BYE via secondary p50 / max (ms) | kill -> dst-down (ms) | bound (ms) | kill -> last new INVITE to the dead router (ms) | kill -> last INVITE datagram to it (ms) | INVITEs to the dead router (failed over by timeout, succeeded) | setup of those p50 / max (ms) | calls after dst-down: ok / total | failure routes run (metric) |\n' +
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  return (
    head +
    rs
      .map((r) => {
        const bye = r.deadUpByeMs;
        const inv = r.invitesToDeadSetupMs;
        return (
          `| ${r.target} | ${f0(r.calls)} | ${f0(r.rate)} | ${r.holdMs / 1000} | ${r.killAfterMs / 1000} | ${f0(r.callsLost)} | ${f0(r.deadUp)} | ` +
          `${f0(r.deadUpByeAtSecondary)} (${pct(r.deadUpByeAtSecondary, r.deadUp)}) | ${f0(percentile(bye, 50))} / ${f0(bye.length ? bye[bye.length - 1]! : NaN)} | ` +
          `${f0(r.detectionMs)}${r.polledDetectionMs !== null && r.target.startsWith('switchyard') ? ` (poll ${f0(r.polledDetectionMs)})` : ''} | ${f0(r.detectionBoundMs)} | ` +
          `${f0(r.lastNewInviteToDeadMs)} | ${f0(r.lastInviteDatagramToDeadMs)} | ${f0(r.invitesToDead)} (${f0(r.invitesToDeadOk)} ok, ${f0(r.invitesToDeadOnSecondary)} on .83) | ` +
          `${f0(percentile(inv, 50))} / ${f0(inv.length ? inv[inv.length - 1]! : NaN)} | ${f0(r.afterDownOk)} / ${f0(r.afterDown)} | ` +
          `${r.metrics ? f0(r.metrics['switchyard_failovers_total'] ?? NaN) : '-'} |`
        );
      })
      .join('\n') +
    '\n'
  );
}

// ---------------------------------------------------------------------------
// CLI

const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');
const SECTION = '## SIPp failover';

const USAGE = `usage: node dist/bench/sipp/failover.js [options]

  --target T          switchyard | kamailio | both (default switchyard)
  --workers LIST      switchyard worker counts, e.g. 0,2 (default 0)
  --calls N           calls (default 3000)
  --rate N            calls/s (default 100)
  --hold MS           call hold time, ms (default 10000)
  --kill-after MS     SIGKILL router .82 this long after the UAC started (default 15000)
  --ping-interval S   switchyard ds_ping_interval (default 1)
  --ping-timeout MS   switchyard ds_ping_timeout (default 500)
  --threshold N       switchyard ds_probing_threshold (default 1)
  --fr-timer MS       tm fr_timer (default 1000; Kamailio: fr_timer = fr_inv_timer)
  --fr-inv-timer MS   switchyard tm fr_inv_timer (default 3000)
  --http-port N       switchyard JSON-RPC port on 127.0.0.81 (default 5081)
  --kam-children N    Kamailio CHILDREN (default 2)
  --note TEXT         a note for the RESULTS.md entry
  --no-results        do not append to bench/RESULTS.md
  --keep              keep the run directories
`;

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, encoding: 'utf8' }, (err, stdout) => resolve(err ? '' : stdout.trim()));
  });
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`;
}

function appendResults(block: string): void {
  const intro =
    `${SECTION}\n\n` +
    'Driver: `bench/sipp/failover.ts` (`npm run bench:failover -- ...`); the CI test with small numbers is ' +
    '`test/sipp/failover.test.ts`. SIPp UAC 127.0.0.84 -> proxy 127.0.0.81:5060 -> dispatcher set 1 = two SIPp "routers" ' +
    '127.0.0.82 and 127.0.0.83 (bench/sipp/scenarios/failover-router.xml: OPTIONS 200, calls echoing Record-Route, and 200 to BYEs ' +
    'of calls they never saw). Long calls (SIPp -d hold time, scenarios/failover-uac.xml; ACK and BYE loose-routed); mid-run router ' +
    '.82 gets SIGKILL and a silent UDP socket takes its address (a dead host: no reply, no ICMP) and timestamps what the proxy still sends there. ' +
    'switchyard: route sbc, alg 0, limit 2, ds_probing_mode 1; Kamailio: the anchor bench/kamailio/kamailio-sbc.cfg (ds_ping_interval 5 s, ' +
    'a keepalive fails after tm fr_timer: Kamailio 5.6 has no separate keepalive timeout, so it detects a dead router only after up to ' +
    'ds_ping_interval + fr_timer).\n\n' +
    'Columns:\n' +
    '- calls lost: calls not successful at the UAC (SIPp -trace_stat);\n' +
    '- calls up on the dead router at the kill: from the UAC\'s -trace_shortmsg: the BYE\'s request URI (the Contact of the 200) is .82, ' +
    '200 to the INVITE before the kill, no 200 to the BYE before it; "completed via the secondary" = the UAC got a 200 to that BYE and ' +
    'router .83\'s -trace_shortmsg has the BYE as the first message of that Call-ID; p50/max = BYE sent -> 200 at the UAC (one fr_timer: the ' +
    'proxy first relays the BYE to .82, whose Route it follows, and the failure route sends it to the dialog\'s du_secondary on timeout);\n' +
    '- kill -> dst-down: switchyard\'s warn log line `dispatcher:dst-down` (pino time), with dispatcher.list polled over HTTP every ' +
    '50 ms in brackets; Kamailio: `kamcmd dispatcher.list` polled every 100 ms. Bound: ds_ping_interval x ds_probing_threshold + ' +
    'ds_ping_timeout (Kamailio: ds_ping_interval + fr_timer);\n' +
    '- INVITEs to the dead router: distinct Call-IDs of INVITEs at the silent socket on .82 (the proxy sent them after the kill, ' +
    'before dst-down); each must fail over by timeout (fr_timer, no reply) to .83 and succeed; setup = INVITE -> 200 at the UAC. "last new ' +
    'INVITE" = the first transmission of the last such Call-ID; "last INVITE datagram" includes the proxy\'s retransmissions;\n' +
    '- calls after dst-down: calls whose INVITE left the UAC after dst-down (all must succeed, none may reach .82);\n' +
    '- failure routes run: switchyard_failovers_total (INVITE and BYE failovers).\n';
  // Re-read right before writing: other benchmarks append to this file.
  let text = '';
  try {
    text = fs.readFileSync(RESULTS_MD, 'utf8');
  } catch {
    text = '# Benchmark results\n';
  }
  const i = text.indexOf(`${SECTION}\n`);
  if (i < 0) {
    text = `${text.replace(/\s*$/, '\n')}\n${intro}\n${block}`;
  } else {
    const j = text.indexOf('\n## ', i + SECTION.length);
    const end = j < 0 ? text.length : j + 1;
    const before = text.slice(0, end).replace(/\s*$/, '\n');
    text = `${before}\n${block}${j < 0 ? '' : `\n${text.slice(end)}`}`;
  }
  fs.writeFileSync(RESULTS_MD, text);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    args: process.argv.slice(2),
    options: {
      target: { type: 'string', default: 'switchyard' },
      workers: { type: 'string', default: '0' },
      calls: { type: 'string', default: '3000' },
      rate: { type: 'string', default: '100' },
      hold: { type: 'string', default: '10000' },
      'kill-after': { type: 'string', default: '15000' },
      'ping-interval': { type: 'string', default: '1' },
      'ping-timeout': { type: 'string', default: '500' },
      threshold: { type: 'string', default: '1' },
      'fr-timer': { type: 'string', default: '1000' },
      'fr-inv-timer': { type: 'string', default: '3000' },
      'http-port': { type: 'string', default: '5081' },
      'kam-children': { type: 'string', default: '2' },
      note: { type: 'string' },
      'no-results': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const num = (k: keyof typeof v): number => {
    const n = Number(v[k]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k}: not a number: ${String(v[k])}\n${USAGE}`);
    return n;
  };
  const targets: { kind: 'switchyard' | 'kamailio'; workers: number }[] = [];
  if (v.target === 'switchyard' || v.target === 'both') for (const w of v.workers!.split(',')) targets.push({ kind: 'switchyard', workers: Number(w) });
  if (v.target === 'kamailio' || v.target === 'both') targets.push({ kind: 'kamailio', workers: 0 });
  if (targets.length === 0) throw new Error(`--target: ${v.target}\n${USAGE}`);
  const sipp = sippVersion();
  if (!sipp) throw new Error('sipp is not installed (Debian: apt-get install sip-tester)');
  const kam = targets.some((t) => t.kind === 'kamailio') ? kamailioVersion() : null;
  if (targets.some((t) => t.kind === 'kamailio') && !kam) throw new Error('kamailio is not installed');
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const started = new Date();
  const la0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let cli = SWITCHYARD_CLI;
  let build = '';
  let snapDir = '';
  if (targets.some((t) => t.kind === 'switchyard')) {
    snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-failover-build-'));
    const snap = snapshotSwitchyard(snapDir);
    cli = snap.cli;
    build = snap.sha1.slice(0, 12);
  }
  const results: FailoverResult[] = [];
  try {
    for (const t of targets) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sy-failover-${t.kind}-w${t.workers}-`));
      const r = await runFailover({
        target: t.kind, dir, workers: t.workers, cli,
        calls: num('calls'), rate: num('rate'), holdMs: num('hold'), killAfterMs: num('kill-after'),
        pingIntervalS: num('ping-interval'), pingTimeoutMs: num('ping-timeout'), probingThreshold: num('threshold'),
        frTimerMs: num('fr-timer'), frInvTimerMs: num('fr-inv-timer'), httpPort: num('http-port'), kamChildren: num('kam-children'),
        log,
      });
      log(`  ${summaryLine(r)}`);
      for (const e of r.errors) log(`    ${e}`);
      if (r.proxyWarnings.length) log(`    proxy warnings: ${r.proxyWarnings.join('\n      ')}`);
      results.push(r);
      if (!v.keep && r.callsLost === 0 && r.errors.length === 0) fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (snapDir) fs.rmSync(snapDir, { recursive: true, force: true });
  }
  const la1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const cmd = `npm run bench:failover -- ${process.argv.slice(2).join(' ')}`.trim();
  const commit = await sh('git', ['rev-parse', '--short', 'HEAD']);
  const changed = (await sh('git', ['status', '--porcelain', '--', 'src', 'native'])).split('\n').filter((l) => l.trim() !== '').length;
  const dirty = changed > 0 ? ` + ${changed} uncommitted file(s) under src/ and native/ (other engineers' work in progress)` : '';
  const r0 = results[0]!;
  let block =
    `### ${started.toISOString()} — ${r0.calls} calls at ${r0.rate} calls/s, hold ${r0.holdMs / 1000} s, router .82 killed at ${r0.killAfterMs / 1000} s\n\n` +
    `- command: \`${cmd}\`\n` +
    `- git commit: ${commit || 'unknown'}${dirty}\n` +
    (build ? `- switchyard build measured: a copy of dist/src + build/Release/switchyard.node taken at the start, sha1 ${build}\n` : '') +
    `- switchyard config: ds_ping_interval ${num('ping-interval')} s, ds_ping_timeout ${num('ping-timeout')} ms, ds_probing_threshold ${num('threshold')}, ` +
    `fr_timer ${num('fr-timer')} ms, fr_inv_timer ${num('fr-inv-timer')} ms\n` +
    (kam ? `- Kamailio: CHILDREN=${num('kam-children')}, FR_TIMER=${num('fr-timer')} (fr_timer = fr_inv_timer), ds_ping_interval 5 s (anchor)\n` : '') +
    `- machine: ${machine()}\n` +
    `- Node ${process.version}, ${sipp}, ${kam ?? 'Kamailio not run'}\n` +
    `- load average (1/5/15 min): ${la0} at start, ${la1} at end (another engineer's SIPp benchmark may share the machine)\n` +
    (v.note ? `- note: ${v.note}\n` : '') +
    '\n' +
    table(results);
  const notes: string[] = [];
  for (const r of results) {
    const extra: string[] = [];
    extra.push(`tap datagrams ${JSON.stringify(r.tapByKind)}`);
    if (r.metrics) extra.push(`metrics ${JSON.stringify(r.metrics)}`);
    extra.push(`calls by INVITE time: ${r.beforeKill} before the kill, ${r.duringDetection} during detection, ${r.afterDown} after dst-down`);
    extra.push(`UAC view: ${r.uacViewTimeoutFailovers} calls started after the kill set up on .83 in >= 0.9 x fr_timer`);
    extra.push(`orphan BYEs answered by .83: ${r.orphanByesAtSecondary}`);
    if (r.newInvitesToDeadAfterDown > 0) extra.push(`**${r.newInvitesToDeadAfterDown} new INVITE(s) reached .82 more than ${DOWN_SLACK_MS} ms after dst-down**`);
    if (r.afterDownOnDead > 0) extra.push(`**${r.afterDownOnDead} call(s) started after dst-down reached .82**`);
    for (const e of r.errors) extra.push(e.replace(/\|/g, '\\|'));
    notes.push(`- ${r.target}: ${extra.join('; ')}`);
  }
  block += `\n${notes.join('\n')}\n`;
  process.stdout.write(`\n${block}\n`);
  if (!v['no-results']) {
    appendResults(block);
    log(`appended to ${path.relative(process.cwd(), RESULTS_MD) || RESULTS_MD}`);
  }
}

if (require.main === module) {
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
      process.stderr.write(`bench:failover: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
