/**
 * A real Kamailio for the interop tests: finds the binary (KAMAILIO_BIN, else
 * PATH, /usr/sbin, /usr/local/sbin, /sbin) and the module directory
 * (KAMAILIO_MPATH, else the usual lib directories holding dispatcher.so),
 * checks that its ports are free, runs it in its own process group in a
 * temp dir (`-A` defines, a pid file), waits until its JSON-RPC answers, and
 * stops it (SIGTERM to the group, then SIGKILL). A missing binary is an
 * error, never a reason to skip: the tests that need Kamailio FAIL without it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The kamailio binary, or an error saying it is required (`needs`: who requires it). */
export function findKamailio(needs = 'These interop tests require'): string {
  const env = process.env['KAMAILIO_BIN'];
  const dirs = (process.env['PATH'] ?? '').split(':').filter(Boolean).concat(['/usr/sbin', '/usr/local/sbin', '/sbin']);
  for (const c of env ? [env] : dirs.map((d) => path.join(d, 'kamailio'))) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  throw new Error(
    `kamailio binary not found (${env ? `KAMAILIO_BIN=${env}` : 'searched PATH, /usr/sbin, /usr/local/sbin'}). ` +
      `${needs} Kamailio 5.6: install the Debian package \`kamailio\` or set KAMAILIO_BIN.`,
  );
}

/** Kamailio's module directory (undefined: let Kamailio use its built-in one). */
export function findModulePath(): string | undefined {
  const env = process.env['KAMAILIO_MPATH'];
  if (env) return env;
  return [
    '/usr/lib/x86_64-linux-gnu/kamailio/modules',
    '/usr/lib/aarch64-linux-gnu/kamailio/modules',
    '/usr/lib64/kamailio/modules',
    '/usr/lib/kamailio/modules',
    '/usr/local/lib64/kamailio/modules',
    '/usr/local/lib/kamailio/modules',
  ].find((d) => fs.existsSync(path.join(d, 'dispatcher.so')));
}

/** The last bytes of a process's stdout+stderr, for failure messages. */
export class LogTail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max = 64 * 1024) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8').slice(-this.max);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Whether something accepts TCP connections on host:port. */
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Whether host:port can be bound for UDP (exclusively). */
export function udpPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A JSON-RPC reply body. */
export interface RpcReply {
  result?: unknown;
  error?: { code: number; message: string };
}

/** An HTTP answer as it came. */
export interface HttpAnswer {
  status: number;
  reason: string;
  body: string;
}

export interface KamailioOptions {
  /** The kamailio.cfg to run (-f). */
  cfg: string;
  /** `-A NAME=value` defines, written as given (quote string values yourself); after RUNDIR, before SIP_IP. */
  defines?: Record<string, string | number>;
  /** SIP_IP / SIP_PORT defines; the UDP port must be free. */
  sipIp: string;
  sipPort: number;
  /** HTTP_IP / HTTP_PORT defines, where JSON-RPC answers on /RPC (httpIp defaults to sipIp); nothing may listen there yet. */
  httpIp?: string;
  httpPort: number;
  /** Resolves true once Kamailio is ready, else a note on what it answered (in the timeout error); a throw counts as not ready. */
  ready: (k: Kamailio) => Promise<true | string>;
  /** How long startup may take, from spawn until ready() is true. */
  timeoutMs: number;
  /** Between ready() attempts (default 100 ms). */
  pollMs?: number;
  /** Names the instance in messages: `kamailio <name> ...` (default none). */
  name?: string;
  /** Extra arguments after `-f cfg -DD -E` (e.g. memory sizes). */
  args?: string[];
  /** Files that must exist (checked after the binary is found). */
  files?: string[];
  /** Who requires Kamailio, in the missing-binary error (default 'These interop tests require'). */
  needs?: string;
  /** What to do when a port is taken, after "; " in the error (which env vars to set). */
  busyHint: { http: string; sip: string };
  /** How long the "does something answer on the HTTP port" check waits (default 500 ms). */
  portCheckMs?: number;
  /** How failure messages name the JSON-RPC endpoint (default http://httpIp:httpPort/RPC). */
  endpoint?: string;
  /** The temp dir's name prefix (default 'sy-kam-'). */
  tmpPrefix?: string;
  /** Keep the temp dir on stop() and write the log tail there as kamailio.log. */
  keepTmp?: boolean;
  /** How much of the log to keep (default 64 KiB). */
  logBytes?: number;
  /** Print the log tail when Kamailio exits on its own after startup (default true). */
  warnOnExit?: boolean;
  /** The HTTP agent for rpc()/post() (default none: a connection per request). */
  agent?: http.Agent;
}

