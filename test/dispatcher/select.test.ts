/**
 * ds_select_dst()/ds_next_dst() (shared/spec/dispatcher.md §3-§6) against the
 * ds-lab vectors: algorithm_selection_probe.txt (replayed step by step, same
 * list, same order, compared line by line), uri_hash_probe.txt (every row),
 * and the alg 10 run of rpc/ds_list_callload_runtime.txt.
 */
import { fixture, vector } from '../helpers/paths';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  CallLoadTable,
  DS_DISABLED_DST,
  DS_INACTIVE_DST,
  DS_LOAD_CONFIRMED,
  DS_LOAD_INIT,
  Dispatcher,
  DsState,
  authHashKey,
  digestUsername,
  headerUri,
  loadDispatcherList,
  parseDispatcherList,
  uriHashKeys,
  type DispatcherOptions,
  type DsList,
  type DsSelectInput,
  type DsSelection,
} from '../../src/dispatcher';
import { dsHash } from '../../src/native';


const LAB_LIST = fixture('config', 'ds-lab', 'dispatcher.list');
const VECTORS = vector('dispatcher');

function labList(): DsList {
  return loadDispatcherList(LAB_LIST);
}

/** The lab Kamailio's modparams (flags 2, ds_hash_size 9). */
function labDispatcher(extra: DispatcherOptions = {}, list: DsList = labList()): Dispatcher {
  return new Dispatcher(list, DsState.create(list), { flags: 2, hashSize: 9, ...extra });
}

function input(o: Partial<DsSelectInput> = {}): DsSelectInput {
  return { callId: 'probe-1@127.0.0.25', fromUri: 'sip:probe@127.0.0.25', toUri: 'sip:svc@127.0.0.21', ruri: 'sip:svc@127.0.0.21', isInvite: false, ...o };
}

const port = (uri: string): string => uri.slice(uri.lastIndexOf(':') + 1);
const ports = (sel: DsSelection | undefined): string[] => (sel ? sel.records.map((r) => port(r.uri)) : []);

/** One probe reply as algtest.sh prints it: status, du, cnt, list. */
function probeLine(sel: DsSelection | undefined): string {
  if (!sel) return '404 du=- cnt=None list=[]';
  return `200 du=${sel.du} cnt=${sel.cnt} list=[${ports(sel).join(',')}]`;
}

