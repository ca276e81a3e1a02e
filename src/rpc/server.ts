/**
 * The management HTTP server (fastify) on `http.listen`:
 *
 *   POST /RPC, /jsonrpc (and below them, as Kamailio's usual
 *        `^/(RPC|jsonrpc)` xhttp rule)   JSON-RPC 2.0 (jsonrpc.ts)
 *   GET  /RPC ...                        answered too (-32700: no body)
 *   GET  /metrics                        Prometheus text (metrics.ts)
 *
 * Like Kamailio the Content-Type of a request is not looked at: every body is
 * read raw and parsed as JSON by the RPC layer. Replies: `Content-Type:
 * application/json`, status/reason from the fault (Kamailio xhttp), TAB-indented
 * JSON like jsonrpcs' pretty_format=1.
 *
 * Guards, answered before the body is read: `http.token` (every route needs
 * `Authorization: Bearer <token>`; else 401 with WWW-Authenticate), and
 * `http.max_body` (413). Transport-level problems get a JSON-RPC error body
 * with the HTTP status as code and id null. A handler never takes the
 * process down: unexpected errors are logged and answered 500.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Logger } from 'pino';
import { type Registry } from 'prom-client';

import { dispatchRpc, reasonPhrase } from './jsonrpc';
import { type RpcRegistry } from './registry';
import { printKamailioJson } from './srjson';

export interface HttpServerOptions {
  host: string;
  port: number;
  token: string | null;
  maxBody: number;
  registry: RpcRegistry;
  metrics: Registry | null;
  log: Logger;
  /** `Server:` header value. */
  server: string;
}

const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer[ \t]+(.+?)[ \t]*$/i.exec(header);
  if (!m) return false;
  // Compare digests: equal length, constant time.
  return timingSafeEqual(sha(m[1]!), sha(token));
}

function errorBody(code: number, message: string): string {
  return printKamailioJson({ jsonrpc: '2.0', error: { code, message }, id: null });
}

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.raw.statusMessage = reasonPhrase(message);
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(errorBody(status, message), 'utf8'));
}

export async function startHttpServer(o: HttpServerOptions): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({
    logger: false,
    bodyLimit: o.maxBody,
    forceCloseConnections: true,
    return503OnClosing: true,
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 5_000,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('server', o.server);
    if (o.token !== null && !tokenMatches(req.headers.authorization, o.token)) {
      reply.header('www-authenticate', 'Bearer realm="switchyard"');
      return sendError(reply, 401, 'Unauthorized');
    }
    return undefined;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) o.log.error({ err }, 'management HTTP request failed');
    else o.log.debug({ code: err.code, status }, 'management HTTP request refused');
    const text = status === 413 ? 'Request Entity Too Large' : status === 415 ? 'Unsupported Media Type' : status >= 500 ? 'Internal Server Error' : 'Bad Request';
    return sendError(reply, status, text);
  });

  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('Not Found: use POST /RPC (JSON-RPC) or GET /metrics\n');
  });

  const rpc = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const r = await dispatchRpc(body, o.registry, { log: o.log });
    reply.raw.statusMessage = r.reason;
    reply.code(r.status);
    if (r.body === null) return reply.send();
    return reply.header('content-type', 'application/json').send(Buffer.from(r.body, 'utf8'));
  };
  for (const url of ['/RPC', '/RPC/*', '/jsonrpc', '/jsonrpc/*']) {
    app.route({ method: ['POST', 'GET'], url, handler: rpc });
  }

  if (o.metrics) {
    const metrics = o.metrics;
    app.get('/metrics', async (_req, reply) => {
      const text = await metrics.metrics();
      return reply.header('content-type', metrics.contentType).send(text);
    });
  }

  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return { app, port };
}