/** A running Kamailio (see startKamailio). */
export interface Kamailio {
  readonly name: string | undefined;
  readonly bin: string;
  readonly sipIp: string;
  readonly sipPort: number;
  readonly httpIp: string;
  readonly httpPort: number;
  /** Its run dir (removed by stop() unless keepTmp). */
  readonly dir: string;
  /** ms from spawn until ready() said true. */
  readonly startMs: number;
  /** How it ended (`exit code=.. signal=..` or `spawn error: ..`); undefined while it runs. */
  exitStatus(): string | undefined;
  logTail(): string;
  /** One JSON-RPC call (id 1); rejects on a transport error, a timeout, a non-200 answer or bad JSON. */
  rpc(method: string, params?: unknown[], timeoutMs?: number): Promise<RpcReply>;
  /** One POST of `body` to /RPC, the answer as it came. */
  post(body: string, timeoutMs?: number): Promise<HttpAnswer>;
  /** SIGTERM to its process group, up to 5 s, then SIGKILL, up to 2 s; removes (or keeps) the run dir. Idempotent. */
  stop(): Promise<void>;
}

class KamailioProcess implements Kamailio {
  readonly name: string | undefined;
  readonly sipIp: string;
  readonly sipPort: number;
  readonly httpIp: string;
  readonly httpPort: number;
  startMs = 0;
  private readonly log: LogTail;
  private proc: ChildProcess | undefined;
  private exit: string | undefined;
  private exited: Promise<void> = Promise.resolve();
  private tmp: string | undefined;
  private stopping = false;
  private readonly onProcessExit = (): void => this.kill('SIGKILL');

  constructor(
    readonly bin: string,
    readonly dir: string,
    private readonly o: KamailioOptions,
  ) {
    this.name = o.name;
    this.sipIp = o.sipIp;
    this.sipPort = o.sipPort;
    this.httpIp = o.httpIp ?? o.sipIp;
    this.httpPort = o.httpPort;
    this.log = new LogTail(o.logBytes);
    this.tmp = dir;
  }

  private get label(): string {
    return this.name === undefined ? 'kamailio' : `kamailio ${this.name}`;
  }

  exitStatus(): string | undefined {
    return this.exit;
  }

  logTail(): string {
    return this.log.text();
  }

