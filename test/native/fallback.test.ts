/**
 * Differential test: the TypeScript scanner (src/native/fallback.ts) against
 * the native addon (build/Release/switchyard.node), loaded directly. Every
 * case compares the return code and all STRIDE output slots (both arrays
 * start from the same garbage, so a slot one side writes and the other does
 * not is caught too).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

import { vector } from '../helpers/paths';
import { fallbackScanner } from '../../src/native/fallback';
import { DEFAULT_LIMITS, E, E_SIZE, FIXED, MAX_ENTRIES, PARSE_ERRORS, ParseError, S, STRIDE, type ParseErrorName } from '../../src/native/layout';
import type { SipScanner } from '../../src/native/index';

type NativeBinding = Omit<SipScanner, 'kind'> & { layout: Record<string, number> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const native = require(path.join(__dirname, '..', '..', '..', 'build', 'Release', 'switchyard.node')) as NativeBinding;
const fb = fallbackScanner;

const VECTOR_DIR = vector('dmq');

// ---------------------------------------------------------------------------
// Helpers.

/** mulberry32: small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SLOT_NAMES: string[] = [];
for (const [k, v] of Object.entries(S)) SLOT_NAMES[v] = k;
const ENTRY_NAMES: string[] = [];
for (const [k, v] of Object.entries(E)) ENTRY_NAMES[v] = ENTRY_NAMES[v] ? `${ENTRY_NAMES[v]}|${k}` : k;

function slotName(i: number): string {
  const m = i % STRIDE;
  if (m < FIXED) return `S.${SLOT_NAMES[m] ?? m}`;
  const e = m - FIXED;
  return `entry[${Math.floor(e / E_SIZE)}].${ENTRY_NAMES[e % E_SIZE] ?? e % E_SIZE}`;
}

const show = (u: Uint8Array, from: number, to: number): string => JSON.stringify(Buffer.from(u.subarray(from, to)).toString('latin1'));
const errName = (r: number): string => (r <= 0 && r > -PARSE_ERRORS.length ? PARSE_ERRORS[-r]! : String(r));

/** Fills with the same garbage on both sides (never NONE or 0, so a missing write shows). */
function garbage(out: Uint32Array, seed: number): void {
  for (let i = 0; i < out.length; i++) out[i] = (Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0 || 7;
}

function diff(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function assertSameOut(what: string, rn: number, rf: number, on: Uint32Array, of: Uint32Array, buf: Uint8Array, off: number, len: number): void {
  const d = diff(on, of);
  if (rn === rf && d < 0) return;
  const lines = [`${what}: native ${errName(rn)} vs fallback ${errName(rf)}`, `input ${show(buf, off, off + len)} (off ${off}, len ${len})`];
  let shown = 0;
  for (let i = 0; i < on.length && shown < 12; i++) {
    if (on[i] !== of[i]) {
      lines.push(`  ${slotName(i)} [${i}]: native ${on[i]} fallback ${of[i]}`);
      shown++;
    }
  }
  assert.fail(lines.join('\n'));
}

const outN = new Uint32Array(STRIDE * 3);
const outF = new Uint32Array(STRIDE * 3);

/** Parses buf[off, off+len) with both scanners at out index `at`; asserts identical output. Returns the code. */
function compare(what: string, buf: Uint8Array, off = 0, len = buf.length, at = 0, seed = 0x5a5a5a5a): number {
  garbage(outN, seed);
  outF.set(outN);
  const rn = native.parse(buf, off, len, outN, at);
  const rf = fb.parse(buf, off, len, outF, at);
  assertSameOut(what, rn, rf, outN, outF, buf, off, len);
  return rn;
}

const CRLF = '\r\n';
/** A message from header lines (the first is the start line) and a body; Content-Length is not added. */
const msg = (lines: string[], body = '', eol = CRLF): Buffer => Buffer.from(lines.join(eol) + eol + eol + body, 'latin1');

// ---------------------------------------------------------------------------
// Hand-written messages.

const SDP = ['v=0', 'o=alice 2890844526 2890844526 IN IP4 198.51.100.1', 's=-', 'c=IN IP4 198.51.100.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join(CRLF);

const INVITE_LINES = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice, A." <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Type: application/sdp',
  `Content-Length: ${SDP.length}`,
];
/** INVITE_LINES with line i replaced (string), removed (null) or extra lines appended. */
function invite(edit: Record<number, string | null> = {}, extra: string[] = [], body = SDP): Buffer {
  const lines: string[] = [];
  INVITE_LINES.forEach((l, i) => {
    const r = i in edit ? edit[i] : l;
    if (r != null) lines.push(r);
  });
  return msg([...lines, ...extra], body);
}
const BASE_REQ = (method: string, extra: string[] = []): Buffer =>
  msg([
    `${method} sip:bob@192.0.2.4 SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8',
    'Max-Forwards: 70',
    'From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl',
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356',
    'Call-ID: 3848276298220188511@atlanta.example.com',
    `CSeq: 2 ${method}`,
    ...extra,
    'Content-Length: 0',
  ]);
const BARE = (extra: string[]): string[] => [
  'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  'From: <sip:a@x>;tag=1',
  'To: <sip:b@y>',
  'Call-ID: c1',
  'CSeq: 1 OPTIONS',
  ...extra,
];
const OPT = (extra: string[] = [], start = 'OPTIONS sip:b@y SIP/2.0'): Buffer => msg([start, ...BARE(extra)]);
const RESP = (start: string, extra: string[] = []): Buffer => msg([start, ...BARE(extra)]);
/** The OPTIONS of BARE with the line starting with `prefix` replaced. */
const swap = (prefix: string, line: string): Buffer =>
  msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith(prefix) ? line : l))]);
const SDP_LF = SDP.replace(/\r\n/g, '\n');

const VALID: [string, Buffer][] = [
  ['INVITE with SDP', invite()],
  [
    '200 OK with two Vias and Record-Routes',
    msg(
      [
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3',
        'Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2',
        'Record-Route: <sip:server10.biloxi.example.com;lr>, <sip:bigbox3.site3.atlanta.example.com;lr>',
        'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
        'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
        'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
        'CSeq: 314159 INVITE',
        'Contact: <sip:bob@192.0.2.4>',
        'Content-Type: application/sdp',
        `Content-Length: ${SDP.length}`,
      ],
      SDP,
    ),
  ],
  ['BYE with Routes', BASE_REQ('BYE', ['Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>', 'Route: <sip:p3.example.com;lr=on>'])],
  ['CANCEL', BASE_REQ('CANCEL')],
  ['ACK', BASE_REQ('ACK', ['Route: <sip:p1.example.com;transport=udp;lr>'])],
  [
    'REGISTER',
    msg([
      'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7',
      'Max-Forwards: 70',
      'To: Bob <sip:bob@biloxi.example.com>',
      'From: Bob <sip:bob@biloxi.example.com>;tag=456248',
      'Call-ID: 843817637684230@998sdasdh09',
      'CSeq: 1826 REGISTER',
      'Contact: <sip:bob@192.0.2.4>;expires=7200, <sip:bob@192.0.2.5>;q=0.5',
      'Expires: 7200',
      'Content-Length: 0',
    ]),
  ],
  ['REGISTER Contact: *', BASE_REQ('REGISTER', ['Contact: *', 'Expires: 0'])],
  [
    'compact headers v f t i m l c k',
    msg(
      [
        'INVITE sip:bob@biloxi.example.com SIP/2.0',
        'v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
        'f: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
        't: sip:bob@biloxi.example.com',
        'i: a84b4c76e66710',
        'CSeq: 1 INVITE',
        'm: sip:alice@pc33.atlanta.example.com;expires=60',
        'k: 100rel',
        'c: application/sdp',
        `l: ${SDP.length}`,
      ],
      SDP,
    ),
  ],
  [
    'compact headers upper case',
    msg(['MESSAGE sip:b@y SIP/2.0', 'V: SIP/2.0/TCP h;branch=z9hG4bKx', 'F: <sip:a@x>;tag=1', 'T: <sip:b@y>', 'I: id', 'CSeq: 1 MESSAGE', 'L: 2', 'C: text/plain'], 'hi'),
  ],
  [
    'folded header lines',
    msg([
      'INVITE sip:bob@biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP pc33.atlanta.example.com',
      '  ;branch=z9hG4bK776asdhds',
      'Max-Forwards:',
      '\t70',
      'To: Bob',
      ' <sip:bob@biloxi.example.com>',
      'From: "Alice" <sip:alice@atlanta.example.com>',
      '   ;tag=1928301774',
      'Call-ID: a84b4c76e66710',
      'CSeq: 314159',
      ' INVITE',
      'Subject: I know you\'re there,',
      '         pick up the phone',
      'Content-Length: 0',
    ]),
  ],
  [
    'multiple Via values in one line and across lines',
    msg([
      'SIP/2.0 180 Ringing',
      'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5061;branch=z9hG4bK2;received=192.0.2.9,',
      '  SIP / 2.0 / TLS c.example.com : 5062 ; branch = z9hG4bK3 ; rport = 1234',
      'Via: SIP/2.0/SCTP d.example.com;rport;branch="z9hG4bK4"',
      'To: <sip:b@y>;tag=77',
      'From: <sip:a@x>;tag=1',
      'Call-ID: c1@x',
      'CSeq: 7 INVITE',
      'Content-Length: 0',
    ]),
  ],
  [
    'Route and Record-Route lists with ;lr',
    BASE_REQ('BYE', [
      'Route: <sip:p1.example.com;lr>, "Proxy, Two" <sip:p2.example.com;lr;transport=tcp>,',
      ' <sip:p3.example.com;LR>, <sip:p4.example.com;lrx>, <sip:p5.example.com?lr>, sip:p6.example.com;lr',
      'Record-Route: <sip:rr1.example.com;lr>,<sip:rr2.example.com>',
      'Record-Route: <sip:[2001:db8::9];lr>',
    ]),
  ],
  [
    'quoted display names with commas',
    msg([
      'OPTIONS sip:b@y SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
      'From: "Doe, John \\"JD\\"" <sip:john@x>;tag=abc',
      'To: "Roe, Jane" <sip:jane@y>',
      'Contact: "Doe, John" <sip:john@192.0.2.1>, <sip:other@x>',
      'Call-ID: c1',
      'CSeq: 1 OPTIONS',
    ]),
  ],
  [
    'IPv6 in Via and URIs',
    msg([
      'INVITE sip:bob@[2001:db8::1]:5060 SIP/2.0',
      'Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1;received=[2001:db8::2];rport=5062',
      'Via: SIP/2.0/UDP [2001:db8::3];branch=z9hG4bK2;received=2001:db8::4',
      'From: <sip:alice@[2001:db8::5]:5060>;tag=1',
      'To: sip:bob@[2001:db8::1]',
      'Contact: <sip:alice@[2001:db8::5]:5060;transport=udp>',
      'Record-Route: <sip:[2001:db8::6]:5060;lr>',
      'Call-ID: v6@[2001:db8::5]',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
    ]),
  ],
  ['bare-LF INVITE', msg(INVITE_LINES.map((l) => (l.startsWith('Content-Length') ? `Content-Length: ${SDP_LF.length}` : l)), SDP_LF, '\n')],
  ['bare-LF OPTIONS', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([])], '', '\n')],
  ['leading CRLFs', Buffer.concat([Buffer.from('\r\n\r\n\n'), OPT()])],
  ['no empty line, ends with the datagram', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n' + BARE([]).join('\r\n') + '\r\n')],
  ['no Content-Length, body to the end', OPT(['Content-Type: text/plain'])],
  ['bytes past Content-Length', Buffer.concat([OPT(['Content-Length: 3']), Buffer.from('abcdefgh')])],
  ['NUL bytes in the body', Buffer.concat([OPT(['Content-Length: 4']), Buffer.from([0, 1, 0, 13])])],
  ['response with no reason phrase', RESP('SIP/2.0 200')],
  ['response with empty reason phrase', RESP('SIP/2.0 486 ')],
  ['response, lower-case version', RESP('sip/2.0 100 Trying')],
  ['unknown method', msg(['FOO sip:b@y SIP/2.0', ...BARE([]).map((l) => l.replace('1 OPTIONS', '1 FOO'))])],
  ['SUBSCRIBE', BASE_REQ('SUBSCRIBE')],
  ['NOTIFY', BASE_REQ('NOTIFY')],
  ['PRACK', BASE_REQ('PRACK')],
  ['PUBLISH', BASE_REQ('PUBLISH')],
  ['INFO', BASE_REQ('INFO')],
  ['REFER', BASE_REQ('REFER')],
  ['MESSAGE', BASE_REQ('MESSAGE')],
  ['UPDATE', BASE_REQ('UPDATE')],
  ['KDMQ', BASE_REQ('KDMQ')],
  ['tel URI and addr-spec with params', OPT(['Contact: tel:+14155550123;ext=1'], 'OPTIONS tel:+14155550123 SIP/2.0')],
  ['spaces before the colon, empty Content-Type', OPT(['Content-Type :', 'X-Empty:'])],
  ['second Contact and Content-Type ignored', OPT(['Contact: <sip:a@x>', 'Contact: garbage <<', 'Content-Type: a/b', 'Content-Type: c/d'])],
  ['Via with quoted and bracketed params, rport with value', OPT(['Via: SIP/2.0/UDP h:0;x="a,b";y=[::1];rport=1;received=1.2.3.4'])],
  ['Max-Forwards 0 and 255', OPT(['Max-Forwards: 255'])],
  ['CSeq 2^31-1', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => l.replace('CSeq: 1', 'CSeq: 2147483647'))])],
  ['From with token display name and header params', swap('From', 'From: Alice  Smith <sip:a@x> ; tag = "q" ; x')],
  ['To as addr-spec with tag and a bracketed param', swap('To', 'To: sip:b@y;tag=7;x=[v6]')],
  // uri_has_lr() in native/parser.cc looks for ';lr' from the first ';' and
  // stops at the first '?', both of which may be in the user part (RFC 3261
  // §25.1 user-unreserved): suspected native bug, mirrored by the fallback.
  ['lr look-alikes in the user part', OPT(['Route: <sip:u;lr=1@p1.example.com>, <sip:u;lr;x@p2.example.com>, <sip:a?b@p3.example.com;lr>, <sip:alice;lr@p4.example.com>'])],
  ['30 values', OPT(['Via: ' + Array.from({ length: 29 }, (_, i) => `SIP/2.0/UDP h${i};branch=z9hG4bK${i}`).join(',')])],
];

const bigHeaders = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-H${i}: ${i}`);

const MALFORMED: [ParseErrorName, string, Buffer][] = [
  ['EMPTY', 'zero bytes', Buffer.alloc(0)],
  ['EMPTY', 'CRLF keep-alive', Buffer.from('\r\n\r\n')],
  ['EMPTY', 'LF', Buffer.from('\n')],
  ['BAD_START_LINE', 'no SP after method', Buffer.from('INVITE\r\n\r\n')],
  ['BAD_START_LINE', 'two SPs', OPT([], 'OPTIONS  sip:b@y SIP/2.0')],
  ['BAD_START_LINE', 'URI in angle brackets', OPT([], 'OPTIONS <sip:b@y> SIP/2.0')],
  ['BAD_START_LINE', 'trailing whitespace after version', OPT([], 'OPTIONS sip:b@y SIP/2.0 ')],
  ['BAD_START_LINE', 'URI without colon', OPT([], 'OPTIONS bob SIP/2.0')],
  ['BAD_START_LINE', 'HTTP', OPT([], 'GET http://x/ HTTP/1.1')],
  ['BAD_START_LINE', 'no version', OPT([], 'OPTIONS sip:b@y')],
  ['BAD_START_LINE', 'non-token method', OPT([], '@PTIONS sip:b@y SIP/2.0')],
  ['BAD_START_LINE', 'status line without SP', Buffer.from('SIP/2.0\r\n\r\n')],
  ['BAD_START_LINE', 'SP CRLF keep-alive (only CR/LF are skipped)', Buffer.from('\r\n \r\n')],
  ['NO_HEADER_END', 'SP keep-alive', Buffer.from(' ')],
  ['BAD_START_LINE', 'DEL in the URI', OPT([], 'OPTIONS sip:b\x7f@y SIP/2.0')],
  ['BAD_VERSION', 'SIP/3.0 response', RESP('SIP/3.0 200 OK')],
  ['BAD_VERSION', 'SIP/2.0x response', RESP('SIP/2.0x 200 OK')],
  ['BAD_VERSION', 'SIP/7.0 request', OPT([], 'OPTIONS sip:b@y SIP/7.0')],
  ['BAD_VERSION', 'SIP/2.00 request', OPT([], 'OPTIONS sip:b@y SIP/2.00')],
  ['BAD_STATUS', 'two digits', RESP('SIP/2.0 20 OK')],
  ['BAD_STATUS', '099', RESP('SIP/2.0 099 Low')],
  ['BAD_STATUS', '700', RESP('SIP/2.0 700 High')],
  ['BAD_STATUS', 'no SP after the code', RESP('SIP/2.0 200OK')],
  ['BAD_STATUS', 'empty', RESP('SIP/2.0 ')],
  ['BAD_STATUS', 'four digits', RESP('SIP/2.0 2000 OK')],
  ['MISSING_VIA', 'no Via', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).slice(1)])],
  ['MISSING_FROM', 'no From', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).filter((l) => !l.startsWith('From'))])],
  ['MISSING_TO', 'no To', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).filter((l) => !l.startsWith('To'))])],
  ['MISSING_CALLID', 'no Call-ID', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).filter((l) => !l.startsWith('Call-ID'))])],
  ['MISSING_CSEQ', 'no CSeq', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).filter((l) => !l.startsWith('CSeq'))])],
  ['MISSING_VIA', 'only a start line', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n\r\n')],
  ['CSEQ_MISMATCH', 'CSeq BYE on an INVITE', invite({ 6: 'CSeq: 1 BYE' })],
  ['CSEQ_MISMATCH', 'CSeq method in lower case', invite({ 6: 'CSeq: 1 invite' })],
  ['CSEQ_MISMATCH', 'CSeq method prefix', invite({ 6: 'CSeq: 1 INVIT' })],
  ['BAD_CSEQ', 'no number', invite({ 6: 'CSeq: INVITE' })],
  ['BAD_CSEQ', 'no SP', invite({ 6: 'CSeq: 1INVITE' })],
  ['BAD_CSEQ', '2^31', invite({ 6: 'CSeq: 2147483648 INVITE' })],
  ['BAD_CSEQ', 'huge', invite({ 6: 'CSeq: 99999999999999999999 INVITE' })],
  ['BAD_CSEQ', 'non-token method', invite({ 6: 'CSeq: 1 INV@TE' })],
  ['BAD_CSEQ', 'no method', invite({ 6: 'CSeq: 1' })],
  ['BAD_CSEQ', 'trailing junk', invite({ 6: 'CSeq: 1 INVITE x' })],
  ['BAD_CONTENT_LENGTH', 'not a number', invite({ 9: 'Content-Length: abc' })],
  ['BAD_CONTENT_LENGTH', 'larger than the datagram', invite({ 9: 'Content-Length: 1000' })],
  ['BAD_CONTENT_LENGTH', 'twice', invite({}, ['Content-Length: 0'])],
  ['BAD_CONTENT_LENGTH', '2^32-1', invite({ 9: 'Content-Length: 4294967295' })],
  ['BAD_CONTENT_LENGTH', 'trailing junk', invite({ 9: `Content-Length: ${SDP.length} x` })],
  ['BAD_CONTENT_LENGTH', 'empty', invite({ 9: 'Content-Length:' })],
  ['BAD_CONTENT_LENGTH', 'no body at all', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE(['l: 1'])])],
  ['TOO_MANY_HEADERS', '129 fields', OPT(bigHeaders(124))],
  ['HEADER_TOO_LONG', 'one long field', OPT(['X-Long: ' + 'a'.repeat(8200)])],
  ['HEADER_TOO_LONG', 'long by folding', OPT(['X-Long: a', ...Array.from({ length: 100 }, () => ' ' + 'b'.repeat(90))])],
  ['MESSAGE_TOO_LONG', '65536 bytes', Buffer.concat([OPT(['Content-Type: text/plain']), Buffer.alloc(65536 - OPT(['Content-Type: text/plain']).length, 0x61)])],
  ['NUL_BYTE', 'NUL in a header', OPT(['X-A: a\0b'])],
  ['NUL_BYTE', 'NUL in the start line', OPT([], 'OPTIONS sip:b\0@y SIP/2.0')],
  ['BAD_LINE_ENDING', 'LF then CRLF', Buffer.from('OPTIONS sip:b@y SIP/2.0\n' + BARE([]).join('\r\n') + '\r\n\r\n')],
  ['BAD_LINE_ENDING', 'CRLF then LF', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n' + BARE([]).join('\n') + '\n\n')],
  ['BAD_LINE_ENDING', 'stray CR in a header', OPT(['X-A: a\rb'])],
  ['BAD_LINE_ENDING', 'stray CR in the start line', OPT([], 'OPTIONS sip:b@y\rSIP/2.0')],
  ['BAD_LINE_ENDING', 'CRCRLF', OPT(['X-A: a\r'])],
  ['BAD_LINE_ENDING', 'bare LF empty line in a CRLF message', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n' + BARE([]).join('\r\n') + '\r\n\n')],
  ['BAD_HEADER', 'no colon', OPT(['X-A a'])],
  ['BAD_HEADER', 'non-token name', OPT(['@X: a'])],
  ['BAD_HEADER', 'folding before any field', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n folded: x\r\n' + BARE([]).join('\r\n') + '\r\n\r\n')],
  ['BAD_HEADER', 'name only', OPT(['X-A'])],
  ['NO_HEADER_END', 'no LF at all', Buffer.from('OPTIONS sip:b@y SIP/2.0')],
  ['NO_HEADER_END', 'last header without LF', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n' + BARE([]).join('\r\n'))],
  ['NO_HEADER_END', 'CR at the very end', Buffer.from('OPTIONS sip:b@y SIP/2.0\r\n' + BARE([]).join('\r\n') + '\r')],
  ['BAD_VIA', 'no transport', swap('Via', 'Via: SIP/2.0')],
  ['BAD_VIA', 'no host', OPT(['Via: SIP/2.0/UDP'])],
  ['BAD_VIA', 'no SP before host', OPT(['Via: SIP/2.0/UDP/x h'])],
  ['BAD_VIA', 'port too big', OPT(['Via: SIP/2.0/UDP h:65536'])],
  ['BAD_VIA', 'port empty', OPT(['Via: SIP/2.0/UDP h:;branch=z9hG4bK1'])],
  ['BAD_VIA', 'branch without value', OPT(['Via: SIP/2.0/UDP h;branch'])],
  ['BAD_VIA', 'received without value', OPT(['Via: SIP/2.0/UDP h;received'])],
  ['BAD_VIA', 'unclosed IPv6', OPT(['Via: SIP/2.0/UDP [2001:db8::1;branch=z9hG4bK1'])],
  ['BAD_VIA', 'empty param', OPT(['Via: SIP/2.0/UDP h;'])],
  ['BAD_VIA', 'empty param value', OPT(['Via: SIP/2.0/UDP h;x='])],
  ['BAD_VIA', 'trailing comma', OPT(['Via: SIP/2.0/UDP h;branch=z9hG4bK1,'])],
  ['BAD_VIA', 'unbalanced quote', OPT(['Via: SIP/2.0/UDP h;x="a'])],
  ['BAD_VIA', 'empty', OPT(['Via:'])],
  ['BAD_VIA', 'junk after host', OPT(['Via: SIP/2.0/UDP h!x'])],
  ['BAD_FROM', 'empty', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From:' : l))])],
  ['BAD_FROM', 'unclosed <', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: <sip:a@x' : l))])],
  ['BAD_FROM', 'star', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: *' : l))])],
  ['BAD_FROM', 'no scheme', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: alice' : l))])],
  ['BAD_FROM', 'unclosed quote', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: "Alice <sip:a@x>' : l))])],
  ['BAD_FROM', 'junk after >', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: <sip:a@x> x' : l))])],
  ['BAD_FROM', 'tag without value', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('From') ? 'From: <sip:a@x>;tag=' : l))])],
  ['BAD_TO', 'empty', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('To') ? 'To: ' : l))])],
  ['BAD_TO', 'space in URI', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('To') ? 'To: <sip:b @y>' : l))])],
  ['BAD_TO', 'quote in display name', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('To') ? 'To: Bob "B" <sip:b@y>' : l))])],
  ['BAD_MAX_FORWARDS', '256', invite({ 2: 'Max-Forwards: 256' })],
  ['BAD_MAX_FORWARDS', 'not a number', invite({ 2: 'Max-Forwards: x' })],
  ['BAD_MAX_FORWARDS', 'trailing junk', invite({ 2: 'Max-Forwards: 70 x' })],
  ['TOO_MANY_VALUES', `${MAX_ENTRIES + 1} Vias`, OPT(['Via: ' + Array.from({ length: MAX_ENTRIES }, (_, i) => `SIP/2.0/UDP h${i};branch=z9hG4bK${i}`).join(',')])],
  ['TOO_MANY_VALUES', 'Routes and Record-Routes', OPT(['Route: ' + Array.from({ length: MAX_ENTRIES / 2 }, (_, i) => `<sip:p${i};lr>`).join(','), 'Record-Route: ' + Array.from({ length: MAX_ENTRIES / 2 }, (_, i) => `<sip:r${i};lr>`).join(',')])],
  ['BAD_CALLID', 'empty', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('Call-ID') ? 'Call-ID:' : l))])],
  ['BAD_CALLID', 'space inside', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('Call-ID') ? 'Call-ID: a b' : l))])],
  ['BAD_CALLID', 'folded', msg(['OPTIONS sip:b@y SIP/2.0', ...BARE([]).map((l) => (l.startsWith('Call-ID') ? 'Call-ID: a\r\n b' : l))])],
  ['DUPLICATE_HEADER', 'From twice', OPT(['f: <sip:z@x>'])],
  ['DUPLICATE_HEADER', 'To twice', OPT(['To: <sip:z@x>'])],
  ['DUPLICATE_HEADER', 'Call-ID twice', OPT(['i: c1'])],
  ['DUPLICATE_HEADER', 'CSeq twice', OPT(['CSeq: 1 OPTIONS'])],
  ['DUPLICATE_HEADER', 'Max-Forwards twice', OPT(['Max-Forwards: 1', 'Max-Forwards: 1'])],
  ['BAD_CONTACT', 'unclosed <', OPT(['Contact: <sip:a@x'])],
  ['BAD_CONTACT', 'unclosed quote', OPT(['Contact: "a <sip:a@x>'])],
  ['BAD_CONTACT', 'empty first value', OPT(['Contact: ,<sip:a@x>'])],
  ['BAD_CONTACT', 'empty', OPT(['Contact:'])],
  ['BAD_ROUTE', 'star', OPT(['Route: *'])],
  ['BAD_ROUTE', 'trailing comma', OPT(['Route: <sip:p1;lr>,'])],
  ['BAD_ROUTE', 'junk', OPT(['Record-Route: sip:p1 x'])],
  ['BAD_ROUTE', 'empty', OPT(['Route:'])],
  ['BAD_ROUTE', 'unbalanced quote', OPT(['Route: "p <sip:p1>'])],
];

