/**
 * The process lifecycle of `node dist/src/cli.js --config FILE` as a child
 * process: SIGHUP reloads the dispatcher list (a bad list is logged, the old
 * one stays), SIGTERM drains (new INVITEs 503 + Retry-After, the transaction
 * in flight completes) and exits 0, a bad config exits 1 naming the key.
 * Everything on 127.0.0.x with ephemeral ports; each child is killed if a
 * test fails.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';

import { Method } from '../../src/native/layout';
import { ROOT } from '../helpers/paths';
import { reply, request as sipRequest, SipPeer, sourceOf, uniq, type Received } from '../helpers/sip-peer';
import { request } from '../rpc/helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const children: Child[] = [];
const tmpDirs: string[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-life-'));
  tmpDirs.push(d);
  return d;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { proc, lines: [], stderr: '', exited: undefined as never };
  let buf = '';
  proc.stdout!.on('data', (b: Buffer) => {
    buf += b.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        c.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        c.lines.push({ msg: line });
      }
    }
  });
  proc.stderr!.on('data', (b: Buffer) => (c.stderr += b.toString('utf8')));
  c.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve((c.exit = { code, signal }))));
  children.push(c);
  return c;
}

async function waitLog(c: Child, pred: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const l = c.lines.find(pred);
    if (l) return l;
    if (c.exit) throw new Error(`child exited (${JSON.stringify(c.exit)}) before ${what}; stderr: ${c.stderr}; log: ${JSON.stringify(c.lines).slice(-2000)}`);
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log: ${JSON.stringify(c.lines).slice(-2000)}`);
    await sleep(25);
  }
}

/** Waits for the start log line; returns the SIP and HTTP ports. */
async function started(c: Child): Promise<{ sip: number; http: number }> {
  const l = await waitLog(c, (x) => typeof x['msg'] === 'string' && (x['msg'] as string).startsWith('switchyard listening'), 15_000, 'the start log line');
  const sip = Number(/:(\d+)$/.exec((l['listen'] as string[])[0]!)![1]);
  const http = Number(/:(\d+)$/.exec(l['http'] as string)![1]);
  return { sip, http };
}

function config(dir: string, list: string, extra = ''): string {
  const listFile = path.join(dir, 'dispatcher.list');
  fs.writeFileSync(listFile, list);
  const file = path.join(dir, 'switchyard.yaml');
  fs.writeFileSync(
    file,
    `listen: udp:127.0.0.1:0
log_level: info
tm:
  fr_timer: 1000
  fr_inv_timer: 8000
  t1: 100
  t2: 400
  t4: 500
dispatcher:
  list_file: ./dispatcher.list
  ds_ping_interval: 0
http:
  listen: 127.0.0.1:0
${extra}`,
  );
  return file;
}

async function rpcCall(port: number, method: string, params: unknown[] = []): Promise<{ result?: unknown; error?: { message: string } }> {
  const r = await request(port, { body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) });
  return JSON.parse(r.body) as { result?: unknown; error?: { message: string } };
}