function counts(sels: Array<DsSelection | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sels) {
    assert.ok(s);
    const p = port(s.du);
    out[p] = (out[p] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('algorithm_selection_probe.txt replay (lab list, flags=2)', () => {
  test('every probe line and weight count matches Kamailio 5.6.3', () => {
    const text = fs.readFileSync(path.join(VECTORS, 'algorithm_selection_probe.txt'), 'utf8');
    const expected: string[] = [];
    for (const line of text.split('\n')) {
      const m = /^\s+SIP\/2\.0 (\d+) .*?du=(\S+) cnt=(\S+) list=\[([^\]]*)\]/.exec(line);
      if (m) {
        expected.push(`${m[1]} du=${m[2]} cnt=${m[3]} list=[${m[4]}]`);
        continue;
      }
      const d = /^\s+(\{'.*\})\s*$/.exec(line);
      if (d) {
        const obj = JSON.parse(d[1]!.replace(/'/g, '"')) as Record<string, number>;
        expected.push(JSON.stringify(Object.fromEntries(Object.entries(obj).sort())));
      }
    }

    const ds = labDispatcher();
    const st = ds.state;
    const got: string[] = [];
    const run = (setId: number, alg: number, n: number, limit = 0, o: Partial<DsSelectInput> = {}): void => {
      for (let k = 0; k < n; k++) got.push(probeLine(ds.select(setId, alg, limit, input(o))));
    };
    const hundred = (setId: number, alg: number): void => {
      const sels: DsSelection[] = [];
      for (let k = 0; k < 100; k++) sels.push(ds.select(setId, alg, 0, input())!);
      got.push(JSON.stringify(Object.fromEntries(Object.entries(counts(sels)).sort())));
    };

    run(2, 4, 5); // alg 4 round-robin, 5 calls
    run(2, 4, 2, 2); // limit 2
    for (const callId of ['a', 'abcd', 'call-1@host']) run(2, 0, 1, 0, { callId });
    st.setState(st.findUri(2, 'sip:127.0.0.26:5073'), DS_INACTIVE_DST); // dispatcher.set_state i
    run(2, 0, 1, 0, { callId: 'a' });
    run(2, 4, 6);
    run(2, 5, 2); // no credentials: round-robin
    run(2, 5, 1, 0, {
      authorization: 'Digest username="alice", realm="x", nonce="n", uri="sip:svc@127.0.0.21", response="00000000000000000000000000000000"',
    });
    run(2, 7, 1); // no hash_pvar
    run(2, 99, 1);
    run(5, 8, 1);
    run(5, 13, 2);
    hundred(3, 9);
    hundred(3, 11);
    st.setState(st.findUri(3, 'sip:127.0.0.26:5077'), DS_INACTIVE_DST);
    hundred(3, 9);
    hundred(3, 11);
    assert.equal(st.setStateAll(2, DS_INACTIVE_DST), true);
    run(2, 4, 1);
    run(42, 4, 1);

    assert.deepEqual(got, expected);
  });
});

describe('index order and selection rules on the lab list', () => {
  test('set 2 index order is 5074,5073,5072,5071 and alg 0 hashes a/abcd/call-1@host to 1/0/2', () => {
    const ds = labDispatcher();
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => port(ds.state.destination(ds.state.indexOf(2, p)).uri)),
      ['5074', '5073', '5072', '5071'],
    );
    assert.equal(dsHash('a'), 109);
    const idx = (callId: string): number => ds.select(2, 0, 0, input({ callId }))!.dstIndex - ds.state.indexOf(2, 0);
    assert.equal(idx('a'), 1);
    assert.equal(idx('abcd'), 0);
    assert.equal(idx('call-1@host'), 2);
    // Call-ID is trimmed of SP/HTAB/CR/LF before hashing
    assert.equal(idx(' \ta\r\n'), 1);
    // no Call-ID: alg 0 fails
    assert.equal(ds.select(2, 0, 0, input({ callId: '  ' })), undefined);
  });

  test('§5.1 failover records: selected, then following, then preceding; limit counts the selected one', () => {
    const ds = labDispatcher();
    assert.deepEqual(ports(ds.select(2, 0, 0, input({ callId: 'a' }))), ['5073', '5072', '5071', '5074']);
    assert.deepEqual(ports(ds.select(2, 0, 0, input({ callId: 'call-1@host' }))), ['5072', '5071', '5074', '5073']);
    const two = ds.select(2, 0, 2, input({ callId: 'a' }))!;
    assert.deepEqual(ports(two), ['5073', '5072']);
    assert.equal(two.cnt, 2);
    const one = ds.select(2, 0, 1, input({ callId: 'a' }))!;
    assert.deepEqual(ports(one), ['5073']);
  });

  test('round-robin with index 1 inactive gives each active one 1/3 and the lists of §5.1', () => {
    const ds = labDispatcher();
    ds.state.setState(ds.state.indexOf(2, 1), DS_INACTIVE_DST);
    const lists = [0, 1, 2, 3, 4, 5].map(() => ports(ds.select(2, 4, 0, input())).join(','));
    assert.deepEqual(lists, [
      '5074,5072,5071',
      '5072,5071,5074',
      '5071,5074,5072',
      '5074,5072,5071',
      '5072,5071,5074',
      '5071,5074,5072',
    ]);
    assert.equal(ds.state.last(2), 0);
  });

  test('alg 5: Proxy-Authorization preferred, else Authorization; no credentials -> shared round-robin cursor', () => {
    const ds = labDispatcher();
    assert.equal(dsHash('alice'), 1834153949);
    const alice = 'Digest username="alice", realm="x", nonce="n", uri="sip:svc@127.0.0.21", response="0"';
    const bob = 'Digest username="bob", realm="x"';
    const base = ds.state.indexOf(2, 0);
    const pos = (s: DsSelection | undefined): number => s!.dstIndex - base;
    assert.equal(pos(ds.select(2, 5, 0, input({ authorization: alice }))), 1834153949 % 4);
    assert.equal(pos(ds.select(2, 5, 0, input({ proxyAuthorization: alice, authorization: bob }))), 1834153949 % 4);
    assert.equal(pos(ds.select(2, 5, 0, input({ proxyAuthorization: 'Basic YWxpY2U6eA==', authorization: alice }))), 1834153949 % 4);
    // round-robin: alg 4 and alg 5 without credentials share `last`
    assert.equal(pos(ds.select(2, 4, 0, input())), 0);
    assert.equal(pos(ds.select(2, 5, 0, input())), 1);
    assert.equal(pos(ds.select(2, 5, 0, input({ authorization: 'Digest realm="x"' }))), 2); // empty username
    assert.equal(pos(ds.select(2, 4, 0, input())), 3);
  });

  test('digest username parsing (parse_digest_cred + parse_username)', () => {
    assert.equal(digestUsername('Digest username="alice", realm="x"'), 'alice');
    assert.equal(digestUsername('digest  realm="x",username=bob ,nonce="1"'), 'bob');
    assert.equal(digestUsername('Digest username="alice@example.com"'), 'alice');
    assert.equal(digestUsername('Digest username="sip:carol@example.com"'), 'carol');
    assert.equal(digestUsername('Digest realm="x"'), '');
    assert.equal(digestUsername('Basic abc'), undefined);
    assert.equal(digestUsername('Digest username="unterminated'), undefined);
    assert.equal(digestUsername('Digest'), undefined);
    assert.equal(authHashKey(undefined, undefined), undefined);
    assert.equal(authHashKey('Digest realm="x"', 'Digest username="alice"'), undefined); // parsed Proxy-Authorization wins, empty user
    assert.equal(authHashKey(undefined, 'Digest username=" alice "'), 'alice');
  });

  test('alg 7 uses the expanded hash_pvar, trimmed; unset or empty fails', () => {
    const ds = labDispatcher();
    const base = ds.state.indexOf(2, 0);
    assert.equal(ds.select(2, 7, 0, input()), undefined);
    assert.equal(ds.select(2, 7, 0, input({ hashPv: ' \t' })), undefined);
    assert.equal(ds.select(2, 7, 0, input({ hashPv: ' a ' }))!.dstIndex - base, 109 % 4);
  });

  test('alg 6 random: rand() % N then next-in-list', () => {
    const seq = [5, 6, 7, 8];
    let k = 0;
    const ds = labDispatcher({ random: () => seq[k++ % seq.length]! });
    const base = ds.state.indexOf(2, 0);
    assert.deepEqual([0, 1, 2, 3].map(() => ds.select(2, 6, 0, input())!.dstIndex - base), [1, 2, 3, 0]);
    const dsr = labDispatcher();
    for (let j = 0; j < 50; j++) assert.ok(dsr.select(2, 6, 0, input()));
  });

  test('alg 8 serial keeps TRYING, skips INACTIVE and DISABLED; unknown alg = first active entry', () => {
    const ds = labDispatcher();
    assert.deepEqual(ports(ds.select(5, 8, 0, input())), ['5085', '5083', '5082', '5084']);
    ds.state.setState(ds.state.findUri(5, 'sip:127.0.0.26:5085'), DS_DISABLED_DST);
    const s = ds.select(5, 99, 0, input())!;
    assert.equal(port(s.du), '5083');
    assert.deepEqual(ports(s), ['5083', '5082', '5084']);
  });

  test('alg 13 without latency stats: highest priority, round-robin among equals; with latency the handicap applies', () => {
    const ds = labDispatcher();
    for (let k = 0; k < 3; k++) assert.deepEqual(ports(ds.select(5, 13, 0, input())), ['5085', '5083', '5082', '5084']);
    // set 2: all priority 0 -> cursor rotation starting at `last`
    assert.deepEqual(
      [0, 1, 2, 3].map(() => ports(ds.select(2, 13, 0, input())).join(',')),
      ['5074,5073,5072,5071', '5073,5072,5071,5074', '5072,5071,5074,5073', '5071,5074,5073,5072'],
    );
    // latency 30 ms on the priority-9 entry: rpriority 9 - trunc(30/9) = 6, still first;
    // latency 90 ms: 9 - 10 = -1, clamped to 1: behind 5083 (4) and 5082 (3), ahead of 5084 (0)
    const i85 = ds.state.findUri(5, 'sip:127.0.0.26:5085');
    ds.state.setLatency(i85, { estimate: 30 });
    assert.equal(port(ds.select(5, 13, 0, input())!.du), '5085');
    assert.equal(ds.state.rpriority(i85), 6);
    ds.state.setLatency(i85, { estimate: 90 });
    assert.deepEqual(ports(ds.select(5, 13, 0, input())), ['5083', '5082', '5085', '5084']);
    assert.equal(ds.state.rpriority(i85), 1);
    // all skipped -> fails
    ds.state.setStateAll(5, DS_INACTIVE_DST);
    assert.equal(ds.select(5, 13, 0, input()), undefined);
  });

  test('alg 9 and 11: exact 70/20/10 per 100; with the 70 inactive 90/10 and 66/34', () => {
    const ds = labDispatcher();
    const hundred = (alg: number): Record<string, number> => counts(Array.from({ length: 100 }, () => ds.select(3, alg, 0, input())));
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(hundred(9), { '5077': 70, '5076': 20, '5075': 10 });
      assert.deepEqual(hundred(11), { '5077': 70, '5076': 20, '5075': 10 });
    }
    const i77 = ds.state.findUri(3, 'sip:127.0.0.26:5077');
    ds.state.setState(i77, DS_INACTIVE_DST);
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(hundred(9), { '5076': 90, '5075': 10 });
      assert.deepEqual(hundred(11), { '5076': 66, '5075': 34 });
    }
    ds.state.setState(i77, 0); // back: rweight table rebuilt over all three
    assert.deepEqual(hundred(11), { '5077': 70, '5076': 20, '5075': 10 });
  });

  test('all inactive -> undefined; unknown or negative set -> undefined; no sets loaded -> undefined', () => {
    const ds = labDispatcher();
    ds.state.setStateAll(2, DS_INACTIVE_DST);
    for (const alg of [0, 4, 8, 9, 11, 12, 13]) assert.equal(ds.select(2, alg, 0, input({ callId: 'a' })), undefined, `alg ${alg}`);
    assert.equal(ds.select(42, 4, 0, input()), undefined);
    assert.equal(ds.select(-1, 4, 0, input()), undefined);
    const empty = parseDispatcherList('# nothing\n', 'empty.list');
    assert.equal(new Dispatcher(empty, DsState.create(empty), { flags: 2 }).select(1, 4, 0, input()), undefined);
  });

  test('force_dst=0 fails when $du is already set', () => {
    const ds = labDispatcher({ forceDst: false });
    assert.equal(ds.select(2, 4, 0, input({ du: 'sip:1.2.3.4' })), undefined);
    assert.ok(ds.select(2, 4, 0, input({ du: '' })));
    assert.ok(labDispatcher().select(2, 4, 0, input({ du: 'sip:1.2.3.4' })));
  });

  test('alg 12: $du = first active, every later index (inactive too) as an extra branch; no records, cnt 0', () => {
    const ds = labDispatcher();
    ds.state.setState(ds.state.indexOf(2, 2), DS_INACTIVE_DST);
    const s = ds.select(2, 12, 0, input())!;
    assert.equal(port(s.du), '5074');
    assert.deepEqual(s.branches.map(port), ['5073', '5072', '5071']);
    assert.deepEqual(s.branchIndexes, [1, 2, 3].map((p) => ds.state.indexOf(2, p)));
    assert.deepEqual(s.records, []);
    assert.equal(s.cnt, 0);
    ds.state.setState(ds.state.indexOf(2, 0), DS_INACTIVE_DST);
    ds.state.setState(ds.state.indexOf(2, 1), DS_INACTIVE_DST);
    const t = ds.select(2, 12, 0, input())!;
    assert.equal(port(t.du), '5071');
    assert.deepEqual(t.branches, []);
  });
});

describe('records, next(), options', () => {
  test('record fields with xavp_dst_mode 0: uri, grp, attrs when non-empty, sock; no dstid outside alg 10', () => {
    const ds = labDispatcher();
    const s = ds.select(5, 8, 0, input())!;
    const r85 = s.records[0]!;
    assert.equal(r85.uri, 'sip:127.0.0.26:5085');
    assert.equal(r85.grp, 5);
    assert.equal(r85.attrs, 'socket=udp:127.0.0.21:5060;obproxy=sip:127.0.0.26:5086;myattr=x');
    assert.deepEqual(r85.sock, { kind: 'address', value: 'udp:127.0.0.21:5060' });
    assert.equal(r85.socket, undefined);
    assert.equal(r85.sockname, undefined);
    assert.equal(r85.dstid, undefined);
    assert.deepEqual(s.sock, r85.sock);
    const r83 = s.records[1]!;
    assert.equal(r83.uri, 'sip:127.0.0.26:5083');
    assert.equal(r83.attrs, 'duid=noscheme');
    assert.equal(r83.sock, undefined);
    assert.equal(s.records[2]!.attrs, undefined); // no attrs column
  });

  test('xavp_dst_mode 1/2, xavp_ctx_mode 1, default socket', () => {
    const ds = labDispatcher({ xavpDstMode: 3, xavpCtxMode: 1, defaultSocket: 'udp:127.0.0.21:5060' });
    const s = ds.select(5, 8, 0, input())!;
    assert.equal(s.cnt, undefined);
    assert.equal(s.records[0]!.attrs, undefined);
    assert.equal(s.records[0]!.socket, 'udp:127.0.0.21:5060');
    assert.deepEqual(s.records[1]!.sock, { kind: 'address', value: 'udp:127.0.0.21:5060' });
    assert.equal(s.records[1]!.socket, undefined); // default socket, no socket attr
  });

  test('flags without 2 (or empty xavp_dst): $du only, no records, cnt 0, next() fails', () => {
    for (const opts of [{ flags: 0 }, { flags: 2, xavpDst: '' }]) {
      const ds = labDispatcher(opts);
      const s = ds.select(2, 0, 0, input({ callId: 'a' }))!;
      assert.equal(port(s.du), '5073');
      assert.deepEqual(s.records, []);
      assert.equal(s.cnt, 0);
      assert.equal(ds.next(s), undefined);
    }
  });

  test('next(): drops the head, $du = new head; limit 2 allows exactly one failover', () => {
    const ds = labDispatcher();
    const s = ds.select(2, 0, 2, input({ callId: 'a' }))!;
    assert.equal(port(s.du), '5073');
    assert.equal(ds.current(s), 'sip:127.0.0.26:5073');
    assert.equal(ds.next(s), 'sip:127.0.0.26:5072');
    assert.equal(s.du, 'sip:127.0.0.26:5072');
    assert.equal(s.dstIndex, ds.state.indexOf(2, 2));
    assert.deepEqual(ports(s), ['5072']);
    assert.equal(ds.next(s), undefined); // head still removed
    assert.deepEqual(s.records, []);
    assert.equal(s.du, 'sip:127.0.0.26:5072');
    assert.equal(ds.next(s), undefined);
    assert.equal(ds.current(s), undefined);
  });

  test('a second selection prepends its records (prior kept after them); markDst targets the head', () => {
    const ds = labDispatcher({ probingMode: 1 });
    const first = ds.select(2, 0, 2, input({ callId: 'a' }))!;
    const second = ds.select(3, 8, 1, input(), first.records)!;
    assert.deepEqual(ports(second), ['5077', '5073', '5072']);
    assert.equal(second.cnt, 1);
    const change = ds.markDst(second.records)!;
    assert.equal(change.index, ds.state.findUri(3, 'sip:127.0.0.26:5077'));
    assert.equal(ds.state.letters(change.index), 'IP');
    assert.equal(change.event, 'dst-down');
    assert.equal(ds.next(second), 'sip:127.0.0.26:5073');
  });

  test('use_default=1: modulo N-1, last entry is the last resort and goes last in the records', () => {
    const list = parseDispatcherList(
      '1 sip:10.0.0.1:5060 0 3\n1 sip:10.0.0.2:5060 0 2\n1 sip:10.0.0.3:5060 0 1\n1 sip:10.0.0.9:5060 0 0\n',
      'usedefault.list',
    );
    const ds = new Dispatcher(list, DsState.create(list), { flags: 2, useDefault: true });
    const st = ds.state;
    const last = (s: DsSelection | undefined): string => (s ? s.records.map((r) => r.uri.slice(4, 12)).join(',') : 'FAIL');
    // round-robin cycles over the first N-1 = 3 only (cursor is still mod N)
    assert.equal(last(ds.select(1, 4, 0, input())), '10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.9');
    assert.equal(last(ds.select(1, 4, 0, input())), '10.0.0.2,10.0.0.3,10.0.0.1,10.0.0.9');
    assert.equal(last(ds.select(1, 4, 0, input())), '10.0.0.3,10.0.0.1,10.0.0.2,10.0.0.9');
    // hash: h mod 3 (109 % 3 = 1)
    assert.equal(last(ds.select(1, 0, 0, input({ callId: 'a' }))), '10.0.0.2,10.0.0.3,10.0.0.1,10.0.0.9');
    // limit counts the default entry too
    assert.equal(last(ds.select(1, 0, 2, input({ callId: 'a' }))), '10.0.0.2,10.0.0.3');
    // the default entry is appended whatever its state
    st.setState(st.indexOf(1, 3), DS_INACTIVE_DST);
    assert.equal(last(ds.select(1, 8, 0, input())), '10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.9');
    st.setState(st.indexOf(1, 3), 0);
    // first N-1 all inactive -> the default entry alone
    for (let p = 0; p < 3; p++) st.setState(st.indexOf(1, p), DS_INACTIVE_DST);
    const lastResort = ds.select(1, 8, 0, input())!;
    assert.equal(lastResort.du, 'sip:10.0.0.9:5060');
    assert.equal(last(lastResort), '10.0.0.9');
    st.setState(st.indexOf(1, 3), DS_INACTIVE_DST);
    assert.equal(ds.select(1, 8, 0, input()), undefined);
  });

  test('flags=1 hashes the URI user only', () => {
    const ds = labDispatcher({ flags: 3 });
    const base = ds.state.indexOf(2, 0);
    const s = ds.select(2, 1, 0, input({ fromUri: '"Alice" <sip:alice@server.com:5080>;tag=1' }))!;
    assert.equal(s.dstIndex - base, dsHash('alice') % 4);
    assert.deepEqual(uriHashKeys('sip:alice@server.com:5080', true), { x: 'alice', y: undefined });
  });
});

describe('uri_hash_probe.txt: alg 1/2/3 keys', () => {
  test('every row: keys, hash and selected destination', () => {
    const text = fs.readFileSync(path.join(VECTORS, 'uri_hash_probe.txt'), 'utf8');
    const rows = text
      .split('\n')
      .map((l) => /^alg=(\d+) uri=(\S+) key1='([^']*)' key2='([^']*)' hash=(\d+) idx=(\d+) pred=\d+ got=(\d+) OK$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    assert.equal(rows.length, 27);
    const ds = labDispatcher();
    for (const m of rows) {
      const alg = Number(m[1]);
      const uri = m[2]!;
      const keys = uriHashKeys(uri, false);
      assert.deepEqual(keys, { x: m[3], y: m[4] }, uri);
      assert.equal(dsHash(keys!.x, keys!.y), Number(m[5]), uri);
      const sel = ds.select(2, alg, 0, input({ fromUri: `<${uri}>;tag=x`, toUri: uri, ruri: uri }))!;
      assert.equal(sel.dstIndex - ds.state.indexOf(2, 0), Number(m[6]), uri);
      assert.equal(port(sel.du), m[7], uri);
    }
  });

  test('header URI extraction and bad URIs', () => {
    assert.equal(headerUri(' "Bob" <sip:bob@b.example;transport=udp>;tag=9 '), 'sip:bob@b.example;transport=udp');
    assert.equal(headerUri('sip:bob@b.example;tag=9'), 'sip:bob@b.example');
    // tel: URIs hash the number alone (verified against Kamailio 5.6.3 in test/interop/kamailio-picks.test.ts)
    assert.deepEqual(uriHashKeys('tel:+123;phone-context=x', false), { x: '+123', y: undefined });
    assert.deepEqual(uriHashKeys('sip:a@[::1]:5070', false), { x: 'a', y: '[::1]:5070' });
    assert.deepEqual(uriHashKeys('sip:a:pw@h.example:05080', false), { x: 'a', y: 'h.example:05080' });
    const ds = labDispatcher();
    assert.equal(ds.select(2, 1, 0, input({ fromUri: 'garbage' })), undefined);
    assert.equal(ds.select(2, 3, 0, input({ ruri: '' })), undefined);
  });
});

describe('alg 10 call load (§6)', () => {
  test('lab run: 10 INVITEs -> 5074,5073,5072,5071,5074,5073,5072,5071,5074,5073, DLGLOAD 3,3,2,2 (a1 maxload=2)', () => {
    const ds = labDispatcher();
    const seq: string[] = [];
    for (let k = 1; k <= 10; k++) {
      const s = ds.select(2, 10, 2, input({ callId: `call-${k}@lab`, isInvite: true }))!;
      assert.equal(s.alg, 10);
      assert.equal(s.records[0]!.dstid, ds.state.destination(s.dstIndex).parsedAttrs.duid);
      seq.push(port(s.du));
    }
    assert.deepEqual(seq, ['5074', '5073', '5072', '5071', '5074', '5073', '5072', '5071', '5074', '5073']);
    assert.deepEqual([0, 1, 2, 3].map((p) => ds.state.dload(ds.state.indexOf(2, p))), [3, 3, 2, 2]);
    assert.equal(ds.callLoad!.size, 10);
    // a1 (5071) is at maxload: left out of the failover records too
    const s = ds.select(2, 10, 0, input({ callId: 'call-11@lab', isInvite: true }))!;
    assert.deepEqual(ports(s), ['5072', '5074', '5073']);
  });

  test('non-INVITE, duplicate Call-ID, no table: first/least-loaded entry without load accounting (alg 0 records)', () => {
    const ds = labDispatcher();
    const opt = ds.select(2, 10, 0, input({ callId: 'x', isInvite: false }))!;
    assert.equal(opt.alg, 0);
    assert.equal(port(opt.du), '5074');
    assert.equal(opt.records[0]!.dstid, undefined);
    const a = ds.select(2, 10, 0, input({ callId: 'dup', isInvite: true }))!;
    assert.equal(a.alg, 10);
    const b = ds.select(2, 10, 0, input({ callId: 'dup', isInvite: true }))!;
    assert.equal(b.alg, 0); // "call-id already in hash table": classic dispatching
    assert.equal(b.records[0]!.dstid, undefined);
    assert.equal(ds.state.dload(a.dstIndex), 1);
    assert.equal(ds.state.dload(b.dstIndex), 0);

    const noTable = labDispatcher({ hashSize: 0 });
    for (let k = 0; k < 3; k++) {
      const s = noTable.select(2, 10, 0, input({ callId: `c${k}`, isInvite: true }))!;
      assert.equal(port(s.du), '5074');
      assert.equal(s.alg, 0);
    }
  });

  test('a destination without duid in the list makes the selection fail (after the load was recorded)', () => {
    const ds = labDispatcher();
    // set 5: 5085 (no duid, selected first) -> no load, alg 0; then make 5083 (duid) the least loaded pick
    const s = ds.select(5, 10, 0, input({ callId: 'c5', isInvite: true }))!;
    assert.equal(s.alg, 0);
    ds.state.setState(ds.state.findUri(5, 'sip:127.0.0.26:5085'), DS_INACTIVE_DST);
    assert.equal(ds.select(5, 10, 0, input({ callId: 'c6', isInvite: true })), undefined);
    assert.equal(ds.state.dload(ds.state.findUri(5, 'sip:127.0.0.26:5083')), 1);
  });

  test('next() moves the load to the new duid; load hooks and ds_load_update', () => {
    const ds = labDispatcher();
    const t = ds.callLoad!;
    const st = ds.state;
    const s = ds.select(2, 10, 0, input({ callId: 'move@lab', isInvite: true }))!;
    assert.equal(port(s.du), '5074');
    assert.equal(t.get('move@lab')!.duid, 'a4');
    assert.equal(ds.next(s), 'sip:127.0.0.26:5073');
    assert.equal(t.get('move@lab')!.duid, 'a3');
    assert.equal(st.dload(st.indexOf(2, 0)), 0);
    assert.equal(st.dload(st.indexOf(2, 1)), 1);
    t.loadUpdateMessage('move@lab', { kind: 'reply', cseqMethod: 'INVITE', status: 200 });
    assert.equal(t.get('move@lab')!.state, DS_LOAD_CONFIRMED);
    t.loadUpdateMessage('move@lab', { kind: 'request', method: 'BYE' });
    assert.equal(t.get('move@lab'), undefined);
    assert.equal(st.dload(st.indexOf(2, 1)), 0);
    // hooks
    ds.select(2, 10, 0, input({ callId: 'hook@lab', isInvite: true }));
    assert.equal(t.loadUpdate('hook@lab', 'confirmed'), true);
    assert.equal(t.loadRemove('hook@lab'), true);
    assert.equal(t.loadRemove('hook@lab'), false);
    assert.equal(st.dload(st.indexOf(2, 0)), 0);
  });

  test('table: 2^k buckets by core_case_hash, sorted by hash, case-sensitive Call-ID; purge by expire/initexpire', () => {
    let now = 1000;
    const t = new CallLoadTable({ hashSize: 9, expire: 100, initExpire: 10, clock: () => now });
    assert.equal(t.buckets, 512);
    const list = labList();
    const ds = new Dispatcher(list, DsState.create(list), { flags: 2, callLoad: t });
    assert.equal(ds.callLoad, t);
    assert.equal(t.add('Call-A', 'a1', 2), 0);
    assert.equal(t.add('call-a', 'a2', 2), 0); // same bucket and hash (case folded), different Call-ID
    assert.equal(t.bucketOf('Call-A'), t.bucketOf('call-a'));
    assert.equal(t.add('Call-A', 'a3', 2), -2);
    assert.equal(t.get('Call-A')!.duid, 'a1');
    assert.equal(t.get('CALL-A'), undefined);
    t.clear();
    const i1 = ds.state.indexOf(2, 3); // a1
    const i2 = ds.state.indexOf(2, 2); // a2
    assert.equal(t.loadAdd('init', 2, i1), true);
    assert.equal(t.loadAdd('conf', 2, i2), true);
    t.loadState('conf', DS_LOAD_CONFIRMED);
    assert.equal(t.get('init')!.state, DS_LOAD_INIT);
    assert.equal(t.get('init')!.expire, 1100);
    assert.equal(t.get('init')!.initexpire, 1010);
    now = 1010;
    assert.equal(t.purge(), 0); // strictly older than now
    now = 1011;
    assert.equal(t.purge(), 1); // INIT past initexpire
    assert.equal(ds.state.dload(i1), 0);
    assert.equal(ds.state.dload(i2), 1);
    now = 1101;
    assert.equal(t.purge(), 1); // past expire
    assert.equal(ds.state.dload(i2), 0);
    assert.equal(t.size, 0);
    // decrements floor at 0 and survive a reload (new list, table re-targeted)
    assert.equal(t.loadAdd('r', 2, i1), true);
    const list2 = labList();
    const ds2 = new Dispatcher(list2, DsState.create(list2), { flags: 2, callLoad: t });
    assert.equal(t.target, ds2);
    assert.equal(t.loadRemove('r'), true);
    assert.equal(ds2.state.dload(ds2.state.indexOf(2, 3)), 0);
    const stop = t.startPurgeTimer(30);
    stop();
  });
});
