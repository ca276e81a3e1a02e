/**
 * Benchmark inputs: the three messages a call through an SBC carries most,
 * shaped like the carrier traffic in shared/vectors (CRLF, SDP bodies).
 */
const crlf = (lines: string[], body = ''): Buffer =>
  Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'latin1');

const sdp = [
  'v=0',
  'o=- 3899462315 3899462315 IN IP4 198.51.100.23',
  's=-',
  'c=IN IP4 198.51.100.23',
  't=0 0',
  'm=audio 31566 RTP/AVP 0 8 18 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

export const INVITE = crlf(
  [
    'INVITE sip:+14155550123@sbc.example.net;user=phone SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.23:5060;branch=z9hG4bK-524287-1---7f3c1e5a2b9d4c61;rport',
    'Max-Forwards: 70',
    'Contact: <sip:+12125550199@198.51.100.23:5060;transport=udp>',
    'To: <sip:+14155550123@sbc.example.net;user=phone>',
    'From: "Carrier Caller" <sip:+12125550199@carrier.example.com;user=phone>;tag=8d2f3b1a',
    'Call-ID: 5f3e2a9c-1d4b-4e8f-9a7c-3b2d1e0f4a6b@198.51.100.23',
    'CSeq: 1 INVITE',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY',
    'Supported: replaces, timer, 100rel',
    'Session-Expires: 1800;refresher=uac',
    'Min-SE: 90',
    'User-Agent: CarrierSBC/4.2.1',
    'P-Asserted-Identity: <sip:+12125550199@carrier.example.com;user=phone>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
  ],
  sdp,
);

export const OK_200 = crlf(
  [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsy.4a1f.0',
    'Via: SIP/2.0/UDP 198.51.100.23:5060;received=198.51.100.23;branch=z9hG4bK-524287-1---7f3c1e5a2b9d4c61;rport=5060',
    'Record-Route: <sip:127.0.0.2;lr;ftag=8d2f3b1a>',
    'Record-Route: <sip:127.0.0.1;lr;ftag=8d2f3b1a>',
    'Contact: <sip:+14155550123@203.0.113.8:5060>',
    'To: <sip:+14155550123@sbc.example.net;user=phone>;tag=as6f1c2d9e',
    'From: "Carrier Caller" <sip:+12125550199@carrier.example.com;user=phone>;tag=8d2f3b1a',
    'Call-ID: 5f3e2a9c-1d4b-4e8f-9a7c-3b2d1e0f4a6b@198.51.100.23',
    'CSeq: 1 INVITE',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY',
    'Supported: replaces, timer',
    'Session-Expires: 1800;refresher=uac',
    'Require: timer',
    'Server: PBX/16.3',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
  ],
  sdp,
);

export const BYE = crlf([
  'BYE sip:+14155550123@203.0.113.8:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 198.51.100.23:5060;branch=z9hG4bK-524287-1---0a9b8c7d6e5f4a3b;rport',
  'Max-Forwards: 70',
  'Route: <sip:127.0.0.1;lr;ftag=8d2f3b1a>',
  'Route: <sip:127.0.0.2;lr;ftag=8d2f3b1a>',
  'To: <sip:+14155550123@sbc.example.net;user=phone>;tag=as6f1c2d9e',
  'From: "Carrier Caller" <sip:+12125550199@carrier.example.com;user=phone>;tag=8d2f3b1a',
  'Call-ID: 5f3e2a9c-1d4b-4e8f-9a7c-3b2d1e0f4a6b@198.51.100.23',
  'CSeq: 2 BYE',
  'User-Agent: CarrierSBC/4.2.1',
  'Content-Length: 0',
]);

export const MESSAGES: Readonly<Record<string, Buffer>> = { INVITE, '200 OK': OK_200, BYE };