  async start(): Promise<void> {
    const o = this.o;
    const args = ['-f', o.cfg, '-DD', '-E', ...(o.args ?? []), '-Y', this.dir, '-P', path.join(this.dir, 'kamailio.pid'), '-A', `RUNDIR="${this.dir}"`];
    for (const [k, v] of Object.entries(o.defines ?? {})) args.push('-A', `${k}=${v}`);
    args.push('-A', `SIP_IP=${this.sipIp}`, '-A', `SIP_PORT=${this.sipPort}`, '-A', `HTTP_IP=${this.httpIp}`, '-A', `HTTP_PORT=${this.httpPort}`);
    const mpath = findModulePath();
    if (mpath) args.push('-A', `MPATH="${mpath}/"`);
    const t0 = Date.now();
    const proc = spawn(this.bin, args, { cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    process.once('exit', this.onProcessExit);
    proc.stdout!.on('data', (b: Buffer) => this.log.push(b));
    proc.stderr!.on('data', (b: Buffer) => this.log.push(b));
    this.exited = new Promise((res) => {
      proc.once('exit', (code, sig) => {
        this.exit = `exit code=${code} signal=${sig}`;
        if (!this.stopping && this.startMs > 0 && o.warnOnExit !== false) {
          console.error(`${this.label} exited unexpectedly (${this.exit})\n--- log tail ---\n${this.log.text()}`);
        }
        res();
      });
      proc.once('error', (e) => {
        this.exit = `spawn error: ${e.message}`;
        res();
      });
    });
    const endpoint = o.endpoint ?? `http://${this.httpIp}:${this.httpPort}/RPC`;
    let lastErr = '';
    for (;;) {
      if (this.exit !== undefined) throw new Error(`${this.label} (${this.bin}) ended during startup: ${this.exit}\n--- log tail ---\n${this.log.text()}`);
      if (Date.now() - t0 > o.timeoutMs) {
        throw new Error(`${this.label} did not answer on ${endpoint} within ${o.timeoutMs} ms (${lastErr})\n--- log tail ---\n${this.log.text()}`);
      }
      try {
        const r = await o.ready(this);
        if (r === true) break;
        lastErr = r;
      } catch (e) {
        lastErr = (e as Error).message;
      }
      await sleep(o.pollMs ?? 100);
    }
    this.startMs = Date.now() - t0;
  }

  private kill(sig: NodeJS.Signals): void {
    const pid = this.proc?.pid;
    if (!pid || this.exit !== undefined) return;
    try {
      process.kill(-pid, sig); // the process group of the kamailio we spawned (detached)
    } catch {
      try {
        this.proc!.kill(sig);
      } catch {
        /* gone */
      }
    }
  }

  /** Resolves when kamailio has exited or after ms (the timer does not outlive the wait). */
  private async waitExit(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.proc && this.exit === undefined) {
      this.kill('SIGTERM');
      await this.waitExit(5_000);
      if (this.exit === undefined) {
        this.kill('SIGKILL');
        await this.waitExit(2_000);
      }
    }
    process.off('exit', this.onProcessExit);
    if (this.tmp) {
      if (this.o.keepTmp) fs.writeFileSync(path.join(this.tmp, 'kamailio.log'), this.log.text());
      else fs.rmSync(this.tmp, { recursive: true, force: true });
      this.tmp = undefined;
    }
  }

  private send(body: string, timeoutMs: number, timeoutMessage: string): Promise<HttpAnswer> {
    const buf = Buffer.from(body, 'utf8');
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.httpIp,
          port: this.httpPort,
          path: '/RPC',
          method: 'POST',
          agent: this.o.agent ?? false,
          timeout: timeoutMs,
          headers: { 'content-type': 'application/json', 'content-length': buf.length },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', body: Buffer.concat(parts).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(timeoutMessage)));
      req.on('error', reject);
      req.end(buf);
    });
  }

  post(body: string, timeoutMs = 3_000): Promise<HttpAnswer> {
    return this.send(body, timeoutMs, `kamailio did not answer ${body} within ${timeoutMs} ms`);
  }

  async rpc(method: string, params: unknown[] = [], timeoutMs = 5_000): Promise<RpcReply> {
    const body = JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 });
    const a = await this.send(body, timeoutMs, `RPC ${method} timed out after ${timeoutMs} ms`);
    if (a.status !== 200) throw new Error(`HTTP ${a.status} for ${method}: ${a.body.slice(0, 300)}`);
    try {
      return JSON.parse(a.body) as RpcReply;
    } catch {
      throw new Error(`bad JSON from ${method}: ${a.body.slice(0, 300)}`);
    }
  }
}

/**
 * Starts Kamailio and waits until `ready` says so. On any startup failure
 * (no binary, missing file, busy port, early exit, timeout) it rejects with
 * the reason (and the log tail), having stopped what it started.
 */
export async function startKamailio(o: KamailioOptions): Promise<Kamailio> {
  const bin = findKamailio(o.needs);
  for (const f of o.files ?? []) assert.ok(fs.existsSync(f), `missing fixture ${f}`);
  const httpIp = o.httpIp ?? o.sipIp;
  if (await tcpAnswers(httpIp, o.httpPort, o.portCheckMs ?? 500)) {
    throw new Error(`something already listens on tcp:${httpIp}:${o.httpPort}; ${o.busyHint.http}`);
  }
  if (!(await udpPortFree(o.sipIp, o.sipPort))) throw new Error(`udp:${o.sipIp}:${o.sipPort} is in use; ${o.busyHint.sip}`);
  const k = new KamailioProcess(bin, fs.mkdtempSync(path.join(os.tmpdir(), o.tmpPrefix ?? 'sy-kam-')), o);
  try {
    await k.start();
  } catch (e) {
    await k.stop();
    throw e;
  }
  return k;
}
