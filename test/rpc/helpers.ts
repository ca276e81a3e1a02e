/**
 * Test helpers for the management plane: an in-process Dataplane with its
 * Management (HTTP on 127.0.0.1, ephemeral port), raw HTTP requests, and the
 * Kamailio request/response captures of test/fixtures/vectors.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import pino from 'pino';

import { loadConfigText, type ResolvedConfig } from '../../src/config';
import { type DsList } from '../../src/dispatcher';
import { Management } from '../../src/rpc';
import { Dataplane } from '../../src/transport/dataplane';
import { request as sipRequest, type Received, type SipPeer } from '../helpers/sip-peer';

export interface PlaneOptions {
  /** dispatcher.list text, written to a temp list_file. */
  list: string;
  workers?: number;
  /** Extra top-level YAML appended to the config. */
  extra?: string;
  /** Extra keys of the dispatcher section (indented by the caller as `  key: v`). */
  dispatcher?: string;
  /** Extra keys of the http section. */
  http?: string;
  /** Start the dataplane with this list instead of loading list_file. */
  dsList?: DsList;
  listen?: string;
  /** dispatcher.ds_ping_interval, s (default 0: no keepalives). */
  pingInterval?: number;
  /** Put the list inline in the config (`dispatcher.list`) instead of a list_file. */
  inline?: boolean;
}

export interface Plane {
  dp: Dataplane;
  mgmt: Management;
  config: ResolvedConfig;
  port: number;
  dir: string;
  listFile: string;
  sip: { ip: string; port: number };
  close(): Promise<void>;
}

export function planeYaml(o: PlaneOptions, listFile: string): string {
  return `listen: ${o.listen ?? 'udp:127.0.0.1:0'}
workers: ${o.workers ?? 0}
route: sbc
log_level: silent
tm:
  fr_timer: 800
  fr_inv_timer: 3000
  t1: 100
  t2: 400
  t4: 500
dispatcher:
${o.inline ? `  list: |\n${(o.list || '#').replace(/^/gm, '    ')}` : `  list_file: ${listFile}`}
  ds_ping_interval: ${o.pingInterval ?? 0}
${o.dispatcher ?? ''}
http:
  listen: 127.0.0.1:0
${o.http ?? ''}
${o.extra ?? ''}`;
}