afterEach(() => {
  for (const c of children.splice(0)) if (!c.exit) c.proc.kill('SIGKILL');
});
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('switchyard process lifecycle', { timeout: 90_000 }, () => {
  test('SIGHUP reloads the dispatcher list; a bad list is logged and the old one stays', async () => {
    const dir = tmpDir();
    const file = config(dir, '1 sip:127.0.0.151:5060\n', 'workers: 0\n');
    const c = startChild(['--config', file]);
    const { http } = await started(c);
    const nrsets = async (): Promise<number> => ((await rpcCall(http, 'dispatcher.list')).result as { NRSETS: number }).NRSETS;
    assert.equal(await nrsets(), 1);

    fs.writeFileSync(path.join(dir, 'dispatcher.list'), '1 sip:127.0.0.151:5060\n2 sip:127.0.0.152:5060\n3 sip:127.0.0.153:5060\n');
    c.proc.kill('SIGHUP');
    await waitLog(c, (l) => l['msg'] === 'dispatcher list reloaded' && l['reason'] === 'SIGHUP', 5000, 'the reload log');
    assert.equal(await nrsets(), 3);

    fs.writeFileSync(path.join(dir, 'dispatcher.list'), '1 sip:127.0.0.151:5060\n4\n');
    c.proc.kill('SIGHUP');
    const warn = await waitLog(c, (l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('dispatcher reload failed'), 5000, 'the failed reload warning');
    assert.equal(warn['level'], 40);
    assert.match(String(warn['err']), /:2: setid: bad line/);
    assert.equal(await nrsets(), 3, 'the old list stays');
    // dispatcher.reload of the same bad file answers as Kamailio does.
    assert.equal((await rpcCall(http, 'dispatcher.reload')).error?.message, 'Reload Failed');
    assert.equal(c.exit, undefined, 'still running');

    c.proc.kill('SIGTERM');
    assert.deepEqual(await c.exited, { code: 0, signal: null });
  });

  for (const workers of [0, 1]) test(`SIGTERM (workers ${workers}): new INVITEs get 503 + Retry-After, the call in flight completes, exit 0`, async () => {
    const uac = await SipPeer.bind('127.0.0.155');
    const router = await SipPeer.bind('127.0.0.156');
    try {
      let pending: Received | undefined;
      router.responder = (r, peer) => {
        if (r.msg.methodId === Method.INVITE) {
          pending = r;
          peer.send(reply(r.msg, 180, 'Ringing', { toTag: 'rt' }), sourceOf(r));
        } else if (r.msg.methodId !== Method.ACK) {
          peer.send(reply(r.msg, 200, 'OK', { toTag: 'rt' }), sourceOf(r));
        }
      };
      const dir = tmpDir();
      const file = config(dir, `1 ${router.uri}\n`, `workers: ${workers}\nshutdown_timeout: 6000\n`);
      const c = startChild(['--config', file]);
      const { sip, http } = await started(c);
      const proxy = { ip: '127.0.0.1', port: sip };

      const inFlight = uniq('drain-a');
      uac.send(sipRequest({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId: inFlight }), proxy);
      await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === inFlight && r.msg.status === 180, 3000, '180 for the call in flight');
      assert.ok(pending);

      const t0 = Date.now();
      c.proc.kill('SIGTERM');
      await waitLog(c, (l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('stopping'), 3000, 'the stopping log');

      const late = uniq('drain-b');
      uac.send(sipRequest({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId: late }), proxy);
      const r503 = await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === late && r.msg.status >= 200, 3000, 'a final reply to the new INVITE');
      assert.equal(r503.msg.status, 503);
      assert.match(r503.raw.toString('latin1'), /\r\nRetry-After: \d+\r\n/i);
      assert.equal(router.all((r) => r.msg.isRequest && r.msg.callId === late).length, 0, 'not relayed');
      // The management plane still answers while draining.
      assert.equal(((await rpcCall(http, 'dispatcher.list')).result as { NRSETS: number }).NRSETS, 1);
      assert.equal(c.exit, undefined, 'waits for the transaction in flight');

      router.send(reply(pending!.msg, 200, 'OK', { toTag: 'rt', contact: `sip:callee@${router.hostport}` }), sourceOf(pending!));
      const ok = await uac.waitFor((r) => r.msg.isResponse && r.msg.callId === inFlight && r.msg.status === 200, 3000, '200 for the call in flight');
      assert.equal(ok.msg.cseqMethod, 'INVITE');
      const exit = await Promise.race([c.exited, sleep(10_000).then(() => undefined)]);
      assert.deepEqual(exit, { code: 0, signal: null }, `exit: ${JSON.stringify(exit)}; stderr: ${c.stderr}`);
      assert.ok(Date.now() - t0 < 9000, 'within shutdown_timeout');
      assert.ok(c.lines.some((l) => l['msg'] === 'stopped'), 'the last log line was flushed');
    } finally {
      await Promise.all([uac.close(), router.close()]);
    }
  });

  test('SIGTERM with nothing in flight exits 0 at once', async () => {
    const dir = tmpDir();
    const c = startChild(['--config', config(dir, '1 sip:127.0.0.157:5060\n', 'workers: 2\n')]);
    await started(c);
    const t0 = Date.now();
    c.proc.kill('SIGTERM');
    assert.deepEqual(await c.exited, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  test('a bad config exits 1 naming the key (also for the new keys)', async () => {
    const dir = tmpDir();
    for (const [extra, key] of [
      ['shutdown_timeout: -1\n', 'shutdown_timeout'],
      ['workers: 99\n', 'workers'],
      ['dialog:\n  default_timeout: nope\n', 'dialog.default_timeout'],
    ] as const) {
      const file = config(dir, '1 sip:127.0.0.158:5060\n', extra);
      const c = startChild(['--config', file]);
      const exit = await Promise.race([c.exited, sleep(15_000).then(() => undefined)]);
      assert.deepEqual(exit, { code: 1, signal: null }, key);
      assert.match(c.stderr, new RegExp(`switchyard\\.yaml:\\d+: ${key.replace('.', '\\.')}: `), c.stderr);
    }
    const file = path.join(dir, 'bad-http.yaml');
    fs.writeFileSync(file, 'http:\n  listen: 127.0.0.1:0\n  max_bodyy: 5\n');
    const c = startChild(['--config', file]);
    assert.deepEqual(await c.exited, { code: 1, signal: null });
    assert.match(c.stderr, /bad-http\.yaml:3: http\.max_bodyy: unknown key \(did you mean "max_body"\?\)/);
  });
});
