/**
 * Our dispatcher.* replies against a real Kamailio 5.6's for the same list
 * and the same sequence of calls, byte for byte (status line and body):
 * Kamailio runs test/rpc/fixtures/ds-rpc.cfg (jsonrpcs pretty_format=1,
 * reload_delta 0, no keepalives) over test/rpc/fixtures/ds-rpc.list, our
 * Dataplane the same list with the same dispatcher settings. The sequence:
 * list in every mode, set_state in every form, hash, ping_active, add and
 * remove (order flips and set order after each rebuild), reload, and the
 * JSON-RPC error cases Kamailio answers.
 *
 * Kamailio is REQUIRED: if the binary is missing or does not start, every
 * test FAILS with the reason (it is never skipped). Knobs (env):
 * KAMAILIO_BIN, KAMAILIO_MPATH, SY_KAMRPC_IP (127.0.0.47), SY_KAMRPC_SIP_PORT
 * (5060), SY_KAMRPC_HTTP_PORT (8081), SY_KAM_START_TIMEOUT_MS (20000).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startKamailio, type HttpAnswer, type Kamailio } from '../helpers/kamailio';
import { ROOT } from '../helpers/paths';
import { request, startPlane, type Plane } from './helpers';

const KAM_IP = process.env['SY_KAMRPC_IP'] ?? '127.0.0.47';
const SIP_PORT = Number(process.env['SY_KAMRPC_SIP_PORT'] ?? 5060);
const HTTP_PORT = Number(process.env['SY_KAMRPC_HTTP_PORT'] ?? 8081);
const START_TIMEOUT_MS = Number(process.env['SY_KAM_START_TIMEOUT_MS'] ?? 20_000);
if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(KAM_IP)) throw new Error(`SY_KAMRPC_IP=${KAM_IP}: loopback only`);

const FIXTURES = path.join(ROOT, 'test', 'rpc', 'fixtures');
const CFG = path.join(FIXTURES, 'ds-rpc.cfg');
const LIST = path.join(FIXTURES, 'ds-rpc.list');

/** The first differing line of two texts with 3 lines of context from each. */
function firstDifference(kam: string, ours: string): string {
  const a = kam.split('\n');
  const b = ours.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 3);
  return `first difference at line ${i + 1}\n--- kamailio ---\n${a.slice(from, i + 4).join('\n')}\n--- switchyard ---\n${b.slice(from, i + 4).join('\n')}`;
}

