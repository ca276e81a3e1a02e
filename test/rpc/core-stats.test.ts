/**
 * core.*, system.listMethods and stats.get_statistics over HTTP: shapes as
 * Kamailio 5.6.3 answers them (core.uptime's ctime strings, core.ps's flat
 * array, stats as "group:name = value" strings), values from the shards'
 * telemetry after a real call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { SipPeer, uas, uniq } from '../helpers/sip-peer';
import { hangUp, placeCall, rpc, startPlane, waitUntil, type Plane } from './helpers';

const CTIME = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}$/;

describe('core.* and stats.get_statistics', { timeout: 60_000 }, () => {
  let p: Plane;
  let uac: SipPeer;
  let router: SipPeer;
  before(async () => {
    uac = await SipPeer.bind('127.0.0.130');
    router = await SipPeer.bind('127.0.0.131');
    router.responder = uas.ok();
    p = await startPlane({ list: `1 ${router.uri}\n` });
  });
  after(async () => {
    await p?.close();
    await Promise.all([uac?.close(), router?.close()]);
  });

  test('core.version: one string', async () => {
    const r = await rpc(p.port, 'core.version');
    assert.match(r.reply.result as string, /^switchyard \d+\.\d+\.\d+ \(\w+\/\w+\)$/);
  });

  test('core.uptime: {now, up_since, uptime} as Kamailio', async () => {
    const r = (await rpc(p.port, 'core.uptime')).reply.result as Record<string, unknown>;
    assert.deepEqual(Object.keys(r), ['now', 'up_since', 'uptime']);
    assert.match(r['now'] as string, CTIME);
    assert.match(r['up_since'] as string, CTIME);
    assert.ok(Number.isInteger(r['uptime']) && (r['uptime'] as number) >= 0);
  });

  test('core.ps (flat pid, description) and core.psx ({IDX, PID, DSC})', async () => {
    const ps = (await rpc(p.port, 'core.ps')).reply.result as unknown[];
    assert.equal(ps.length, 2);
    assert.equal(ps[0], process.pid);
    assert.equal(typeof ps[1], 'string');
    const psx = (await rpc(p.port, 'core.psx')).reply.result as Record<string, unknown>[];
    assert.deepEqual(Object.keys(psx[0]!), ['IDX', 'PID', 'DSC']);
    assert.equal(psx[0]!['IDX'], 0);
  });

  test('system.listMethods: sorted, every module, no placeholders', async () => {
    const names = (await rpc(p.port, 'system.listMethods')).reply.result as string[];
    assert.deepEqual(names, [...names].sort());
    for (const m of ['core.ps', 'core.psx', 'core.uptime', 'core.version', 'dispatcher.add', 'dispatcher.hash', 'dispatcher.list', 'dispatcher.ping_active', 'dispatcher.reload', 'dispatcher.remove', 'dispatcher.set_duid_state', 'dispatcher.set_state', 'dispatcher.write_list', 'dlg.dlg_list', 'dlg.list', 'dlg.list_ctx', 'stats.get_statistics', 'system.listMethods']) {
      assert.ok(names.includes(m), m);
    }
    assert.ok(!names.some((n) => n.startsWith('htable.') || n.startsWith('dmq.')), 'modules that do not exist register nothing');
  });

  test('stats.get_statistics: all, groups, names, errors', async () => {
    const none = await rpc(p.port, 'stats.get_statistics');
    assert.equal(none.status, 400);
    assert.equal(none.reason, 'Please provide which stats to retrieve');
    assert.equal(none.raw, '{\n\t"jsonrpc":\t"2.0",\n\t"error":\t{\n\t\t"code":\t400,\n\t\t"message":\t"Please provide which stats to retrieve"\n\t},\n\t"id":\t1\n}');
    assert.equal((await rpc(p.port, 'stats.get_statistics', [5])).status, 400);

    const all = (await rpc(p.port, 'stats.get_statistics', ['all'])).reply.result as string[];
    for (const s of all) assert.match(s, /^[a-z]+:[A-Za-z0-9_]+ = \d+$/);
    const key = (s: string) => s.split(' = ')[0]!;
    assert.deepEqual(all.map(key), [...all.map(key)].sort(), 'sorted by group then name');
    assert.ok(all.some((s) => s.startsWith('core:rcv_requests_invite = ')));

    const dialog = (await rpc(p.port, 'stats.get_statistics', ['dialog:'])).reply.result as string[];
    assert.deepEqual(dialog.map(key), ['dialog:active_dialogs', 'dialog:early_dialogs']);
    assert.deepEqual((await rpc(p.port, 'stats.get_statistics', ['active_dialogs'])).reply.result, ['dialog:active_dialogs = 0']);
    assert.deepEqual((await rpc(p.port, 'stats.get_statistics', ['nosuch'])).reply.result, []);
    // As Kamailio: "group:name" is not a name; a non-string ends the list.
    assert.deepEqual((await rpc(p.port, 'stats.get_statistics', ['dialog:active_dialogs', 'rcv_requests_invite', 5, 'active_dialogs'])).reply.result, ['core:rcv_requests_invite = 0']);
    const two = (await rpc(p.port, 'stats.get_statistics', ['tmx:', 'dialog:'])).reply.result as string[];
    assert.ok(two[0]!.startsWith('tmx:') && two[two.length - 1]!.startsWith('dialog:'), 'parameter order');
  });

  test('stats values move with a call', async () => {
    const c = await placeCall(uac, p.sip, uniq('st'));
    const stat = async (name: string): Promise<number> => {
      const r = (await rpc(p.port, 'stats.get_statistics', [name])).reply.result as string[];
      return Number(r[0]!.split(' = ')[1]);
    };
    assert.ok(await waitUntil(async () => (await stat('active_dialogs')) === 1, 2000), 'one active dialog');
    assert.equal(await stat('rcv_requests_invite'), 1);
    assert.ok((await stat('rcv_replies_2xx')) >= 1);
    assert.ok((await stat('UAS_transactions')) >= 1);
    await hangUp(uac, p.sip, c);
    assert.ok(await waitUntil(async () => (await stat('active_dialogs')) === 0, 2000));
    assert.equal(await stat('rcv_requests_bye'), 1);
  });
});