export async function startPlane(o: PlaneOptions): Promise<Plane> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-rpc-'));
  const listFile = path.join(dir, 'dispatcher.list');
  fs.writeFileSync(listFile, o.list);
  const config = loadConfigText(planeYaml(o, listFile), { baseDir: dir });
  const log = pino({ level: 'silent' });
  const dp = await Dataplane.start({ config, log, dsList: o.dsList });
  let mgmt: Management;
  try {
    mgmt = await Management.start({ dp, config, log, defaultMetrics: false });
  } catch (err) {
    await dp.stop();
    throw err;
  }
  return {
    dp,
    mgmt,
    config,
    port: mgmt.address!.port,
    dir,
    listFile,
    sip: { ip: '127.0.0.1', port: dp.sockets[0]!.port },
    async close() {
      await mgmt.close();
      await dp.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult {
  status: number;
  reason: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1:port (a fresh connection, bounded by timeoutMs). */
export function request(
  port: number,
  o: { method?: string; path?: string; body?: string | Buffer; headers?: Record<string, string | number>; timeoutMs?: number },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'utf8');
    const headers: Record<string, string | number> = { ...(o.headers ?? {}) };
    if (body && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = body.length;
    const req = http.request(
      { host: '127.0.0.1', port, method: o.method ?? 'POST', path: o.path ?? '/RPC', headers, agent: false, timeout: o.timeoutMs ?? 5000 },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(parts).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`HTTP request timed out after ${o.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export interface RpcReply {
  jsonrpc?: string;
  result?: unknown;
  error?: { code: number; message: string };
  id?: unknown;
}

/** POST /RPC {method, params, id}; returns HTTP status + parsed reply. */
export async function rpc(port: number, method: string, params?: unknown, id: unknown = 1, headers?: Record<string, string>): Promise<{ status: number; reason: string; reply: RpcReply; raw: string }> {
  const doc: Record<string, unknown> = { jsonrpc: '2.0', method };
  if (params !== undefined) doc['params'] = params;
  doc['id'] = id;
  const r = await request(port, { body: JSON.stringify(doc), headers: { 'content-type': 'application/json', ...(headers ?? {}) } });
  return { status: r.status, reason: r.reason, reply: JSON.parse(r.body) as RpcReply, raw: r.body };
}

export interface Vector {
  /** URL path of the request (/RPC or /jsonrpc). */
  path: string;
  /** Request body; '' for the GET without body. */
  request: string;
  /** null when Kamailio never answered (curl timed out). */
  status: number | null;
  reason: string;
  body: string;
}

/** Parses one Kamailio capture (`### request` ... `### response` + raw HTTP). */
export function readVector(file: string): Vector {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const reqLine = lines.findIndex((l) => l.startsWith('### request'));
  const url = /https?:\/\/[^/\s]+(\/\S*)/.exec(lines[reqLine]!)?.[1] ?? '/RPC';
  const request = /\(GET, no body\)/.test(lines[reqLine]!) ? '' : (lines[reqLine + 1] ?? '');
  const inline = /--data-binary '([^']*)'/.exec(lines[reqLine]!);
  const h = text.indexOf('HTTP/1.1 ');
  if (h < 0) return { path: url, request: inline ? inline[1]! : request, status: null, reason: '', body: '' };
  const head = text.slice(h, text.indexOf('\n\n', h));
  const m = /^HTTP\/1\.1 (\d{3}) (.*)$/m.exec(head)!;
  let body = text.slice(text.indexOf('\n\n', h) + 2);
  if (body.endsWith('\n')) body = body.slice(0, -1);
  return { path: url, request, status: Number(m[1]), reason: m[2]!, body };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 25 ms until true or timeoutMs; returns whether it became true. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() >= until) return false;
    await sleep(25);
  }
}

// ------------------------------------------------------------------ calls through the sbc route


export const isReply = (callId: string, code: number, method = 'INVITE') => (r: Received): boolean =>
  r.msg.isResponse && r.msg.callId === callId && r.msg.status === code && r.msg.cseqMethod === method;

export interface Call {
  callId: string;
  ok: Received;
  rr: string;
}

/** INVITE -> 200 -> ACK through the proxy (the routers must answer). */
export async function placeCall(uac: SipPeer, proxy: { ip: string; port: number }, callId: string, timeoutMs = 3000): Promise<Call> {
  uac.send(sipRequest({ method: 'INVITE', ruri: 'sip:callee@example.net', from: uac, callId }), proxy);
  const ok = await uac.waitFor(isReply(callId, 200), timeoutMs, `200 for ${callId}`);
  const rr = ok.msg.recordRoutes[0]!.uri;
  uac.send(sipRequest({ method: 'ACK', ruri: ok.msg.contactUri!, from: uac, callId, toTag: ok.msg.toTag!, routes: [`<${rr}>`] }), proxy);
  return { callId, ok, rr };
}

/** BYE through the proxy, waits for its 200. */
export async function hangUp(uac: SipPeer, proxy: { ip: string; port: number }, c: Call, timeoutMs = 3000): Promise<void> {
  uac.send(sipRequest({ method: 'BYE', ruri: c.ok.msg.contactUri!, from: uac, callId: c.callId, toTag: c.ok.msg.toTag!, cseq: 2, routes: [`<${c.rr}>`] }), proxy);
  await uac.waitFor(isReply(c.callId, 200, 'BYE'), timeoutMs, `200 to BYE ${c.callId}`);
}
