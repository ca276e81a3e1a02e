/**
 * dispatcher.* over real HTTP against an in-process Dataplane loaded with the
 * ds-lab list Kamailio 5.6.3 was captured with (test/fixtures/config/ds-lab/),
 * replies compared byte for byte with the captures: list (normal, short,
 * full, after reload, after add/remove, with call load), set_state in every
 * form, reload (ok, rate limit, bad line keeps the list), add/remove with
 * Kamailio's order flip, hash, ping_active; plus dispatcher.write_list.
 *
 * Runtime states in the captures come from live keepalives; the tests set
 * the same states first (applyFlags) - everything else (set order, index
 * order, attrs, RUNTIME, the printing) is ours.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DS_DISABLED_DST, DS_INACTIVE_DST, DS_PROBING_DST, DS_TRYING_DST, parseDispatcherList } from '../../src/dispatcher';
import { fixture, vector } from '../helpers/paths';
import { readVector, request, rpc, startPlane, type Plane } from './helpers';

const LAB_LIST_FILE = fixture('config', 'ds-lab', 'dispatcher.list');
const LAB_LIST = fs.readFileSync(LAB_LIST_FILE, 'utf8');
const labList = () => parseDispatcherList(LAB_LIST, LAB_LIST_FILE);
const v = (name: string) => readVector(vector('dispatcher', 'rpc', `${name}.txt`));

type ListResult = { NRSETS: number; RECORDS: { SET: { ID: number; TARGETS: { DEST: { URI: string; FLAGS: string; PRIORITY: number } }[] } }[] };

function bitsOf(letters: string): number {
  const first = { A: 0, I: DS_INACTIVE_DST, D: DS_DISABLED_DST, T: DS_TRYING_DST }[letters[0] as 'A' | 'I' | 'D' | 'T'];
  return first | (letters[1] === 'P' ? DS_PROBING_DST : 0);
}

/** Sets every destination to the state letters a captured dispatcher.list shows. */
function applyFlags(p: Plane, body: string): void {
  const res = (JSON.parse(body) as { result: ListResult }).result;
  const st = p.dp.dsState;
  for (const r of res.RECORDS) {
    for (const t of r.SET.TARGETS) {
      const i = st.findUri(r.SET.ID, t.DEST.URI);
      assert.ok(i >= 0, `${r.SET.ID} ${t.DEST.URI} in our list`);
      st.setState(i, bitsOf(t.DEST.FLAGS));
    }
  }
}

async function replay(p: Plane, name: string): Promise<{ status: number; reason: string; body: string }> {
  const vec = v(name);
  return request(p.port, { path: vec.path, body: vec.request, headers: { 'content-type': 'application/json' } });
}

async function assertReplay(p: Plane, name: string): Promise<void> {
  const vec = v(name);
  const r = await replay(p, name);
  assert.equal(r.status, vec.status, `${name}: status`);
  assert.equal(r.reason, vec.reason, `${name}: reason`);
  assert.equal(r.body, vec.body, `${name}: body byte for byte`);
}

const uris = (res: ListResult, set: number): string[] => res.RECORDS.find((x) => x.SET.ID === set)!.SET.TARGETS.map((t) => t.DEST.URI.slice(-4));
const list = async (p: Plane, mode?: string): Promise<ListResult> => (await rpc(p.port, 'dispatcher.list', mode ? [mode] : [])).reply.result as ListResult;