function vectors(): [string, Buffer][] {
  return fs
    .readdirSync(VECTOR_DIR)
    .filter((n) => n.endsWith('.txt'))
    .sort()
    .map((n) => [n, fs.readFileSync(path.join(VECTOR_DIR, n))]);
}

/** In-repo .sip fixtures (RFC 4475 torture messages, an everyday call), when present. */
function fixtures(): [string, Buffer][] {
  const root = path.join(__dirname, '..', '..', '..', 'test', 'fixtures');
  const found: [string, Buffer][] = [];
  for (const sub of ['rfc4475', 'sip']) {
    const dir = path.join(root, sub);
    if (!fs.existsSync(dir)) continue;
    for (const n of fs.readdirSync(dir).sort()) if (n.endsWith('.sip')) found.push([`${sub}/${n}`, fs.readFileSync(path.join(dir, n))]);
  }
  return found;
}

function resetLimits(): void {
  const { maxMessage, maxHeaders, maxHeaderLine } = DEFAULT_LIMITS;
  assert.equal(native.setLimits(maxMessage, maxHeaders, maxHeaderLine), true);
  assert.equal(fb.setLimits(maxMessage, maxHeaders, maxHeaderLine), true);
}

after(resetLimits);

// ---------------------------------------------------------------------------

describe('fallback scanner vs native addon', () => {
  it('is the fallback and the addon layout matches', () => {
    assert.equal(fb.kind, 'fallback');
    assert.equal(native.layout['STRIDE'], STRIDE);
    assert.equal(native.layout['ERR_COUNT'], PARSE_ERRORS.length);
    assert.equal(native.layout['MAX_ENTRIES'], MAX_ENTRIES);
  });

  it('hand-written valid messages parse identically', () => {
    resetLimits();
    for (const [name, buf] of VALID) {
      const r = compare(name, buf);
      assert.equal(r, 0, `${name}: expected OK, native says ${errName(r)} at ${outN[S.ERROR_AT]}`);
    }
  });

  it('hand-written valid messages: spot checks of the extracted fields', () => {
    const get = (name: string): Buffer => VALID.find(([n]) => n === name)![1];
    const str = (buf: Buffer, o: number, l: number): string => buf.toString('latin1', o, o + l);
    let b = get('IPv6 in Via and URIs');
    compare('v6', b);
    assert.equal(str(b, outF[FIXED + E.VIA_HOST_OFF]!, outF[FIXED + E.VIA_HOST_LEN]!), '[2001:db8::1]');
    assert.equal(outF[FIXED + E.VIA_PORT], 5060);
    assert.equal(str(b, outF[FIXED + E.VIA_RECEIVED_OFF]!, outF[FIXED + E.VIA_RECEIVED_LEN]!), '[2001:db8::2]');
    assert.equal(str(b, outF[S.RURI_OFF]!, outF[S.RURI_LEN]!), 'sip:bob@[2001:db8::1]:5060');
    b = get('multiple Via values in one line and across lines');
    compare('vias', b);
    assert.equal(outF[S.VIA_COUNT], 4);
    assert.equal(outF[FIXED + 2 * E_SIZE + E.VIA_PORT], 5062);
    assert.equal(str(b, outF[FIXED + 2 * E_SIZE + E.VIA_TRANSPORT_OFF]!, outF[FIXED + 2 * E_SIZE + E.VIA_TRANSPORT_LEN]!), 'TLS');
    assert.equal(str(b, outF[FIXED + 2 * E_SIZE + E.VIA_RPORT_OFF]!, outF[FIXED + 2 * E_SIZE + E.VIA_RPORT_LEN]!), 'rport = 1234');
    b = get('Route and Record-Route lists with ;lr');
    compare('routes', b);
    assert.equal(outF[S.ROUTE_COUNT], 6);
    assert.equal(outF[S.RR_COUNT], 3);
    const lr = Array.from({ length: 9 }, (_, i) => outF[FIXED + (i + 1) * E_SIZE + E.RT_LR]); // entry 0 is the Via
    // p6 is an addr-spec: its ;lr is a header parameter, not a URI one.
    assert.deepEqual(lr, [1, 1, 1, 0, 0, 0, 1, 0, 1]);
    b = get('lr look-alikes in the user part');
    compare('lr look-alikes', b);
    assert.deepEqual(
      Array.from({ length: 4 }, (_, i) => outF[FIXED + (i + 1) * E_SIZE + E.RT_LR]),
      [0, 0, 1, 0],
      'uri_has_lr(): parameters follow the host part (RFC 3261 §19.1.1, §25.1)',
    );
    b = get('quoted display names with commas');
    compare('quoted', b);
    assert.equal(str(b, outF[S.FROM_TAG_OFF]!, outF[S.FROM_TAG_LEN]!), 'abc');
    assert.equal(str(b, outF[S.CONTACT_URI_OFF]!, outF[S.CONTACT_URI_LEN]!), 'sip:john@192.0.2.1');
    b = get('INVITE with SDP');
    compare('invite', b);
    assert.equal(outF[S.BODY_LEN], SDP.length);
    assert.equal(outF[S.CALLID_HASH], fb.hash(b, outF[S.CALLID_OFF]!, outF[S.CALLID_LEN]!));
  });

  it('hand-written malformed messages fail identically, with the intended error', () => {
    resetLimits();
    const seen = new Set<string>();
    for (const [want, name, buf] of MALFORMED) {
      const r = compare(`${want}: ${name}`, buf);
      assert.equal(errName(r), want, `${want}: ${name}: native says ${errName(r)} at ${outN[S.ERROR_AT]}`);
      seen.add(want);
    }
    const untested = PARSE_ERRORS.filter((n) => n !== 'OK' && n !== 'ARGS' && !seen.has(n));
    assert.deepEqual(untested, []);
  });

  it('every shared DMQ vector parses identically', () => {
    resetLimits();
    const vs = vectors();
    assert.ok(vs.length > 0, `no vectors in ${VECTOR_DIR}`);
    for (const [name, buf] of vs) compare(name, buf);
  });

  it('in-repo .sip fixtures (RFC 4475 torture messages, everyday call) parse identically', () => {
    resetLimits();
    for (const [name, buf] of fixtures()) compare(name, buf);
  });

  it('messages at an offset inside a larger buffer and at an output index', () => {
    resetLimits();
    const all = [...VALID.map(([n, b]) => [n, b] as const), ...MALFORMED.map(([e, n, b]) => [`${e}: ${n}`, b] as const)];
    for (const [name, m] of all) {
      for (const [pre, post] of [
        ['', '\n'],
        ['xx', '\r\n\r\nSIP/2.0 200 OK\r\n'],
        ['\n\n\n', '\0'],
      ] as const) {
        const buf = Buffer.concat([Buffer.from(pre), m, Buffer.from(post)]);
        compare(`${name} [pre ${JSON.stringify(pre)} post ${JSON.stringify(post)}]`, buf, pre.length, m.length, STRIDE + 3);
      }
    }
  });

  it('random mutations parse identically (20,000, seeded)', () => {
    resetLimits();
    const rnd = prng(0xc0ffee);
    const corpus = [...VALID.map(([, b]) => b), ...MALFORMED.map(([, , b]) => b).filter((b) => b.length < 20000), ...vectors().map(([, b]) => b), ...fixtures().map(([, b]) => b)];
    const SPECIAL = [13, 10, 0, 0x2c, 0x22, 0x3c, 0x3e, 0x3b, 0x3a, 0x20, 0x09, 0x5b, 0x5d, 0x3d, 0x2f, 0x5c, 0x2a, 0x3f];
    const scratch = Buffer.alloc(80000);
    const counts = new Map<string, number>();
    for (let iter = 0; iter < 20000; iter++) {
      const base = corpus[Math.floor(rnd() * corpus.length)]!;
      let m = Buffer.from(base);
      const nmut = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < nmut; k++) {
        const op = Math.floor(rnd() * 6);
        const at = Math.floor(rnd() * (m.length + 1));
        if (op === 0 && m.length) {
          m[Math.min(at, m.length - 1)] = Math.floor(rnd() * 256); // byte flip
        } else if (op === 1) {
          m = m.subarray(0, at); // truncation
        } else if (op === 2 || op === 3) {
          const c = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!; // insertion
          m = Buffer.concat([m.subarray(0, at), Buffer.from([c]), m.subarray(at)]);
        } else if (op === 4 && m.length) {
          m = Buffer.concat([m.subarray(0, at), m.subarray(Math.min(m.length, at + 1 + Math.floor(rnd() * 8)))]); // deletion
        } else {
          const to = Math.floor(rnd() * (m.length + 1)); // duplicate a slice
          const len = Math.floor(rnd() * 40);
          m = Buffer.concat([m.subarray(0, to), m.subarray(at, at + len), m.subarray(to)]);
        }
      }
      // Place it at a random offset with random neighbours, so a read past
      // either end would show.
      const pre = Math.floor(rnd() * 4);
      for (let i = 0; i < pre; i++) scratch[i] = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!;
      m.copy(scratch, pre);
      for (let i = 0; i < 3; i++) scratch[pre + m.length + i] = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!;
      const r = compare(`mutation #${iter}`, scratch.subarray(0, pre + m.length + 3), pre, m.length, rnd() < 0.5 ? 0 : STRIDE, iter);
      const name = errName(r);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    // The mutations must reach a good share of the outcomes (not only OK or only one error).
    assert.ok(counts.size >= 15, `outcomes reached: ${JSON.stringify([...counts])}`);
  });

  it('random header-value mutations parse identically (10,000, seeded)', () => {
    resetLimits();
    const rnd = prng(0x5eed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const PIECES = ['sip:', 'a', 'b@h', '<', '>', ';', ',', '"', '\\', ' ', '\t', '\r\n ', '=', 'tag', 'lr', 'branch', 'rport', 'received', '[', ']', '::1', ':', '5060', '65536', '*', '?', 'SIP', '/', '2.0', 'UDP', 'x.y', '1', '4294967296', 'INVITE', 'OPTIONS', '\0', '\r', '\n', '!', '~', '\u00e9', '\x7f'];
    const rstr = (n: number): string => Array.from({ length: Math.floor(rnd() * n) }, () => pick(PIECES)).join('');
    const NAMES = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Max-Forwards', 'Route', 'Record-Route', 'Contact', 'm', 'Content-Length', 'l', 'Content-Type', 'c', 'X-A', 'k', 'via', 'TO', 'call-id'];
    const GOOD: [string, string][] = [
      ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport'],
      ['From', '"A, B" <sip:a@x>;tag=1'],
      ['To', 'sip:b@y'],
      ['Call-ID', 'c1@x'],
      ['CSeq', '1 OPTIONS'],
      ['Max-Forwards', '70'],
      ['Route', '<sip:p1;lr>, <sip:[::1]:5060;lr>'],
      ['Contact', '<sip:a@192.0.2.1>;expires=60'],
    ];
    const counts = new Map<string, number>();
    for (let iter = 0; iter < 10000; iter++) {
      const r = rnd();
      const lines = [r < 0.7 ? 'OPTIONS sip:b@y SIP/2.0' : r < 0.9 ? 'SIP/2.0 200 OK' : rstr(8)];
      const hs = GOOD.filter(() => rnd() < 0.92).map(([n, v]) => [n, v] as [string, string]);
      const extra = Math.floor(rnd() * 4);
      for (let j = 0; j < extra; j++) hs.splice(Math.floor(rnd() * (hs.length + 1)), 0, [pick(NAMES), rnd() < 0.5 ? rstr(12) : pick(GOOD)[1] + rstr(4)]);
      if (rnd() < 0.6 && hs.length) {
        const h = pick(hs);
        const at = Math.floor(rnd() * (h[1].length + 1));
        h[1] = h[1].slice(0, at) + rstr(4) + h[1].slice(at + Math.floor(rnd() * 4));
      }
      for (const [n, v] of hs) lines.push(n + (rnd() < 0.1 ? ' :' : ':') + (rnd() < 0.8 ? ' ' : '') + v);
      const m = msg(lines, rnd() < 0.3 ? 'abc' : '', rnd() < 0.85 ? CRLF : '\n');
      const name = errName(compare(`header mutation #${iter}`, m, 0, m.length, 0, iter));
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.ok(counts.size >= 20, `outcomes reached: ${JSON.stringify([...counts])}`);
  });

  it('parseBatch: several messages in one buffer, including spans outside the buffer', () => {
    resetLimits();
    const msgs = [VALID[0]![1], VALID[1]![1], MALFORMED[5]![2], VALID[2]![1], Buffer.alloc(0), vectors()[0]![1], MALFORMED[40]![2]];
    const parts: Buffer[] = [];
    const spanList: number[] = [];
    let off = 0;
    for (const m of msgs) {
      parts.push(Buffer.from('\r\n'), m);
      off += 2;
      spanList.push(off, m.length);
      off += m.length;
    }
    const buf = Buffer.concat(parts);
    spanList.push(buf.length - 10, 11); // one byte past the end: ARGS for that message only
    spanList.push(0xffffffff, 1);
    spanList.push(0, buf.length); // the whole thing: a message followed by others
    const count = spanList.length / 2;
    const spans = Uint32Array.from(spanList);
    const bn = new Uint32Array(count * STRIDE + 5);
    garbage(bn, 99);
    const bf = Uint32Array.from(bn);
    const gn = native.parseBatch(buf, spans, count, bn);
    const gf = fb.parseBatch(buf, spans, count, bf);
    assert.equal(gf, gn);
    assertSameOut('parseBatch', gn, gf, bn, bf, buf, 0, buf.length);
    assert.equal(bf[7 * STRIDE + S.ERROR], ParseError.ARGS);
    assert.ok(gn >= 4);
    // Each batch slot equals a single parse of the same span.
    for (let i = 0; i < msgs.length; i++) {
      compare(`batch item ${i}`, buf, spans[2 * i]!, spans[2 * i + 1]!);
      const used = FIXED + outF[S.ENTRY_COUNT]! * E_SIZE;
      assert.deepEqual(outF.subarray(0, used), bf.subarray(i * STRIDE, i * STRIDE + used));
    }
    // Argument errors of the batch itself.
    const cases: [string, unknown[]][] = [
      ['count too big for spans', [buf, spans, count + 1, new Uint32Array((count + 1) * STRIDE)]],
      ['count too big for out', [buf, spans, count, new Uint32Array(count * STRIDE - 1)]],
      ['count -1', [buf, spans, -1, bn]],
      ['count not a number', [buf, spans, '2', bn]],
      ['spans not Uint32Array', [buf, Array.from(spans), 2, bn]],
      ['buf not Uint8Array', [Array.from(buf), spans, 2, bn]],
      ['out Int32Array', [buf, spans, 2, new Int32Array(count * STRIDE)]],
      ['count 0', [buf, spans, 0, new Uint32Array(0)]],
      ['count NaN (= 0)', [buf, spans, NaN, new Uint32Array(0)]],
      ['count 2.7 (= 2)', [buf, spans, 2.7, new Uint32Array(2 * STRIDE)]],
    ];
    for (const [what, args] of cases) {
      const an = args.slice();
      const af = args.slice();
      if (args[3] instanceof Uint32Array) {
        an[3] = Uint32Array.from(args[3]);
        af[3] = Uint32Array.from(args[3]);
      }
      const rn = (native.parseBatch as (...a: unknown[]) => number)(...an);
      const rf = (fb.parseBatch as (...a: unknown[]) => number)(...af);
      assert.equal(rf, rn, what);
      if (an[3] instanceof Uint32Array) assert.deepEqual(af[3], an[3], what);
    }
  });

  it('parse argument checks match the addon (-ARGS)', () => {
    resetLimits();
    const m = VALID[3]![1];
    const big = new Uint32Array(2 * STRIDE);
    const cases: [string, unknown[]][] = [
      ['len past the end', [m, 0, m.length + 1, big, 0]],
      ['off past the end', [m, m.length + 1, 0, big, 0]],
      ['off at the end, len 0', [m, m.length, 0, big, 0]],
      ['at past the end', [m, 0, m.length, big, STRIDE + 1]],
      ['at exactly fits', [m, 0, m.length, big, STRIDE]],
      ['out too small', [m, 0, m.length, new Uint32Array(STRIDE - 1), 0]],
      ['negative off', [m, -1, 2, big, 0]],
      ['off 2^32 (= 0)', [m, 2 ** 32, m.length, big, 0]],
      ['NaN off (= 0)', [m, NaN, m.length, big, 0]],
      ['fractional len', [m, 0, m.length - 0.5, big, 0]],
      ['string off', [m, '0', m.length, big, 0]],
      ['missing at', [m, 0, m.length, big]],
      ['plain Uint8Array', [new Uint8Array(m), 0, m.length, big, 0]],
      ['Uint8ClampedArray', [new Uint8ClampedArray(m), 0, m.length, big, 0]],
      ['string buffer', [m.toString('latin1'), 0, m.length, big, 0]],
      ['Int32Array out', [m, 0, m.length, new Int32Array(STRIDE), 0]],
      ['Float64Array out', [m, 0, m.length, new Float64Array(STRIDE), 0]],
      ['null out', [m, 0, m.length, null, 0]],
      ['subarray buffer', [m.subarray(10), 0, m.length - 10, big, 0]],
    ];
    for (const [what, args] of cases) {
      const an = args.slice();
      const af = args.slice();
      if (args[3] instanceof Uint32Array) {
        garbage(args[3], 3);
        an[3] = Uint32Array.from(args[3]);
        af[3] = Uint32Array.from(args[3]);
      }
      const rn = (native.parse as (...a: unknown[]) => number)(...an);
      const rf = (fb.parse as (...a: unknown[]) => number)(...af);
      assert.equal(rf, rn, what);
      if (an[3] instanceof Uint32Array) assert.deepEqual(af[3], an[3], what);
    }
    assert.equal((fb.parse as (...a: unknown[]) => number)(m, 0, m.length + 1, big, 0), -ParseError.ARGS);
  });

  it('setLimits changes the outcome identically', () => {
    const base = [VALID[0]![1], VALID[1]![1], VALID[5]![1], VALID[9]![1], VALID[10]![1], vectors()[6]![1]];
    const seen = new Set<string>();
    try {
      for (const m of base) {
        const limits: [number, number, number][] = [
          [m.length, 128, 8192],
          [m.length - 1, 128, 8192],
          [1, 1, 1],
        ];
        for (let h = 1; h <= 14; h++) limits.push([65535, h, 8192]);
        for (let l = 8; l <= 140; l += 3) limits.push([65535, 128, l]);
        for (const [mm, mh, ml] of limits) {
          assert.equal(native.setLimits(mm, mh, ml), true);
          assert.equal(fb.setLimits(mm, mh, ml), true);
          const r = compare(`limits ${mm}/${mh}/${ml}`, m);
          seen.add(errName(r));
        }
      }
    } finally {
      resetLimits();
    }
    for (const want of ['OK', 'TOO_MANY_HEADERS', 'HEADER_TOO_LONG', 'MESSAGE_TOO_LONG']) assert.ok(seen.has(want), `limits never gave ${want}: ${[...seen]}`);

    // The limits apply to later calls and to parseBatch too.
    try {
      native.setLimits(65535, 3, 8192);
      fb.setLimits(65535, 3, 8192);
      const m = VALID[0]![1];
      assert.equal(compare('3 headers', m), -ParseError.TOO_MANY_HEADERS);
      const spans = Uint32Array.of(0, m.length, 0, m.length);
      const bn = new Uint32Array(2 * STRIDE);
      const bf = new Uint32Array(2 * STRIDE);
      assert.equal(fb.parseBatch(m, spans, 2, bf), native.parseBatch(m, spans, 2, bn));
      assert.deepEqual(bf, bn);
      assert.equal(bf[S.ERROR], ParseError.TOO_MANY_HEADERS);
    } finally {
      resetLimits();
    }
    assert.equal(compare('default limits again', VALID[0]![1]), 0);
  });

  it('setLimits argument checks match the addon', () => {
    try {
      const cases: unknown[][] = [
        [0, 1, 1],
        [1, 0, 1],
        [1, 1, 0],
        [-1, 1, 1],
        [0xffffffff, 1, 1],
        [0xfffffffe, 1, 1],
        [2 ** 32, 1, 1],
        [2 ** 32 + 5, 7, 9],
        [NaN, 1, 1],
        [Infinity, 1, 1],
        ['5', 1, 1],
        [5, 1],
        [1.9, 2.5, 3.99],
      ];
      for (const args of cases) {
        const rn = (native.setLimits as (...a: unknown[]) => boolean)(...args);
        const rf = (fb.setLimits as (...a: unknown[]) => boolean)(...args);
        assert.equal(rf, rn, JSON.stringify(args));
        // Same effective limits: a message near them gives the same result.
        compare(`after setLimits(${JSON.stringify(args)})`, VALID[0]![1]);
        compare(`after setLimits(${JSON.stringify(args)})`, Buffer.from('\r\n'));
      }
    } finally {
      resetLimits();
    }
  });

  it('hash and caseHash match the addon, including absent and out-of-range arguments', () => {
    const rnd = prng(42);
    const buf = Buffer.alloc(300);
    for (let i = 0; i < buf.length; i++) buf[i] = rnd() < 0.3 ? 0x41 + Math.floor(rnd() * 26) : Math.floor(rnd() * 256);
    type H = (...a: unknown[]) => unknown;
    for (const name of ['hash', 'caseHash'] as const) {
      const n = native[name] as H;
      const f = fb[name] as H;
      for (let i = 0; i < 3000; i++) {
        const o = Math.floor(rnd() * 310);
        const l = Math.floor(rnd() * 40);
        const o2 = Math.floor(rnd() * 310);
        const l2 = Math.floor(rnd() * 40);
        for (const args of [
          [buf, o, l],
          [buf, o, l, o2],
          [buf, o, l, o2, l2],
          [buf, o, l, undefined, undefined],
          [buf, o, l, -1, l2],
          [buf, o, l, o2, -1],
        ]) {
          assert.equal(f(...args), n(...args), `${name}(${args.slice(1).join(', ')})`);
        }
      }
      const odd: unknown[][] = [
        [Buffer.from('a84b4c76e66710@pc33.atlanta.example.com'), 0, 39],
        [Buffer.from('AbC'), 0, 3, 0, 3],
        [new Uint8Array(0), 0, 0],
        [new Uint8Array(0), 0, 0, 0, 0],
        [new Uint8ClampedArray(4), 0, 1],
        ['abc', 0, 1],
        [buf, -1, 1],
        [buf, NaN, 1],
        [buf, 0, 301],
        [buf, 0, '1'],
        [buf, 2 ** 32 + 1, 2],
        [buf, 0, 1, 0, 301],
        [buf, 0, 1, 0, 2, 'extra'],
      ];
      for (const args of odd) assert.equal(f(...args), n(...args), `${name} odd ${String(args.slice(1))}`);
    }
  });
});
