import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { dsHash, scanner, fallbackScanner, type SipScanner } from '../../src/native';
import { Method, ParseError, STRIDE, S } from '../../src/native/layout';
import { isParseFailure, parseMessage, SipMessage } from '../../src/sip/message';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

const INVITE = crlf(`INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport
v: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKnashds8;received=192.0.2.1, SIP / 2.0 / UDP 10.0.0.1;branch=z9hG4bKx
Max-Forwards: 70
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>
Record-Route: "Proxy, One" <sip:rr1.example.com;lr;ftag=x>
To: "Bob, the builder" <sip:bob@biloxi.example.com>
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774
i: a84b4c76e66710@pc33.atlanta.example.com
CSeq  :  314159 INVITE
m: <sip:alice@pc33.atlanta.example.com>
X-Long: first part
  continued here
c: application/sdp
l: 4

v=0
`);

describe('SipMessage over the native scanner', () => {
  it('loads the native addon', () => {
    assert.equal(scanner.kind, 'native');
  });

  it('reads a request with compact forms, folding, lists and IPv6', () => {
    const m = parseMessage(INVITE);
    assert.ok(!isParseFailure(m), JSON.stringify(m));
    assert.equal(m.isRequest, true);
    assert.equal(m.methodId, Method.INVITE);
    assert.equal(m.method, 'INVITE');
    assert.equal(m.ruri, 'sip:bob@biloxi.example.com');
    assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
    assert.equal(m.fromUri, 'sip:alice@atlanta.example.com');
    assert.equal(m.fromTag, '1928301774');
    assert.equal(m.to, '"Bob, the builder" <sip:bob@biloxi.example.com>');
    assert.equal(m.toUri, 'sip:bob@biloxi.example.com');
    assert.equal(m.toTag, undefined);
    assert.equal(m.cseq, 314159);
    assert.equal(m.cseqMethodId, Method.INVITE);
    assert.equal(m.maxForwards, 70);
    assert.equal(m.contactUri, 'sip:alice@pc33.atlanta.example.com');
    assert.equal(m.contentType, 'application/sdp');
    assert.equal(m.contentLength, 4);
    assert.equal(m.body.toString(), 'v=0\r'.slice(0, 4));
    const vias = m.vias;
    assert.equal(vias.length, 3);
    assert.deepEqual(
      vias.map((v) => [v.transport, v.host, v.port, v.branch, v.received, v.rport]),
      [
        ['UDP', 'pc33.atlanta.example.com', 5066, 'z9hG4bK776asdhds', undefined, ''],
        ['UDP', '[2001:db8::9]', 5070, 'z9hG4bKnashds8', '192.0.2.1', undefined],
        ['UDP', '10.0.0.1', 0, 'z9hG4bKx', undefined, undefined],
      ],
    );
    assert.equal(m.topVia?.branch, 'z9hG4bK776asdhds');
    assert.deepEqual(m.routes.map((r) => [r.uri, r.lr]), [
      ['sip:p1.example.com;lr', true],
      ['sip:p2.example.com;lr', true],
    ]);
    assert.deepEqual(m.recordRoutes.map((r) => r.uri), ['sip:rr1.example.com;lr;ftag=x']);
    assert.equal(m.header('x-long'), 'first part\r\n  continued here');
    assert.equal(m.header('Content-Length'), '4');
    assert.deepEqual(m.headers('via').length, 2);
  });

  it('hashes the Call-ID like Kamailio ds_get_hash and buckets it in 512', () => {
    const m = parseMessage(INVITE) as SipMessage;
    assert.equal(m.callIdHash, dsHash('a84b4c76e66710@pc33.atlanta.example.com'));
    assert.equal(m.bucket, m.callIdHash & 511);
    // "a" hashes to 109 in Kamailio (shared/vectors/dispatcher/ds_get_hash_vectors.json)
    const a = parseMessage(crlf(`OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:x@y>\nCall-ID:   a  \nCSeq: 1 OPTIONS\n\n`));
    assert.ok(!isParseFailure(a));
    assert.equal(a.callId, 'a');
    assert.equal(a.callIdHash, 109);
    assert.equal(a.bucket, 109);
  });

  it('reads a response', () => {
    const m = parseMessage(
      crlf(`SIP/2.0 180 Ringing, really\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:x@y>;tag=2\nCall-ID: c1\nCSeq: 7 INVITE\nContent-Length: 0\n\n`),
    );
    assert.ok(!isParseFailure(m));
    assert.equal(m.isResponse, true);
    assert.equal(m.status, 180);
    assert.equal(m.reason, 'Ringing, really');
    assert.equal(m.toTag, '2');
    assert.equal(m.cseqMethodId, Method.INVITE);
  });

  it('accepts a message whose lines all end in bare LF', () => {
    const m = parseMessage(Buffer.from('BYE sip:x@y SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:x@y>;tag=2\nCall-ID: c1\nCSeq: 2 BYE\n\n'));
    assert.ok(!isParseFailure(m));
    assert.equal(m.methodId, Method.BYE);
  });
});