describe('dispatcher.list, set_state, hash, ping_active (ds-lab list, byte for byte)', { timeout: 60_000 }, () => {
  let p: Plane;
  before(async () => {
    p = await startPlane({ list: LAB_LIST, dsList: labList() });
  });
  after(async () => {
    await p?.close();
  });

  test('full and short mode as ds_list_full.txt / ds_list_short.txt', async () => {
    applyFlags(p, v('ds_list_full').body);
    await assertReplay(p, 'ds_list_full');
    await assertReplay(p, 'ds_list_short');
  });

  test('normal mode with file flags and attrs as ds_list_after_reload_file_flags.txt', async () => {
    applyFlags(p, v('ds_list_after_reload_file_flags').body);
    await assertReplay(p, 'ds_list_after_reload_file_flags');
  });

  test('mode is case-insensitive, anything else is normal; AVL post-order 1,5,3,2', async () => {
    const short = await list(p, 'SHORT');
    assert.deepEqual(short.RECORDS.map((r) => r.SET.ID), [1, 5, 3, 2]);
    assert.equal('ATTRS' in short.RECORDS[0]!.SET.TARGETS[0]!.DEST, false);
    const other = await list(p, 'bogus');
    assert.equal('ATTRS' in other.RECORDS[0]!.SET.TARGETS[0]!.DEST, true);
    assert.equal('HOST' in other.RECORDS[0]!.SET.TARGETS[0]!.DEST, false);
  });

  test('set_state: every captured form and error, byte for byte, with its effect', async () => {
    const st = p.dp.dsState;
    const at = (set: number, uri: string) => st.letters(st.findUri(set, uri));
    st.setStateAll(2, 0);
    await assertReplay(p, 'set_state_ip');
    assert.equal(at(2, 'sip:127.0.0.26:5072'), 'IP');
    await assertReplay(p, 'set_state_named_params');
    assert.equal(at(2, 'sip:127.0.0.26:5072'), 'AX');
    for (const name of ['set_state_unknown_addr', 'set_state_bad_state', 'set_state_missing_param', 'set_state_all_unknown_group', 'set_state_group_as_string']) {
      await assertReplay(p, name);
    }
    await assertReplay(p, 'set_state_i_5073');
    assert.equal(at(2, 'sip:127.0.0.26:5073'), 'IX');
    await assertReplay(p, 'set_state_i_5077');
    assert.equal(at(3, 'sip:127.0.0.26:5077'), 'IX');
    await assertReplay(p, 'set_state_all_inactive');
    for (const u of ['23', '22', '24']) assert.equal(at(1, `sip:127.0.0.${u}:5060`), 'IX');
    // State letters beyond the captures: d, t+p, numeric (auto-converted), case of the URI, "all" only lower-case.
    assert.equal((await rpc(p.port, 'dispatcher.set_state', ['d', 1, 'SIP:127.0.0.23:5060'])).reply.result, 'Ok. Dispatcher state updated.');
    assert.equal(at(1, 'sip:127.0.0.23:5060'), 'DX');
    await rpc(p.port, 'dispatcher.set_state', ['tp', 1, 'sip:127.0.0.23:5060']);
    assert.equal(at(1, 'sip:127.0.0.23:5060'), 'TP');
    await rpc(p.port, 'dispatcher.set_state', [1, 1, 'all']);
    assert.equal(at(1, 'sip:127.0.0.24:5060'), 'AX');
    assert.equal((await rpc(p.port, 'dispatcher.set_state', ['i', 1, 'ALL'])).reply.error?.message, 'State Update Failed');
    assert.equal((await rpc(p.port, 'dispatcher.set_state', ['', 1, 'all'])).reply.error?.message, 'Invalid State Parameter');
    assert.equal((await rpc(p.port, 'dispatcher.set_state', [['i'], 1, 'all'])).reply.error?.message, 'Invalid Parameters');
  });

  test('set_duid_state: by duid (case-insensitive), unknown duid fails', async () => {
    const st = p.dp.dsState;
    assert.equal((await rpc(p.port, 'dispatcher.set_duid_state', ['ip', 2, 'A3'])).reply.result, 'Ok. Dispatcher state updated.');
    assert.equal(st.letters(st.findUri(2, 'sip:127.0.0.26:5073')), 'IP');
    const bad = await rpc(p.port, 'dispatcher.set_duid_state', ['a', 2, 'zz']);
    assert.equal(bad.status, 500);
    assert.equal(bad.reply.error?.message, 'State Update Failed');
    await rpc(p.port, 'dispatcher.set_duid_state', ['a', 2, 'a3']);
  });

  test('hash: as hash_rpc.txt; slot 0 for nslots <= 0; a number is not a string', async () => {
    await assertReplay(p, 'hash_rpc');
    assert.deepEqual((await rpc(p.port, 'dispatcher.hash', [0, 'abc'])).reply.result, { hashid: 7167810, slot: 0 });
    assert.deepEqual((await rpc(p.port, 'dispatcher.hash', [-3, 'abc'])).reply.result, { hashid: 7167810, slot: 0 });
    assert.equal((await rpc(p.port, 'dispatcher.hash', [3, 5])).reply.error?.message, 'Invalid Parameters');
    assert.equal((await rpc(p.port, 'dispatcher.hash', [3])).status, 500);
  });

  test('ping_active: get, set (any int; non-zero = on), a string counts as 0', async () => {
    assert.deepEqual((await rpc(p.port, 'dispatcher.ping_active')).reply.result, { OldPingState: 1 });
    assert.deepEqual((await rpc(p.port, 'dispatcher.ping_active', [7])).reply.result, { NewPingState: 7, OldPingState: 1 });
    assert.equal(p.dp.prober.active, true);
    assert.deepEqual((await rpc(p.port, 'dispatcher.ping_active', ['x'])).reply.result, { NewPingState: 0, OldPingState: 7 });
    assert.equal(p.dp.prober.active, false);
    assert.deepEqual((await rpc(p.port, 'dispatcher.ping_active', [-1])).reply.result, { OldPingState: 0 });
    await rpc(p.port, 'dispatcher.ping_active', [1]);
  });
});

