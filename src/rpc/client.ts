/**
 * `switchyard rpc METHOD [PARAM ...]`: a JSON-RPC client like Kamailio's
 * kamcmd, for switchyard or any Kamailio with jsonrpcs over HTTP.
 *
 * Parameters follow kamcmd's rule: a parameter that looks like an integer
 * is sent as a JSON number, one that looks like a decimal number as a
 * double, anything else as a string; `s:` forces a string (`s:5060`), `i:`
 * an integer, `d:` a double.
 *
 * Output: a string result is printed as is (`Ok. Dispatcher state
 * updated.`), anything else as indented JSON; `--raw` prints the reply body
 * as received. Exit codes: 0 ok, 1 the server answered an RPC error, 2 bad
 * usage, 3 the request failed (connection, HTTP status without a JSON-RPC
 * body, timeout).
 */
import { loadConfig } from '../config';

export const RPC_USAGE = `usage: switchyard rpc METHOD [PARAM ...] [--url URL] [--token T] [--config FILE] [--timeout MS] [--raw]

  METHOD          e.g. dispatcher.list, dispatcher.set_state, dlg.list, core.uptime
  PARAM           a number if it looks like one, else a string; s:TEXT forces a string,
                  i:N an integer, d:N a double (kamcmd's rule)
  --url URL       JSON-RPC endpoint (default $SWITCHYARD_RPC_URL, else http.listen of
                  --config, else http://127.0.0.1:8080/RPC)
  --token T       bearer token (default $SWITCHYARD_RPC_TOKEN, else http.token of --config)
  --config FILE   take the URL and token from this switchyard config
  --timeout MS    give up after MS milliseconds (default 10000)
  --raw           print the JSON-RPC reply body as received

exit status: 0 ok, 1 RPC error, 2 usage, 3 request failed
`;

export interface RpcCliArgs {
  method: string;
  params: unknown[];
  url: string;
  token: string | null;
  timeoutMs: number;
  raw: boolean;
}

export interface RpcCliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** kamcmd's parameter typing. */
export function parseRpcParam(arg: string): unknown {
  if (arg.startsWith('s:')) return arg.slice(2);
  if (arg.startsWith('i:')) {
    const n = Number(arg.slice(2));
    return Number.isFinite(n) ? Math.trunc(n) : arg;
  }
  if (arg.startsWith('d:')) {
    const n = Number(arg.slice(2));
    return Number.isFinite(n) ? n : arg;
  }
  if (/^[+-]?\d+$/.test(arg)) {
    const n = Number(arg);
    return Number.isSafeInteger(n) ? n : arg;
  }
  if (/^[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?$/.test(arg)) return Number(arg);
  return arg;
}

class UsageError extends Error {}

function urlFromConfig(file: string): { url: string; token: string | null } {
  const c = loadConfig({ file });
  const l = c.http.listen;
  if (!l) throw new UsageError(`${file}: http.listen is null (no management HTTP)`);
  const host = l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${l.port}/RPC`, token: c.http.token };
}

export function parseRpcArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RpcCliArgs | 'help' {
  const pos: string[] = [];
  let url: string | undefined;
  let token: string | undefined;
  let config: string | undefined;
  let timeoutMs = 10_000;
  let raw = false;
  let optionsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (optionsDone || !a.startsWith('-') || /^-[0-9.]/.test(a)) {
      pos.push(a);
      continue;
    }
    if (a === '--') {
      optionsDone = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-h':
      case '--help':
        return 'help';
      case '--url':
        url = value();
        break;
      case '--token':
        token = value();
        break;
      case '-c':
      case '--config':
        config = value();
        break;
      case '--timeout': {
        const v = Number(value());
        if (!Number.isFinite(v) || v <= 0) throw new UsageError('--timeout must be a positive number of milliseconds');
        timeoutMs = v;
        break;
      }
      case '--raw':
        raw = true;
        break;
      default:
        throw new UsageError(`unknown option ${name}`);
    }
  }
  const method = pos.shift();
  if (!method) throw new UsageError('missing METHOD');
  let fromConfig: { url: string; token: string | null } | undefined;
  if (config !== undefined) fromConfig = urlFromConfig(config);
  const finalUrl = url ?? (env['SWITCHYARD_RPC_URL'] || undefined) ?? fromConfig?.url ?? 'http://127.0.0.1:8080/RPC';
  try {
    const u = new URL(finalUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`bad --url ${finalUrl}`);
  }
  return {
    method,
    params: pos.map(parseRpcParam),
    url: finalUrl,
    token: token ?? (env['SWITCHYARD_RPC_TOKEN'] || undefined) ?? fromConfig?.token ?? null,
    timeoutMs,
    raw,
  };
}

/** Sends one request; returns the exit status. */
export async function rpcCommand(argv: readonly string[], io: RpcCliIo): Promise<number> {
  let a: RpcCliArgs | 'help';
  try {
    a = parseRpcArgs(argv, io.env ?? process.env);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'SY_ERR_CONFIG') {
      io.err(`switchyard rpc: ${(err as Error).message}\n\n${RPC_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (a === 'help') {
    io.out(RPC_USAGE);
    return 0;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', method: a.method, params: a.params, id: 1 });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (a.token !== null) headers['authorization'] = `Bearer ${a.token}`;
  let status: number;
  let text: string;
  try {
    const res = await fetch(a.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(a.timeoutMs) });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${a.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    io.err(`switchyard rpc: ${a.url}: ${why}\n`);
    return 3;
  }
  let reply: { result?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    reply = text.length > 0 ? (JSON.parse(text) as typeof reply) : undefined;
  } catch {
    reply = undefined;
  }
  if (a.raw && text.length > 0) io.out(text.endsWith('\n') ? text : `${text}\n`);
  if (!reply || typeof reply !== 'object') {
    if (status >= 200 && status < 300 && text.length === 0) return 0;
    io.err(`switchyard rpc: ${a.url}: HTTP ${status}${text ? `: ${text.slice(0, 200).trim()}` : ''}\n`);
    return 3;
  }
  if (reply.error !== undefined) {
    const code = reply.error?.code;
    const msg = reply.error?.message;
    io.err(`error: ${String(code)} - ${String(msg)}\n`);
    return 1;
  }
  if (!a.raw) {
    const r = reply.result;
    io.out(typeof r === 'string' ? `${r}\n` : `${JSON.stringify(r, null, 2)}\n`);
  }
  return 0;
}
