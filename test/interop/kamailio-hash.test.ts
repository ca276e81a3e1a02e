/**
 * Interop: our ds_get_hash port and Call-ID based selection against the real
 * Kamailio 5.6 binary (test/fixtures/kamailio/ds-probe.cfg + ds-probe.list).
 *
 *  (a) 10,000 seeded random Call-IDs through the `dispatcher.hash` JSON-RPC
 *      (HTTP POST /RPC, params [nslots, callid]) for nslots 2 and 5:
 *      hashid === dsHash(callid), slot === dsHash(callid) % nslots.
 *  (b) 2,000 of them (+200 on set 1) as real SIP MESSAGE probes over UDP:
 *      ds_select_dst(set, 0, 2) in Kamailio picks index dsHash % N in index
 *      order (dispatcher.md §2.3) and the next index as failover; the same
 *      request bytes through scanner.parse give CALLID_HASH === dsHash(callid)
 *      and BUCKET === hash & 511.
 *
 * Kamailio is REQUIRED: if the binary is missing the suite fails (CI installs
 * it). Everything is on 127.0.0.x. Knobs (env): KAMAILIO_BIN, KAMAILIO_MPATH,
 * SY_KAM_IP (127.0.0.41), SY_KAM_SIP_PORT (5060), SY_KAM_HTTP_PORT (8081),
 * SY_KAM_CLIENT_IP (127.0.0.42), SY_KAM_START_TIMEOUT_MS (20000),
 * SY_INTEROP_SEED, SY_INTEROP_KEEP_TMP=1 (keep the run dir and its log).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

import { callIdBucket, dsHash, fallbackScanner, nativeLoadError, scanner, type SipScanner } from '../../src/native';
import { BUCKETS, S, STRIDE } from '../../src/native/layout';
import { sleep, startKamailio, type Kamailio, type RpcReply } from '../helpers/kamailio';

// ------------------------------------------------------------------ settings

const KAM_IP = process.env['SY_KAM_IP'] ?? '127.0.0.41';
const SIP_PORT = Number(process.env['SY_KAM_SIP_PORT'] ?? 5060);
const HTTP_PORT = Number(process.env['SY_KAM_HTTP_PORT'] ?? 8081);
const CLIENT_IP = process.env['SY_KAM_CLIENT_IP'] ?? '127.0.0.42';
const START_TIMEOUT_MS = Number(process.env['SY_KAM_START_TIMEOUT_MS'] ?? 20_000);
const SEED = Number(process.env['SY_INTEROP_SEED'] ?? 0x5eed0056) >>> 0;

const N_CALLIDS = 10_000;
const RPC_NSLOTS = [2, 5] as const;
const RPC_CONCURRENCY = 16;
const RPC_TIMEOUT_MS = 5_000;
const RPC_DEADLINE_MS = 90_000;

const N_SIP = 2_000; // set 2 probes
const N_SIP_SET1 = 200; // extra set 1 probes (first 200 Call-IDs)
const SIP_WINDOW = 32; // outstanding requests
const SIP_TIMEOUT_MS = 1_000; // per attempt
const SIP_RETRIES = 3; // resends after the first attempt
const SIP_DEADLINE_MS = 60_000;

for (const [k, v] of Object.entries({ KAM_IP, CLIENT_IP })) {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v)) throw new Error(`${k}=${v}: interop tests run on 127.0.0.x only`);
}

function repoRoot(): string {
  let d = __dirname;
  for (let i = 0; i < 8; i++) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'test', 'fixtures', 'kamailio'))) return d;
    d = path.dirname(d);
  }
  throw new Error(`cannot find the repository root (package.json + test/fixtures/kamailio) above ${__dirname}`);
}
const FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'kamailio');
const CFG = path.join(FIXTURES, 'ds-probe.cfg');
const LIST = path.join(FIXTURES, 'ds-probe.list');

// ------------------------------------------------------------------ Call-IDs

/** mulberry32: small, seedable, deterministic. */
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

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// RFC 3261 `word` characters (Call-ID = word ["@" word]); no whitespace, no controls.
const WORD = ALNUM + '-.!%*_+`\'~()<>:\\"/[]?{}';
const HEX = '0123456789abcdef';
// Non-ASCII code point ranges: 2-, 3- and 4-byte UTF-8 sequences (no spaces/format chars).
const NON_ASCII_RANGES: [number, number][] = [
  [0xc0, 0x17f], // Latin-1 letters, Latin Extended-A (2 bytes)
  [0x391, 0x3c9], // Greek (2 bytes)
  [0x410, 0x44f], // Cyrillic (2 bytes)
  [0x20ac, 0x20ac], // euro sign (3 bytes)
  [0x4e00, 0x4fff], // CJK (3 bytes)
  [0x1f300, 0x1f5ff], // pictographs (4 bytes)
];