describe('dispatcher.reload', { timeout: 60_000 }, () => {
  test('ok, then refused within reload_delta (5 s) - reload_ok.txt, reload_within_delta.txt', async () => {
    const p = await startPlane({ list: LAB_LIST, dsList: labList() });
    try {
      await assertReplay(p, 'reload_ok');
      await assertReplay(p, 'reload_within_delta');
      // SIGHUP's path is not rate limited.
      await p.mgmt.control.reload({ rateLimited: false });
    } finally {
      await p.close();
    }
  });

  test('a bad line: 500 Reload Failed, the list in force stays (ds_list_after_failed_reload.txt)', async () => {
    const p = await startPlane({ list: LAB_LIST, dsList: labList(), dispatcher: '  reload_delta: 0' });
    try {
      applyFlags(p, v('ds_list_after_failed_reload').body);
      fs.writeFileSync(p.listFile, `${LAB_LIST}\n7\n`);
      await assertReplay(p, 'reload_bad_line_fails');
      await assertReplay(p, 'ds_list_after_failed_reload');
      fs.rmSync(p.listFile);
      assert.equal((await rpc(p.port, 'dispatcher.reload')).reply.error?.message, 'Reload Failed', 'missing file');
      fs.writeFileSync(p.listFile, '1 sip:127.0.0.77:5060\n');
      assert.equal((await rpc(p.port, 'dispatcher.reload')).reply.result, 'Ok. Dispatcher successfully reloaded.');
      const l = await list(p);
      assert.equal(l.NRSETS, 1);
      assert.deepEqual(uris(l, 1), ['5060']);
    } finally {
      await p.close();
    }
  });
});

