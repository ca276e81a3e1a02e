/**
 * The answer to a malformed message (slow path, never on good traffic): a
 * 400 when the request can still be answered — a request line and the raw
 * Via, From, To, Call-ID and CSeq lines a reply must echo — else nothing.
 * Replies, ACKs and keep-alives are never answered. The reply goes to the
 * datagram's source address: a broken Via is not to be trusted.
 */
import { type ParseErrorName } from '../native/layout';
import { canonicalHeaderName } from './message';
import { SERVER_HEADER } from './reply';

const ECHOED = ['via', 'from', 'to', 'call-id', 'cseq'] as const;

/** Human-readable explanation per scanner error (Warning text of the 400). */
export const PARSE_ERROR_TEXT: Readonly<Partial<Record<ParseErrorName, string>>> = {
  BAD_START_LINE: 'Malformed request line',
  BAD_VERSION: 'Unsupported SIP version',
  MISSING_VIA: 'Missing Via',
  MISSING_FROM: 'Missing From',
  MISSING_TO: 'Missing To',
  MISSING_CALLID: 'Missing Call-ID',
  MISSING_CSEQ: 'Missing CSeq',
  CSEQ_MISMATCH: 'CSeq method does not match the request method',
  BAD_CSEQ: 'Malformed CSeq',
  BAD_CONTENT_LENGTH: 'Bad Content-Length',
  TOO_MANY_HEADERS: 'Too many header fields',
  HEADER_TOO_LONG: 'Header field too long',
  MESSAGE_TOO_LONG: 'Message too long',
  NUL_BYTE: 'NUL byte in the header section',
  BAD_LINE_ENDING: 'Bad line ending',
  BAD_HEADER: 'Malformed header field',
  NO_HEADER_END: 'Header section not terminated',
  BAD_VIA: 'Malformed Via',
  BAD_FROM: 'Malformed From',
  BAD_TO: 'Malformed To',
  BAD_MAX_FORWARDS: 'Malformed Max-Forwards',
  TOO_MANY_VALUES: 'Too many Via/Route values',
  BAD_CALLID: 'Malformed Call-ID',
  DUPLICATE_HEADER: 'Duplicate header field',
  BAD_CONTACT: 'Malformed Contact',
  BAD_ROUTE: 'Malformed Route',
};

const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) \S+ SIP\/\d+\.\d+$/;

/** Builds the 400 for a malformed datagram, or undefined when it cannot be answered. */
export function buildBadRequestReply(raw: Buffer, error: ParseErrorName, agentHost: string): Buffer | undefined {
  if (error === 'EMPTY' || error === 'MESSAGE_TOO_LONG') return undefined;
  const text = raw.toString('latin1', 0, Math.min(raw.length, 65535));
  const headEnd = text.search(/\r?\n\r?\n/);
  const lines = (headEnd >= 0 ? text.slice(0, headEnd) : text).split(/\r?\n/);
  const start = lines[0]?.trimStart() ?? '';
  const m = REQUEST_LINE.exec(start);
  if (!m || m[1] === 'ACK') return undefined;
  const found = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && last) {
      const vals = found.get(last);
      if (vals) vals[vals.length - 1] += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      last = undefined;
      continue;
    }
    const name = canonicalHeaderName(line.slice(0, colon).trim());
    last = (ECHOED as readonly string[]).includes(name) ? name : undefined;
    if (!last) continue;
    const v = line.slice(colon + 1).trim();
    if (/[\0\r]/.test(v)) return undefined;
    found.set(name, [...(found.get(name) ?? []), v]);
  }
  for (const h of ECHOED) if (!found.get(h)?.length) return undefined;
  const out = ['SIP/2.0 400 Bad Request'];
  for (const v of found.get('via')!) out.push(`Via: ${v}`);
  out.push(`From: ${found.get('from')![0]}`, `To: ${found.get('to')![0]}`);
  out.push(`Call-ID: ${found.get('call-id')![0]}`, `CSeq: ${found.get('cseq')![0]}`);
  out.push(`Warning: 399 ${agentHost} "${PARSE_ERROR_TEXT[error] ?? error}"`, SERVER_HEADER, 'Content-Length: 0');
  return Buffer.from(out.join('\r\n') + '\r\n\r\n', 'latin1');
}