function genCallIds(n: number, seed: number): string[] {
  const r = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = (s: string): string => s[Math.floor(r() * s.length)]!;
  const run = (alphabet: string, len: number): string => {
    let s = '';
    for (let i = 0; i < len; i++) s += pick(alphabet);
    return s;
  };
  const host = (): string => {
    switch (int(0, 3)) {
      case 0:
        return `host${int(0, 999)}.example.com`;
      case 1:
        return `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
      case 2:
        return `[2001:db8::${int(1, 0xffff).toString(16)}]`;
      default:
        return 'pc33.atlanta.com';
    }
  };
  const nonAscii = (): string => {
    const [lo, hi] = NON_ASCII_RANGES[int(0, NON_ASCII_RANGES.length - 1)]!;
    return String.fromCodePoint(int(lo, hi));
  };
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  /** Appends pieces from gen() until the UTF-8 length would exceed maxBytes. */
  const fill = (target: number, gen: () => string, maxBytes = 200): string => {
    let s = '';
    for (let guard = 0; guard < 400 && bytes(s) < target; guard++) {
      const p = gen();
      if (bytes(s) + bytes(p) > maxBytes) break;
      s += p;
    }
    return s;
  };
  const shapes: (() => string)[] = [
    // random@host
    () => `${run(ALNUM, int(6, 40))}@${host()}`,
    () => `${run(ALNUM, int(6, 40))}@${host()}`,
    () => `${run(ALNUM, int(6, 40))}@${host()}`,
    // uuid-like, lower or upper case, sometimes @host
    () => {
      const u = [8, 4, 4, 4, 12].map((k) => run(HEX, k)).join('-');
      const v = r() < 0.3 ? u.toUpperCase() : u;
      return r() < 0.3 ? `${v}@${host()}` : v;
    },
    () => [8, 4, 4, 4, 12].map((k) => run(HEX, k)).join('-'),
    // long: 64..200 bytes of word characters
    () => run(WORD, int(64, 200)),
    () => `${run(ALNUM, int(100, 180))}@${host()}`.slice(0, 200),
    // bytes >= 0x80: UTF-8 mixed with ASCII, 1..200 bytes
    () => fill(int(1, 200), () => (r() < 0.4 ? nonAscii() : pick(ALNUM))),
    () => `${fill(int(1, 60), nonAscii, 150)}@${host()}`,
    // short (0..3-byte tails and single words), punctuation-heavy word characters
    () => run(WORD, int(1, 8)),
    () => run(WORD, int(9, 63)),
  ];
  const out: string[] = [];
  const seen = new Set<string>();
  for (let guard = 0; out.length < n && guard < n * 20; guard++) {
    const s = shapes[int(0, shapes.length - 1)]!();
    const b = bytes(s);
    if (b === 0 || b > 200 || seen.has(s)) continue;
    seen.add(s);
    out.push(s);
  }
  if (out.length !== n) throw new Error(`generated only ${out.length}/${n} Call-IDs`);
  return out;
}

const showId = (s: string): string => `${JSON.stringify(s)} (utf8 ${Buffer.from(s, 'utf8').toString('hex')})`;

// ------------------------------------------------------------------ dispatcher.list fixture

interface Dest {
  set: number;
  uri: string;
  priority: number;
  line: number;
}

/** Index order per set (dispatcher.md §2.3): descending priority, equal priority in reverse file order. */
function indexOrder(listFile: string): Map<number, string[]> {
  const dests: Dest[] = [];
  fs.readFileSync(listFile, 'utf8')
    .split('\n')
    .forEach((raw, line) => {
      const l = raw.trim();
      if (!l || l.startsWith('#')) return;
      const [set, uri, flags, prio] = l.split(/\s+/);
      assert.ok(/^\d+$/.test(set!) && uri, `unexpected list line ${line + 1}: ${raw}`);
      assert.equal(Number(flags ?? 0), 0, `fixture destinations must be active (flags 0): line ${line + 1}`);
      dests.push({ set: Number(set), uri: uri!, priority: Number(prio ?? 0), line });
    });
  const sets = new Map<number, string[]>();
  for (const id of [...new Set(dests.map((d) => d.set))]) {
    const order = dests.filter((d) => d.set === id).sort((a, b) => b.priority - a.priority || b.line - a.line);
    sets.set(id, order.map((d) => d.uri));
  }
  return sets;
}

// ------------------------------------------------------------------ JSON-RPC over HTTP

const agent = new http.Agent({ keepAlive: true, maxSockets: RPC_CONCURRENCY });

/** Runs fn over items with at most `limit` in flight; stops starting new work after the deadline. */
async function pool<T>(items: readonly T[], limit: number, deadline: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (Date.now() > deadline) throw new Error(`deadline passed after ${next}/${items.length} items`);
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ------------------------------------------------------------------ SIP over UDP

interface Probe {
  callid: string;
  set: number;
  bytes: Buffer;
  branch: string;
}

interface ProbeReply {
  status: number;
  raw: Buffer;
  headers: Map<string, string>;
}

function probeMessage(callid: string, set: number, branch: string, localPort: number, tag: string): Buffer {
  const lines = [
    `MESSAGE sip:probe@${KAM_IP}:${SIP_PORT} SIP/2.0`,
    `Via: SIP/2.0/UDP ${CLIENT_IP}:${localPort};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:interop@${CLIENT_IP}>;tag=${tag}`,
    `To: <sip:probe@${KAM_IP}>`,
    `Call-ID: ${callid}`,
    'CSeq: 1 MESSAGE',
    `X-DS-Set: ${set}`,
    'X-DS-Alg: 0',
    'X-DS-Limit: 2',
    'Content-Length: 0',
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
}

function parseReply(raw: Buffer): { status: number; branch: string | undefined; headers: Map<string, string> } {
  const text = raw.toString('latin1');
  const head = text.split('\r\n\r\n', 1)[0]!;
  const [first, ...lines] = head.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) /.exec(first ?? '');
  const headers = new Map<string, string>();
  let branch: string | undefined;
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c <= 0) continue;
    const name = l.slice(0, c).trim().toLowerCase();
    const value = l.slice(c + 1).trim();
    if ((name === 'via' || name === 'v') && branch === undefined) branch = /;branch=([^;,\s]+)/.exec(value)?.[1];
    if (!headers.has(name)) headers.set(name, value);
  }
  return { status: m ? Number(m[1]) : 0, branch, headers };
}

/**
 * Sends every probe, at most `window` outstanding, each resent up to
 * `retries` times after `timeoutMs` without a reply; bounded by `deadlineMs`.
 */
function runProbes(
  sock: dgram.Socket,
  probes: readonly Probe[],
  opts: { window: number; timeoutMs: number; retries: number; deadlineMs: number },
): Promise<{ replies: (ProbeReply | undefined)[]; sends: number }> {
  return new Promise((resolve, reject) => {
    const replies: (ProbeReply | undefined)[] = new Array(probes.length);
    const byBranch = new Map<string, number>();
    probes.forEach((p, i) => byBranch.set(p.branch, i));
    const inflight = new Map<number, { attempts: number; timer: NodeJS.Timeout }>();
    let next = 0;
    let done = 0;
    let sends = 0;
    let finished = false;

    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(overall);
      for (const f of inflight.values()) clearTimeout(f.timer);
      inflight.clear();
      sock.off('message', onMessage);
      if (err) reject(err);
      else resolve({ replies, sends });
    };
    const send = (i: number): void => {
      const f = inflight.get(i)!;
      f.attempts++;
      sends++;
      sock.send(probes[i]!.bytes, SIP_PORT, KAM_IP, (err) => {
        if (err) finish(new Error(`UDP send failed: ${err.message}`));
      });
      f.timer = setTimeout(() => {
        if (finished || !inflight.has(i)) return;
        if (f.attempts > opts.retries) {
          // give up on this one; it is reported as "no reply"
          inflight.delete(i);
          done++;
          pump();
        } else {
          send(i);
        }
      }, opts.timeoutMs);
    };
    const pump = (): void => {
      while (!finished && inflight.size < opts.window && next < probes.length) {
        const i = next++;
        inflight.set(i, { attempts: 0, timer: undefined as unknown as NodeJS.Timeout });
        send(i);
      }
      if (done === probes.length) finish();
    };
    const onMessage = (raw: Buffer): void => {
      const r = parseReply(raw);
      if (r.status < 200 || r.branch === undefined) return;
      const i = byBranch.get(r.branch);
      if (i === undefined || !inflight.has(i)) return; // late duplicate
      clearTimeout(inflight.get(i)!.timer);
      inflight.delete(i);
      replies[i] = { status: r.status, raw, headers: r.headers };
      done++;
      pump();
    };
    const overall = setTimeout(() => finish(new Error(`SIP probes: deadline ${opts.deadlineMs} ms passed with ${done}/${probes.length} done`)), opts.deadlineMs);
    sock.on('message', onMessage);
    pump();
  });
}

// ------------------------------------------------------------------ scanner check

/** Parses msg embedded at a non-zero offset (and a non-zero `at`) and returns the slot values. */
function scan(sc: SipScanner, msg: Buffer): { rc: number; hash: number; bucket: number; callid: Buffer } {
  const pad = 11;
  const buf = Buffer.alloc(pad + msg.length + pad, 0x78);
  msg.copy(buf, pad);
  const out = new Uint32Array(STRIDE * 2);
  const rc = sc.parse(buf, pad, msg.length, out, STRIDE);
  const o = STRIDE;
  const off = out[o + S.CALLID_OFF]!;
  const len = out[o + S.CALLID_LEN]!;
  return {
    rc,
    hash: out[o + S.CALLID_HASH]!,
    bucket: out[o + S.BUCKET]!,
    callid: rc === 0 ? Buffer.from(buf.subarray(off, off + len)) : Buffer.alloc(0),
  };
}

// ------------------------------------------------------------------ the suite

describe('Kamailio 5.6 interop: ds_get_hash and alg 0 selection', { timeout: 240_000 }, () => {
  let kam: Kamailio | undefined;
  const callids = genCallIds(N_CALLIDS, SEED);
  const order = indexOrder(LIST);

  // A startup failure (no binary, busy port, Kamailio not answering) is rethrown
  // by every test, so each one FAILS with the reason instead of being cancelled.
  let startupError: Error | undefined;
  let startupMs = 0;
  const ready = (): void => {
    if (startupError) throw startupError;
  };

  /** One JSON-RPC call with 2 retries on transport errors (a reused keep-alive socket may be reset). */
  async function rpc(method: string, params: unknown[]): Promise<RpcReply> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await kam!.rpc(method, params, RPC_TIMEOUT_MS);
      } catch (e) {
        last = e;
        await sleep(20 * (attempt + 1));
      }
    }
    throw last;
  }

  before(async () => {
    const t0 = Date.now();
    try {
      kam = await startKamailio({
        cfg: CFG,
        files: [CFG, LIST],
        defines: { DSLIST: `"${LIST}"` },
        sipIp: KAM_IP,
        sipPort: SIP_PORT,
        httpPort: HTTP_PORT,
        busyHint: { http: 'stop it or set SY_KAM_IP / SY_KAM_HTTP_PORT', sip: 'stop it or set SY_KAM_IP / SY_KAM_SIP_PORT' },
        agent,
        keepTmp: process.env['SY_INTEROP_KEEP_TMP'] === '1',
        timeoutMs: START_TIMEOUT_MS,
        // the JSON-RPC port answers with our list loaded
        ready: async (k) => {
          const r = await k.rpc('dispatcher.list', [], 1_000);
          return (r.result as { NRSETS?: number } | undefined)?.NRSETS === order.size || `dispatcher.list: ${JSON.stringify(r).slice(0, 200)}`;
        },
      });
      startupMs = Date.now() - t0;
    } catch (e) {
      startupError = e as Error;
    }
  });

  after(async () => {
    agent.destroy();
    if (kam) {
      const running = kam.exitStatus() === undefined;
      const t0 = Date.now();
      await kam.stop();
      if (running && process.env['SY_INTEROP_VERBOSE'] === '1') console.error(`kamailio stopped in ${Date.now() - t0} ms: ${kam.exitStatus() ?? 'still running!'}`);
    }
  });

  test('Kamailio index order of the fixture list equals dispatcher.md §2.3 order', async (t) => {
    ready();
    t.diagnostic(`kamailio answered ${startupMs} ms after spawn`);
    const r = await rpc('dispatcher.list', []);
    type Rec = { SET: { ID: number; TARGETS: { DEST: { URI: string; FLAGS: string } }[] } };
    const recs = (r.result as { RECORDS: Rec[] }).RECORDS;
    const kamOrder = new Map(recs.map((x) => [x.SET.ID, x.SET.TARGETS.map((t) => t.DEST.URI)]));
    assert.deepEqual(kamOrder, order);
    for (const x of recs) for (const t of x.SET.TARGETS) assert.equal(t.DEST.FLAGS, 'AX', `${t.DEST.URI} active, not probing`);
    assert.equal(order.get(1)?.length, 2);
    assert.equal(order.get(2)?.length, 5);
  });

  test(`(a) dispatcher.hash RPC == dsHash for ${N_CALLIDS} Call-IDs, nslots ${RPC_NSLOTS.join('/')}`, { timeout: RPC_DEADLINE_MS + 10_000 }, async (t) => {
    ready();
    const utf8Bytes = callids.map((c) => Buffer.byteLength(c, 'utf8'));
    t.diagnostic(
      `Call-IDs: ${callids.length}, ${callids.filter((c) => /[^\x00-\x7f]/.test(c)).length} with bytes >= 0x80, ` +
        `length ${Math.min(...utf8Bytes)}..${Math.max(...utf8Bytes)} bytes, len%4 = ${[0, 1, 2, 3].map((k) => utf8Bytes.filter((b) => b % 4 === k).length).join('/')}`,
    );
    const jobs = callids.flatMap((c) => RPC_NSLOTS.map((n) => ({ c, n })));
    const bad: string[] = [];
    let checked = 0;
    const t0 = Date.now();
    await pool(jobs, RPC_CONCURRENCY, t0 + RPC_DEADLINE_MS, async ({ c, n }) => {
      const r = await rpc('dispatcher.hash', [n, c]);
      assert.equal(r.error, undefined, `dispatcher.hash error for ${showId(c)}: ${JSON.stringify(r.error)}`);
      const { hashid, slot } = r.result as { hashid: number; slot: number };
      const ours = dsHash(c);
      if (hashid !== ours || slot !== ours % n) {
        bad.push(`${showId(c)} nslots=${n}: kamailio hashid=${hashid} slot=${slot}; ours hash=${ours} slot=${ours % n}`);
      }
      checked++;
    });
    t.diagnostic(`${checked} RPCs in ${Date.now() - t0} ms (seed 0x${SEED.toString(16)})`);
    assert.equal(checked, jobs.length);
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length}/${jobs.length} dispatcher.hash mismatches (first 20 shown)`);
  });

  test(`(b) SIP probes: alg 0 primary/secondary and scanner hash for ${N_SIP}+${N_SIP_SET1} Call-IDs`, { timeout: SIP_DEADLINE_MS + 10_000 }, async (t) => {
    ready();
    if (process.env['SWITCHYARD_NO_NATIVE'] !== '1') {
      assert.equal(scanner.kind, 'native', `the native scanner is not loaded (${nativeLoadError()?.message ?? 'unknown reason'}); build the addon or set SWITCHYARD_NO_NATIVE=1`);
    }
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind({ address: CLIENT_IP, port: 0 }, () => res());
    });
    try {
      const localPort = sock.address().port;
      const probes: Probe[] = [];
      const mk = (callid: string, set: number): void => {
        const branch = `z9hG4bK-sy-${set}-${probes.length}`;
        probes.push({ callid, set, branch, bytes: probeMessage(callid, set, branch, localPort, `t${probes.length}`) });
      };
      for (let i = 0; i < N_SIP; i++) mk(callids[i]!, 2);
      for (let i = 0; i < N_SIP_SET1; i++) mk(callids[i]!, 1);

      // the same request bytes through the scanner(s): the parsed Call-ID's hash and bucket
      const scanners: SipScanner[] = scanner === fallbackScanner ? [scanner] : [scanner, fallbackScanner];
      const scanBad: string[] = [];
      for (const p of probes) {
        const h = dsHash(p.callid);
        assert.deepEqual(callIdBucket(p.callid), { hash: h, bucket: h & (BUCKETS - 1) }, `callIdBucket ${showId(p.callid)}`);
        for (const sc of scanners) {
          const r = scan(sc, p.bytes);
          if (r.rc !== 0 || r.hash !== h || r.bucket !== (h & 511) || !r.callid.equals(Buffer.from(p.callid, 'utf8'))) {
            scanBad.push(`${sc.kind} ${showId(p.callid)}: rc=${r.rc} CALLID_HASH=${r.hash} BUCKET=${r.bucket} callid=${r.callid.toString('hex')}; dsHash=${h} bucket=${h & 511}`);
          }
        }
      }

      const t0 = Date.now();
      const { replies, sends } = await runProbes(sock, probes, { window: SIP_WINDOW, timeoutMs: SIP_TIMEOUT_MS, retries: SIP_RETRIES, deadlineMs: SIP_DEADLINE_MS });
      t.diagnostic(`${probes.length} probes, ${sends} datagrams sent, ${Date.now() - t0} ms; scanner: ${scanners.map((s) => s.kind).join('+')}`);

      const bad: string[] = [];
      probes.forEach((p, i) => {
        const r = replies[i];
        if (!r) return void bad.push(`${showId(p.callid)} set ${p.set}: no reply after ${SIP_RETRIES + 1} attempts`);
        const dests = order.get(p.set)!;
        const h = dsHash(p.callid);
        const idx = h % dests.length;
        const want = { status: 200, du: dests[idx], cnt: '2', list: `${dests[idx]},${dests[(idx + 1) % dests.length]},` };
        const got = { status: r.status, du: r.headers.get('x-ds-du'), cnt: r.headers.get('x-ds-cnt'), list: r.headers.get('x-ds-list') };
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          bad.push(`${showId(p.callid)} set ${p.set} dsHash=${h} idx=${idx}: kamailio ${JSON.stringify(got)} ours ${JSON.stringify(want)}`);
          return;
        }
        // Kamailio's reply echoes the Call-ID; our scanner hashes it the same way
        const s = scan(scanner, r.raw);
        if (s.rc !== 0 || s.hash !== h || s.bucket !== (h & 511)) {
          bad.push(`reply for ${showId(p.callid)}: scanner rc=${s.rc} CALLID_HASH=${s.hash} BUCKET=${s.bucket}; dsHash=${h}`);
        }
      });
      assert.deepEqual(
        { selection: bad.slice(0, 20), scanner: scanBad.slice(0, 20) },
        { selection: [], scanner: [] },
        `${bad.length}/${probes.length} selection mismatches, ${scanBad.length} scanner mismatches (first 20 of each shown)`,
      );
    } finally {
      await new Promise<void>((res) => sock.close(() => res()));
    }
  });
});