describe('dispatcher.add / dispatcher.remove (rebuild, order flip, carried state)', { timeout: 60_000 }, () => {
  test('four adds as captured: set order 1,3,2,6,8,7,5 (ds_list_after_adds.txt), then call load (ds_list_callload_runtime.txt)', async () => {
    const p = await startPlane({ list: LAB_LIST, dsList: labList(), dispatcher: '  reload_delta: 0' });
    try {
      await rpc(p.port, 'dispatcher.set_state', ['i', 1, 'all']);
      for (const name of ['add_set6_503', 'add_set7_ring', 'add_set8_nobye', 'add_set8_ok']) await assertReplay(p, name);
      await assertReplay(p, 'ds_list_after_adds');
      const st = p.dp.dsState;
      const loads: [string, number][] = [['5074', 3], ['5073', 3], ['5072', 2], ['5071', 2]];
      for (const [port, n] of loads) for (let k = 0; k < n; k++) st.incLoad(st.findUri(2, `sip:127.0.0.26:${port}`));
      await assertReplay(p, 'ds_list_callload_runtime');
      // The next rebuild carries states and loads over (and flips set 2 once more).
      assert.equal((await rpc(p.port, 'dispatcher.add', [9, 'sip:127.0.0.26:5099'])).status, 200);
      const after = p.dp.dsState;
      assert.notEqual(after, st, 'a new state');
      assert.equal(after.dload(after.findUri(2, 'sip:127.0.0.26:5074')), 3);
      assert.equal(after.letters(after.findUri(1, 'sip:127.0.0.23:5060')), 'IX');
      assert.deepEqual(uris(await list(p), 2), ['5071', '5072', '5073', '5074']);
    } finally {
      await p.close();
    }
  });

  test('add then remove of set 11: flip, flip back (add_once_order_flip.txt, ds_list_after_add_and_remove_short.txt)', async () => {
    const p = await startPlane({ list: LAB_LIST, dsList: labList(), dispatcher: '  reload_delta: 0' });
    try {
      await assertReplay(p, 'add_once_order_flip');
      const flipped = await list(p, 'short');
      assert.deepEqual(flipped.RECORDS.map((r) => r.SET.ID), [2, 1, 11, 5, 3]);
      assert.deepEqual(uris(flipped, 2), ['5071', '5072', '5073', '5074']);
      const r = await rpc(p.port, 'dispatcher.remove', [11, 'sip:127.0.0.26:5090'], 2);
      assert.equal(r.reply.result, 'Ok. Dispatcher destination removed.');
      await assertReplay(p, 'ds_list_after_add_and_remove_short');
    } finally {
      await p.close();
    }
  });

  test('Kamailio quirks: bad address skipped but Ok, sip: fix-up, string group = 0, remove is case-sensitive, errors', async () => {
    const p = await startPlane({ list: '1 sip:127.0.0.62:5060 0 0 duid=a\n1 sip:127.0.0.63:5060\n2 sip:127.0.0.64:5060 0 3\n', dispatcher: '  reload_delta: 0' });
    try {
      assert.equal((await rpc(p.port, 'dispatcher.add', [3, 'sip:@@bad'])).reply.result, 'Ok. Dispatcher destination added.');
      assert.equal((await rpc(p.port, 'dispatcher.add', [3])).reply.error?.message, 'Invalid Parameters');
      await rpc(p.port, 'dispatcher.add', ['3', 'sip:127.0.0.70']);
      await rpc(p.port, 'dispatcher.add', [4, '127.0.0.71:5060', 8, 2, 'duid=z;weight=5']);
      const full = await rpc(p.port, 'dispatcher.list', ['full']);
      const res = full.reply.result as ListResult;
      assert.deepEqual(res.RECORDS.map((x) => x.SET.ID), [0, 4, 2, 1], 'as Kamailio 5.6.3 answered the same sequence');
      const d4 = res.RECORDS[1]!.SET.TARGETS[0]!.DEST as unknown as Record<string, unknown>;
      assert.equal(d4['URI'], 'sip:127.0.0.71:5060');
      assert.equal(d4['FLAGS'], 'AP');
      assert.deepEqual(d4['ATTRS'], { BODY: 'duid=z;weight=5', DUID: 'z', MAXLOAD: 0, WEIGHT: 5, RWEIGHT: 0, SOCKET: null, SOCKNAME: null, OBPROXY: null });
      assert.deepEqual(res.RECORDS[3]!.SET.TARGETS.map((t) => t.DEST.URI), ['sip:127.0.0.62:5060', 'sip:127.0.0.63:5060'], 'three rebuilds: flipped');
      await rpc(p.port, 'dispatcher.remove', [1, 'SIP:127.0.0.62:5060']);
      assert.equal((await list(p)).RECORDS.find((x) => x.SET.ID === 1)!.SET.TARGETS.length, 2, 'case-sensitive: nothing removed');
      assert.equal((await rpc(p.port, 'dispatcher.remove', [9, 'sip:127.0.0.99'])).reply.result, 'Ok. Dispatcher destination removed.');
      assert.equal((await rpc(p.port, 'dispatcher.remove', [9])).reply.error?.message, 'Invalid Parameters');
      assert.equal((await rpc(p.port, 'dispatcher.remove', [9, 'sip:@@bad'])).reply.error?.message, 'Removing dispatcher dst failed');
      for (const [g, u] of [[0, 'sip:127.0.0.70'], [4, '127.0.0.71:5060'], [2, 'sip:127.0.0.64:5060'], [1, 'sip:127.0.0.62:5060'], [1, 'sip:127.0.0.63:5060']] as const) {
        assert.equal((await rpc(p.port, 'dispatcher.remove', [g, u])).status, 200);
      }
      const empty = await rpc(p.port, 'dispatcher.list');
      assert.equal(empty.status, 500);
      assert.equal(empty.reason, 'No Destination Sets');
      assert.equal((await rpc(p.port, 'dispatcher.set_state', ['a', 1, 'all'])).status, 200);
      await rpc(p.port, 'dispatcher.add', [1, 'sip:127.0.0.62:5060']);
      assert.equal((await list(p)).NRSETS, 1);
    } finally {
      await p.close();
    }
  });

  test('add and remove share the reload_delta limit with reload', async () => {
    const p = await startPlane({ list: '1 sip:127.0.0.62:5060\n' });
    try {
      assert.equal((await rpc(p.port, 'dispatcher.add', [2, 'sip:127.0.0.63'])).status, 200);
      for (const [m, params] of [['dispatcher.remove', [2, 'sip:127.0.0.63']], ['dispatcher.reload', []], ['dispatcher.add', [3, 'sip:127.0.0.64']]] as const) {
        const r = await rpc(p.port, m, params);
        assert.equal(r.status, 500, m);
        assert.equal(r.reason, 'Ongoing reload', m);
      }
    } finally {
      await p.close();
    }
  });
});

