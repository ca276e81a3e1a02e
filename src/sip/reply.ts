/**
 * Locally generated replies (100 Trying, 4xx/5xx from the proxy, 200 to a
 * CANCEL, 400 to a malformed request) and the received/rport fix-ups of the
 * top Via (RFC 3261 §18.2.1, RFC 3581 §4).
 */
import { type Addr, intToIpv4 } from './addr';
import { type EditList } from './edit';
import { type SipMessage, type ViaView } from './message';
import { latin1Bytes } from './pool';

export const SERVER_HEADER = 'Server: switchyard';

/** Standard reason phrases for replies we generate (Kamailio core/error.c wording). */
export const REASONS: Readonly<Record<number, string>> = {
  100: 'trying -- your call is important to us',
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  481: 'Call/Transaction Does Not Exist',
  483: 'Too Many Hops',
  487: 'Request Terminated',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
};

/**
 * What the top Via gets: `received` when the sent-by host is not the source
 * address or when the client asked for rport; `rport=<source port>` when it
 * carries an empty ;rport.
 */
export function viaFixups(via: ViaView, src: Addr): { received: string | undefined; rport: number | undefined } {
  const ip = intToIpv4(src.ip);
  const needRport = via.rport === '';
  const received = via.received === undefined && (via.host !== ip || needRport) ? ip : undefined;
  return { received, rport: needRport ? src.port : undefined };
}

/** Applies the top-Via fix-ups as edits of the received message. */
export function editTopVia(edits: EditList, via: ViaView, src: Addr): void {
  const fx = viaFixups(via, src);
  // The bare `rport` parameter becomes rport=<port> (its range is the name).
  if (fx.rport !== undefined) edits.replace(via.rportOff, 5, `rport=${fx.rport}`);
  if (fx.received !== undefined) edits.insert(via.valOff + via.valLen, `;received=${fx.received}`);
}

/** The top Via value as a reply must carry it (with received/rport). */
export function topViaForReply(via: ViaView, src: Addr): string {
  const fx = viaFixups(via, src);
  let v = via.value;
  if (fx.rport !== undefined) {
    const at = via.rportOff - via.valOff;
    v = `${v.slice(0, at)}rport=${fx.rport}${v.slice(at + 5)}`;
  }
  if (fx.received !== undefined) v += `;received=${fx.received}`;
  return v;
}

export interface LocalReplyOptions {
  /** To-tag to add when the request's To has none (not added to 100). */
  toTag?: string | undefined;
  /** Extra header lines, without CRLF. */
  headers?: readonly string[];
  /** Source of the request, for received/rport on the top Via. */
  src: Addr;
}

/** Builds `SIP/2.0 code reason` for a request (RFC 3261 §8.2.6.2). */
export function buildLocalReply(req: SipMessage, code: number, reason: string, opts: LocalReplyOptions): Buffer {
  const vias = req.vias;
  const lines: string[] = [`SIP/2.0 ${code} ${reason}`];
  vias.forEach((v, i) => lines.push(`Via: ${i === 0 ? topViaForReply(v, opts.src) : v.value}`));
  lines.push(`From: ${req.from}`);
  let to = req.to;
  if (code > 100 && req.toTag === undefined && opts.toTag) to += `;tag=${opts.toTag}`;
  lines.push(`To: ${to}`);
  lines.push(`Call-ID: ${req.callId}`);
  lines.push(`CSeq: ${req.cseq} ${req.cseqMethod}`);
  if (opts.headers) lines.push(...opts.headers);
  lines.push(SERVER_HEADER);
  lines.push('Content-Length: 0');
  return latin1Bytes(lines.join('\r\n') + '\r\n\r\n');
}

/**
 * Where a reply to this request goes (RFC 3261 §18.2.2, RFC 3581 §4): the
 * source address when the client asked for rport, else the source IP and the
 * sent-by port (5060 when absent).
 */
export function replyAddress(topVia: ViaView | undefined, src: Addr): Addr {
  if (!topVia || topVia.rport !== undefined) return src;
  return { ip: src.ip, port: topVia.port || 5060 };
}