describe('scanner errors', () => {
  const base = (extra: Record<string, string | null> = {}, start = 'INVITE sip:bob@example.com SIP/2.0', body = ''): Buffer => {
    const h: Record<string, string | null> = {
      Via: 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1',
      From: '<sip:a@example.com>;tag=1',
      To: '<sip:bob@example.com>',
      'Call-ID': 'c@h',
      CSeq: '1 INVITE',
      'Max-Forwards': '70',
      ...extra,
    };
    const lines = [start, ...Object.entries(h).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`)];
    return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');
  };
  const cases: [string, Buffer][] = [
    ['EMPTY', Buffer.from('\r\n\r\n')],
    ['BAD_START_LINE', base({}, 'INVITE  sip:bob@example.com SIP/2.0')],
    ['BAD_START_LINE', base({}, 'INVITE sip:bob@example.com SIP/2.0 ')],
    ['BAD_START_LINE', base({}, 'INVITE <sip:bob@example.com> SIP/2.0')],
    ['BAD_VERSION', base({}, 'INVITE sip:bob@example.com SIP/7.0')],
    ['BAD_VERSION', base({}, 'SIP/3.0 200 OK')],
    ['BAD_STATUS', base({}, 'SIP/2.0 4294967301 better not break the receiver')],
    ['MISSING_VIA', base({ Via: null })],
    ['MISSING_FROM', base({ From: null })],
    ['MISSING_TO', base({ To: null })],
    ['MISSING_CALLID', base({ 'Call-ID': null })],
    ['MISSING_CSEQ', base({ CSeq: null })],
    ['CSEQ_MISMATCH', base({ CSeq: '1 ACK' })],
    ['BAD_CSEQ', base({ CSeq: '2147483648 INVITE' })],
    ['BAD_CONTENT_LENGTH', base({ 'Content-Length': '10' }, undefined, 'short')],
    ['BAD_CONTENT_LENGTH', base({ 'Content-Length': '-1' })],
    ['NUL_BYTE', base({ Subject: 'a\0b' })],
    ['BAD_LINE_ENDING', base({ 'X-Bare-CR': 'a\rb' })],
    ['BAD_LINE_ENDING', Buffer.from(base().toString('latin1').replace('\r\nTo:', '\nTo:'), 'latin1')],
    ['BAD_HEADER', base({ 'Bad Header': 'x' })],
    ['BAD_VIA', base({ Via: 'SIP/2.0/UDP' })],
    ['BAD_FROM', base({ From: '"unterminated <sip:a@b>;tag=1' })],
    ['BAD_TO', base({ To: 'sip:a b@c' })],
    ['BAD_MAX_FORWARDS', base({ 'Max-Forwards': '256' })],
    ['DUPLICATE_HEADER', Buffer.from(base().toString('latin1').replace('CSeq: 1 INVITE', 'CSeq: 1 INVITE\r\nCall-ID: other'), 'latin1')],
    ['NO_HEADER_END', Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1')],
  ];
  for (const sc of [scanner, fallbackScanner] as SipScanner[]) {
    for (const [want, raw] of cases) {
      it(`${sc.kind}: ${want} ${JSON.stringify(raw.toString('latin1').split('\r\n')[0]).slice(0, 50)}`, () => {
        const buf = raw;
        const out = new Uint32Array(STRIDE);
        const r = sc.parse(buf, 0, buf.length, out, 0);
        assert.ok(r < 0, `expected ${want}, parsed fine`);
        const m = parseMessage(buf);
        assert.ok(isParseFailure(m));
        assert.equal(m.error, want);
        assert.equal(out[S.ERROR], -r);
      });
    }
  }

  it('limits: too many headers, header too long, message too long', () => {
    const out = new Uint32Array(STRIDE);
    const many = base(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, 'v'])));
    const long = base({ 'X-Long': 'x'.repeat(300) });
    try {
      scanner.setLimits(65535, 16, 256);
      assert.equal(scanner.parse(many, 0, many.length, out, 0), -ParseError.TOO_MANY_HEADERS);
      assert.equal(scanner.parse(long, 0, long.length, out, 0), -ParseError.HEADER_TOO_LONG);
      scanner.setLimits(100, 128, 8192);
      assert.equal(scanner.parse(long, 0, long.length, out, 0), -ParseError.MESSAGE_TOO_LONG);
    } finally {
      scanner.setLimits(65535, 128, 8192);
    }
  });

  it('never reads outside the given range: arguments past the buffer are refused', () => {
    const buf = base();
    const out = new Uint32Array(STRIDE);
    assert.equal(scanner.parse(buf, 10, buf.length, out, 0), -ParseError.ARGS);
    assert.equal(scanner.parse(buf, 0, buf.length, new Uint32Array(10), 0), -ParseError.ARGS);
  });
});
