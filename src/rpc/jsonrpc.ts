/**
 * JSON-RPC 2.0 over one HTTP body, answering like Kamailio 5.6.3's jsonrpcs
 * where Kamailio answers, and like JSON-RPC 2.0 where it does not
 * (shared/spec/rpc.md §1, the captures in test/fixtures/vectors/dispatcher/rpc/).
 *
 * Kamailio's behaviour kept (scripts written for it work unchanged):
 * - reply `{"jsonrpc":"2.0","result"|"error":...,"id":...}` in that member
 *   order, printed with srjson's TAB layout (srjson.ts);
 * - unknown method: HTTP 500 "Method Not Found", error code 500
 *   (method_not_found.txt) - not -32601;
 * - `jsonrpc` missing or not "2.0", or `params` present but not an
 *   array/object: HTTP 200 with an empty result `{}` and the method not run
 *   (missing_jsonrpc_field.txt, params_not_array.txt);
 * - a fault with code > 100 is the HTTP status, its text the reason phrase;
 *   lower codes give HTTP 500;
 * - a result-less handler gives `{}` (or `[]` for array methods).
 *
 * Where Kamailio gives no usable answer, JSON-RPC 2.0 rules:
 * - body that is not JSON (and an empty body / GET): -32700 "Parse Error"
 *   (Kamailio sends nothing at all and the client hangs: invalid_json.txt,
 *   get_no_body.txt);
 * - JSON that is not an object (or a batch element that is not), `method`
 *   missing or not a string, `id` not a string/number/null: -32600
 *   "Invalid Request" with id null;
 * - batch requests (a JSON array, which Kamailio does not support): each
 *   element handled as above, in order, the replies in an array, HTTP 200;
 *   an empty batch is -32600;
 * - notifications (no `id` member) are executed and get no reply: HTTP 204
 *   with an empty body (Kamailio replies without an `id`,
 *   no_id_notification.txt); a batch of notifications only is also 204;
 * - a handler that throws something other than an RpcFault: -32603
 *   "Internal Error" (logged).
 * The reply `id` is the request's: a number prints as srjson prints it
 * (1.5 -> 1.500000), a string as given, null as null.
 */
import { type Logger } from 'pino';

import { JSONRPC, JSONRPC_TEXT, RpcFault, RpcParams, type RpcRegistry } from './registry';
import { printKamailioJson } from './srjson';

/** Most requests in one batch. */
export const MAX_BATCH = 100;

export interface RpcHttpReply {
  /** HTTP status. */
  readonly status: number;
  /** HTTP reason phrase. */
  readonly reason: string;
  /** Response body; null = no content (notifications). */
  readonly body: string | null;
}

export interface DispatchOptions {
  readonly pretty?: boolean;
  readonly log?: Logger;
}

type Id = string | number | null;

interface Reply {
  readonly status: number;
  readonly reason: string;
  readonly doc: Record<string, unknown>;
}

function errorDoc(code: number, message: string, id: Id, withId = true): Record<string, unknown> {
  const doc: Record<string, unknown> = { jsonrpc: '2.0', error: { code, message } };
  if (withId) doc['id'] = id;
  return doc;
}

/** HTTP status for a fault code (Kamailio xhttp: the code itself when > 100). */
export function httpStatusOf(code: number): number {
  return code > 100 && code <= 999 ? code : 500;
}

/** A fault text usable as an HTTP reason phrase (visible Latin-1, at most 127 bytes as Kamailio's buffer). */
export function reasonPhrase(text: string): string {
  const s = text.replace(/[^\t\x20-\x7e]/g, '?').slice(0, 127);
  return s.length > 0 ? s : 'Error';
}

function standardError(code: number, id: Id): Reply {
  const text = JSONRPC_TEXT[code] ?? 'Error';
  return { status: httpStatusOf(code), reason: text, doc: errorDoc(code, text, id) };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Runs one request object; null for a notification. */
async function runOne(req: unknown, registry: RpcRegistry, o: DispatchOptions): Promise<Reply | null> {
  if (!isPlainObject(req)) return standardError(JSONRPC.INVALID_REQUEST, null);
  const hasId = Object.prototype.hasOwnProperty.call(req, 'id');
  const rawId = req['id'];
  if (hasId && rawId !== null && typeof rawId !== 'string' && typeof rawId !== 'number') {
    return standardError(JSONRPC.INVALID_REQUEST, null);
  }
  const id: Id = hasId ? (rawId as Id) : null;
  const reply = (r: Reply): Reply | null => (hasId ? r : null);
  const withId = (doc: Record<string, unknown>): Record<string, unknown> => {
    if (hasId) doc['id'] = id;
    return doc;
  };

  // Kamailio: a wrong or missing version answers an empty result, the method is not run.
  if (req['jsonrpc'] !== '2.0') return reply({ status: 200, reason: 'OK', doc: withId({ jsonrpc: '2.0', result: {} }) });
  const method = req['method'];
  if (typeof method !== 'string') return reply(standardError(JSONRPC.INVALID_REQUEST, id));
  const m = registry.get(method);
  if (!m) return reply({ status: 500, reason: 'Method Not Found', doc: errorDoc(500, 'Method Not Found', id, hasId) });
  const params = req['params'];
  if (params !== undefined && (typeof params !== 'object' || params === null)) {
    return reply({ status: 200, reason: 'OK', doc: withId({ jsonrpc: '2.0', result: m.array ? [] : {} }) });
  }

  let result: unknown;
  try {
    result = await m.handler(new RpcParams(params), { method, notification: !hasId });
  } catch (err) {
    if (err instanceof RpcFault) {
      return reply({ status: httpStatusOf(err.code), reason: reasonPhrase(err.message), doc: errorDoc(err.code, err.message, id, hasId) });
    }
    o.log?.error({ err, method }, 'RPC handler failed');
    return reply(standardError(JSONRPC.INTERNAL_ERROR, id));
  }
  if (result === undefined) result = m.array ? [] : {};
  return reply({ status: 200, reason: 'OK', doc: withId({ jsonrpc: '2.0', result }) });
}

/**
 * Answers one HTTP request body. Never throws: every failure is a JSON-RPC
 * error reply.
 */
export async function dispatchRpc(body: string, registry: RpcRegistry, o: DispatchOptions = {}): Promise<RpcHttpReply> {
  const pretty = o.pretty ?? true;
  const out = (r: Reply): RpcHttpReply => ({ status: r.status, reason: r.reason, body: printKamailioJson(r.doc, pretty) });
  let doc: unknown;
  try {
    if (body.trim().length === 0) throw new SyntaxError('empty body');
    doc = JSON.parse(body);
  } catch {
    return out(standardError(JSONRPC.PARSE_ERROR, null));
  }
  if (Array.isArray(doc)) {
    if (doc.length === 0 || doc.length > MAX_BATCH) return out(standardError(JSONRPC.INVALID_REQUEST, null));
    const replies: Record<string, unknown>[] = [];
    for (const req of doc) {
      const r = await runOne(req, registry, o);
      if (r) replies.push(r.doc);
    }
    if (replies.length === 0) return { status: 204, reason: 'No Content', body: null };
    return { status: 200, reason: 'OK', body: printKamailioJson(replies, pretty) };
  }
  const r = await runOne(doc, registry, o);
  if (!r) return { status: 204, reason: 'No Content', body: null };
  return out(r);
}