describe('dispatcher.write_list (extension)', { timeout: 60_000 }, () => {
  test('validates, writes atomically (mode kept, no temp file left), loads; a bad list changes nothing', async () => {
    const p = await startPlane({ list: '1 sip:127.0.0.62:5060\n', dispatcher: '  reload_delta: 0' });
    try {
      fs.chmodSync(p.listFile, 0o640);
      const text = '# written over HTTP\n2 sip:127.0.0.81:5060 0 5 duid=x\n2 sip:127.0.0.82:5060 0 9\n3 sip:127.0.0.83:5060\n3 sip:@@bad\n';
      const r = await rpc(p.port, 'dispatcher.write_list', [text]);
      assert.equal(r.status, 200);
      const res = r.reply.result as { FILE: string; NRSETS: number; DESTINATIONS: number; WARNINGS: string[] };
      assert.equal(res.FILE, p.listFile);
      assert.equal(res.NRSETS, 2);
      assert.equal(res.DESTINATIONS, 3);
      assert.equal(res.WARNINGS.length, 1);
      assert.match(res.WARNINGS[0]!, /^5: .*@@bad/);
      assert.equal(fs.readFileSync(p.listFile, 'utf8'), text);
      assert.equal(fs.statSync(p.listFile).mode & 0o777, 0o640);
      assert.deepEqual(fs.readdirSync(path.dirname(p.listFile)), ['dispatcher.list']);
      const l = await list(p);
      assert.deepEqual(l.RECORDS.map((x) => x.SET.ID), [3, 2], 'AVL post-order');
      assert.deepEqual(l.RECORDS[1]!.SET.TARGETS.map((t) => t.DEST.URI), ['sip:127.0.0.82:5060', 'sip:127.0.0.81:5060'], 'priority 9 first');

      const bad = await rpc(p.port, 'dispatcher.write_list', ['4 sip:127.0.0.90\n5\n']);
      assert.equal(bad.status, 400);
      assert.match(bad.reply.error!.message, /^Invalid dispatcher list: .*:2: setid: bad line/);
      assert.equal(fs.readFileSync(p.listFile, 'utf8'), text, 'file untouched');
      assert.deepEqual((await list(p)).RECORDS.map((x) => x.SET.ID), [3, 2], 'list untouched');

      for (const params of [[], [5], ['a', 'b'], [null]]) {
        const x = await rpc(p.port, 'dispatcher.write_list', params);
        assert.deepEqual(x.reply.error, { code: -32602, message: 'Invalid Parameters' }, JSON.stringify(params));
      }
      // And a later dispatcher.reload reads what was written.
      assert.equal((await rpc(p.port, 'dispatcher.reload')).status, 200);
      assert.equal((await list(p)).NRSETS, 2);
    } finally {
      await p.close();
    }
  });

  test('refused within reload_delta before writing; refused for an inline list', async () => {
    const p = await startPlane({ list: '1 sip:127.0.0.62:5060\n' });
    try {
      assert.equal((await rpc(p.port, 'dispatcher.write_list', ['1 sip:127.0.0.63:5060\n'])).status, 200);
      const again = await rpc(p.port, 'dispatcher.write_list', ['1 sip:127.0.0.64:5060\n']);
      assert.equal(again.reply.error?.message, 'Ongoing reload');
      assert.equal(fs.readFileSync(p.listFile, 'utf8'), '1 sip:127.0.0.63:5060\n');
    } finally {
      await p.close();
    }
    const q = await startPlane({ list: '1 sip:127.0.0.62:5060\n', inline: true });
    try {
      const inline = await rpc(q.port, 'dispatcher.write_list', ['1 sip:127.0.0.63:5060\n']);
      assert.equal(inline.status, 500);
      assert.match(inline.reply.error!.message, /^No list file/);
    } finally {
      await q.close();
    }
  });
});