describe('dispatcher.* replies equal a real Kamailio 5.6 (same list, same calls)', { timeout: 120_000 }, () => {
  let kam: Kamailio | undefined;
  let startupError: Error | undefined;
  let p: Plane | undefined;
  let id = 0;

  const ready = (): Plane => {
    if (startupError) throw startupError;
    return p!;
  };

  before(async () => {
    try {
      kam = await startKamailio({
        cfg: CFG,
        args: ['-m', '64', '-M', '8'],
        defines: { DSLIST: `"${LIST}"` },
        sipIp: KAM_IP,
        sipPort: SIP_PORT,
        httpPort: HTTP_PORT,
        needs: 'This test requires',
        busyHint: { http: 'set SY_KAMRPC_IP / SY_KAMRPC_HTTP_PORT', sip: 'set SY_KAMRPC_IP / SY_KAMRPC_SIP_PORT' },
        endpoint: `${KAM_IP}:${HTTP_PORT}`,
        tmpPrefix: 'sy-kamrpc-',
        logBytes: 32_000,
        warnOnExit: false,
        timeoutMs: START_TIMEOUT_MS,
        ready: async (k) => {
          const r = await k.post('{"jsonrpc":"2.0","method":"dispatcher.list","params":["short"],"id":0}', 1000);
          return r.status === 200 || `HTTP ${r.status}`;
        },
      });
      p = await startPlane({ list: fs.readFileSync(LIST, 'utf8'), dispatcher: '  reload_delta: 0\n  ds_probing_mode: 0' });
    } catch (e) {
      startupError = e as Error;
    }
  });

  after(async () => {
    await p?.close();
    await kam?.stop();
  });

  /** Sends the same body to both and asserts the same status line and body. */
  async function same(method: string, params?: unknown, raw?: string): Promise<HttpAnswer> {
    const plane = ready();
    id++;
    const doc: Record<string, unknown> = { jsonrpc: '2.0', method };
    if (params !== undefined) doc['params'] = params;
    doc['id'] = id;
    const body = raw ?? JSON.stringify(doc);
    const k = await kam!.post(body);
    const o = await request(plane.port, { body, headers: { 'content-type': 'application/json' } });
    const what = `${body}\n${firstDifference(`${k.status} ${k.reason}\n${k.body}`, `${o.status} ${o.reason}\n${o.body}`)}`;
    assert.equal(o.status, k.status, what);
    assert.equal(o.reason, k.reason, what);
    assert.equal(o.body, k.body, what);
    return k;
  }

  test('dispatcher.list: normal, short, full, bad mode', async () => {
    const k = await same('dispatcher.list');
    assert.match(k.body, /"NRSETS":\t7/);
    await same('dispatcher.list', ['short']);
    await same('dispatcher.list', ['FULL']);
    await same('dispatcher.list', ['other']);
    await same('dispatcher.list', [5]);
  });

  test('dispatcher.set_state / set_duid_state: every form and error', async () => {
    await same('dispatcher.set_state', ['ip', 5, 'sip:127.0.0.52:5060']);
    await same('dispatcher.set_state', { state: 'tp', group: 3, address: 'SIP:127.0.0.57:5091' });
    await same('dispatcher.set_state', [2, 1, 'sip:127.0.0.55:5075']);
    await same('dispatcher.set_state', ['d', 9, 'all']);
    await same('dispatcher.set_state', ['i', 77, 'all']);
    await same('dispatcher.set_state', ['x', 5, 'sip:127.0.0.51:5060']);
    await same('dispatcher.set_state', ['', 5, 'all']);
    await same('dispatcher.set_state', ['i', 5]);
    await same('dispatcher.set_state', ['i', '5', 'sip:127.0.0.51:5060']);
    await same('dispatcher.set_state', ['i', 5, 'sip:127.0.0.51:9999']);
    await same('dispatcher.set_state', [['i'], 5, 'all']);
    await same('dispatcher.set_duid_state', ['ip', 3, 'C3']);
    await same('dispatcher.set_duid_state', ['a', 3, 'zz']);
    await same('dispatcher.list', ['short']);
  });

  test('dispatcher.hash and dispatcher.ping_active', async () => {
    await same('dispatcher.hash', [4, 'bob', 'server.com']);
    await same('dispatcher.hash', [7, 'a-call-id@host']);
    await same('dispatcher.hash', [0, 'abc']);
    await same('dispatcher.hash', [3, 5]);
    await same('dispatcher.hash', [3]);
    await same('dispatcher.ping_active');
    await same('dispatcher.ping_active', [0]);
    await same('dispatcher.ping_active', ['x']);
    await same('dispatcher.ping_active', [1]);
    await same('dispatcher.ping_active', []);
  });

  test('dispatcher.add / remove: rebuilds, order flips, set order, carried states', async () => {
    await same('dispatcher.add', [11, 'sip:127.0.0.61:5090']);
    await same('dispatcher.list', ['short']);
    await same('dispatcher.add', [3, '127.0.0.61:5091', 8, 7, 'duid=n;weight=5']);
    await same('dispatcher.add', ['4', 'sip:127.0.0.61:5092']);
    await same('dispatcher.add', [12, 'sip:@@bad']);
    await same('dispatcher.add', [12]);
    await same('dispatcher.list', ['full']);
    await same('dispatcher.remove', [11, 'sip:127.0.0.61:5090']);
    await same('dispatcher.remove', [3, 'SIP:127.0.0.57:5090']);
    await same('dispatcher.remove', [99, 'sip:127.0.0.99']);
    await same('dispatcher.remove', [99, 'sip:@@bad']);
    await same('dispatcher.remove', [99]);
    await same('dispatcher.list');
  });

  test('dispatcher.reload restores the file', async () => {
    await same('dispatcher.reload');
    await same('dispatcher.list', ['full']);
  });

  test('JSON-RPC cases Kamailio answers', async () => {
    await same('dispatcher.nosuch');
    await same('', undefined, '{"method":"dispatcher.ping_active","id":23}');
    await same('', undefined, '{"jsonrpc":"2.0","method":"dispatcher.ping_active","params":5,"id":25}');
    await same('', undefined, '{"jsonrpc":"2.0","method":"dispatcher.ping_active","id":"str-id"}');
    await same('', undefined, '{"jsonrpc":"2.0","method":"dispatcher.ping_active","id":1.5}');
  });
});
