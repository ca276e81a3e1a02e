/**
 * The baseline: a plain TypeScript SIP header parse, the way JavaScript SIP
 * stacks commonly do it (decode to a string, split lines, unfold, split
 * name/value, expand compact names, pick out the fields a proxy needs). Used
 * only by the parser benchmark, to compare against the scanner.
 */
const COMPACT: Record<string, string> = {
  v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type',
  k: 'supported', s: 'subject', e: 'content-encoding', o: 'event', u: 'allow-events',
};

export interface PlainMessage {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  headers: Record<string, string[]>;
  callId: string;
  fromTag?: string;
  toTag?: string;
  cseq: number;
  cseqMethod: string;
  vias: { branch?: string; host: string }[];
  body: string;
}

export function plainParse(buf: Buffer): PlainMessage {
  const text = buf.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4);
  const lines = head.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  const start = lines[0]!.split(' ');
  const msg: PlainMessage = { headers: {}, callId: '', cseq: 0, cseqMethod: '', vias: [], body };
  if (start[0]!.startsWith('SIP/')) {
    msg.status = Number(start[1]);
    msg.reason = start.slice(2).join(' ');
  } else {
    msg.method = start[0];
    msg.uri = start[1];
  }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const value = line.slice(colon + 1).trim();
    (msg.headers[name] ??= []).push(value);
  }
  const h = msg.headers;
  msg.callId = h['call-id']?.[0] ?? '';
  const tag = (v: string | undefined): string | undefined => /;\s*tag=([^;>\s]+)/i.exec(v ?? '')?.[1];
  msg.fromTag = tag(h['from']?.[0]);
  msg.toTag = tag(h['to']?.[0]);
  const [num, m] = (h['cseq']?.[0] ?? '').split(/\s+/);
  msg.cseq = Number(num);
  msg.cseqMethod = m ?? '';
  for (const v of h['via'] ?? []) {
    for (const part of v.split(',')) {
      const sentBy = part.trim().split(/\s+/)[1] ?? '';
      msg.vias.push({ host: sentBy.split(';')[0]!, branch: /;\s*branch=([^;\s]+)/i.exec(part)?.[1] });
    }
  }
  return msg;
}
