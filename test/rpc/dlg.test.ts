/**
 * dlg.list / dlg.list_ctx / dlg.dlg_list over HTTP for dialogs created by
 * real calls through the sbc route (UAC and routers on 127.0.0.x), with
 * the shards on the main thread (workers 0) and on a worker thread
 * (workers 1: the dialogs are read with a shard query). Records have
 * Kamailio's members in Kamailio's order (vectors/dialog/*.txt).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { vector } from '../helpers/paths';
import { SipPeer, uas, uniq } from '../helpers/sip-peer';
import { hangUp, placeCall, readVector, rpc, startPlane, waitUntil, type Call, type Plane } from './helpers';

type Dlg = Record<string, unknown> & { 'call-id': string; state: number; variables: Record<string, string>[] };

const vectorRecord = (name: string): Record<string, unknown> => {
  const body = readVector(vector('dialog', `${name}.txt`)).body;
  return (JSON.parse(body) as { result: Record<string, unknown>[] }).result[0]!;
};

for (const workers of [0, 1]) {
  describe(`dlg.* with workers: ${workers}`, { timeout: 60_000 }, () => {
    let p: Plane;
    let uac: SipPeer;
    let routers: SipPeer[];
    before(async () => {
      uac = await SipPeer.bind('127.0.0.110');
      routers = [await SipPeer.bind('127.0.0.111'), await SipPeer.bind('127.0.0.112')];
      for (const r of routers) r.responder = uas.ok();
      p = await startPlane({ list: routers.map((r) => `1 ${r.uri}`).join('\n'), workers });
    });
    after(async () => {
      await p?.close();
      await Promise.all([uac?.close(), ...(routers ?? []).map((r) => r.close())]);
    });

    const dlgList = async (): Promise<Dlg[]> => (await rpc(p.port, 'dlg.list')).reply.result as Dlg[];

    test('no dialogs: []', async () => {
      const r = await rpc(p.port, 'dlg.list');
      assert.equal(r.raw, '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t[],\n\t"id":\t1\n}');
      assert.deepEqual((await rpc(p.port, 'dlg.dlg_list', ['nope'])).reply.result, {});
    });

    test('a confirmed call: Kamailio members and order, state 4, variables most recent first', async () => {
      const c = await placeCall(uac, p.sip, uniq('dlg'));
      let d: Dlg | undefined;
      assert.ok(
        await waitUntil(async () => {
          d = (await dlgList()).find((x) => x['call-id'] === c.callId);
          return d?.state === 4;
        }, 3000),
        `confirmed dialog listed: ${JSON.stringify(d)}`,
      );
      const want = vectorRecord('dlg_list_confirmed');
      assert.deepEqual(Object.keys(d!), Object.keys(want), 'member order as Kamailio');
      assert.deepEqual(Object.keys(d!['caller'] as object), Object.keys(want['caller'] as object));
      assert.equal(d!['from_uri'], `sip:caller@${uac.hostport}`);
      assert.equal(d!['to_uri'], 'sip:callee@example.net');
      assert.equal(d!['ref'], 2);
      assert.equal(d!['lifetime'], 43200);
      assert.equal(d!['timeout'], (d!['start_ts'] as number) + 43200);
      assert.equal(d!['dflags'], 643, 'NEW|CHANGED|CHANGED_VARS|TM, as the captured dialog with variables');
      const caller = d!['caller'] as Record<string, string>;
      const callee = d!['callee'] as Record<string, string>;
      assert.equal(caller['tag'], 'ftag1');
      assert.equal(caller['socket'], `udp:127.0.0.1:${p.sip.port}`);
      assert.equal(callee['tag'], c.ok.msg.toTag);
      assert.deepEqual(d!.variables.map((x) => Object.keys(x)[0]), ['du_secondary', 'du_primary']);
      assert.deepEqual(d!['profiles'], []);

      const one = await rpc(p.port, 'dlg.dlg_list', [c.callId]);
      assert.deepEqual(one.reply.result, { ...d, duration: (one.reply.result as Dlg)['duration'] });
      assert.equal((await rpc(p.port, 'dlg.dlg_list', [c.callId, 'ftag1'])).reply.result && true, true);
      assert.deepEqual((await rpc(p.port, 'dlg.dlg_list', [c.callId, 'other'])).reply.result, {});
      assert.deepEqual((await rpc(p.port, 'dlg.dlg_list')).reply.result, {});
      assert.deepEqual(((await rpc(p.port, 'dlg.list_ctx')).reply.result as Dlg[]).map((x) => x['call-id']), (await dlgList()).map((x) => x['call-id']));

      await hangUp(uac, p.sip, c);
      assert.ok(await waitUntil(async () => (await dlgList()).find((x) => x['call-id'] === c.callId)?.state === 5, 3000));
      const ended = (await dlgList()).find((x) => x['call-id'] === c.callId)!;
      assert.equal(ended['timeout'], 0);
      assert.equal(ended['ref'], 1);
      assert.equal(ended['dflags'], 647, 'HASBYE added, as dlg_list_after_bye.txt');
      assert.deepEqual(ended.variables, []);
      assert.equal(ended['duration'], (ended['end_ts'] as number) - (ended['start_ts'] as number));
    });

    test('several calls: all listed, sorted by h_entry', async () => {
      const calls: Call[] = [];
      for (let n = 0; n < 6; n++) calls.push(await placeCall(uac, p.sip, uniq(`many${n}-`)));
      let list: Dlg[] = [];
      assert.ok(await waitUntil(async () => {
        list = await dlgList();
        return calls.every((c) => list.some((x) => x['call-id'] === c.callId && x.state === 4));
      }, 3000));
      const entries = list.map((x) => x['h_entry'] as number);
      assert.deepEqual(entries, [...entries].sort((a, b) => a - b));
      for (const c of calls) await hangUp(uac, p.sip, c);
    });
  });
}
