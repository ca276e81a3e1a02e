/**
 * JSON-RPC over HTTP: Kamailio 5.6.3's answers from the captures
 * (test/fixtures/vectors/dispatcher/rpc/), compared byte for byte where we
 * answer the same, JSON-RPC 2.0 where Kamailio gives no answer (invalid
 * JSON, GET without body), batches, notifications, the bearer token, the
 * body limit, and garbage that must never take the server down.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { dispatchRpc, printKamailioJson, RpcParams, RpcRegistry } from '../../src/rpc';
import { printNumber } from '../../src/rpc/srjson';
import { vector } from '../helpers/paths';
import { readVector, request, rpc, startPlane, type Plane } from './helpers';

const LIST = '1 sip:127.0.0.31:5060 0 10 duid=a;weight=50\n1 sip:127.0.0.32:5060 0 10\n2 sip:127.0.0.33:5060\n';
const v = (name: string) => readVector(vector('dispatcher', 'rpc', `${name}.txt`));

describe('srjson printer and parameter scanning (units)', { timeout: 60_000 }, () => {
  test('numbers print as srjson print_number()', () => {
    assert.equal(printNumber(0), '0');
    assert.equal(printNumber(-5), '-5');
    assert.equal(printNumber(2147483647), '2147483647');
    assert.equal(printNumber(3883463682), '3883463682');
    assert.equal(printNumber(1.5), '1.500000');
    assert.equal(printNumber(1e-7), '1.000000e-07');
    assert.equal(printNumber(12345678901.5), '1.234568e+10');
    assert.equal(printNumber(Number.NaN), 'null');
  });

  test('layout: TABs, ", " between array elements, empty object and array', () => {
    const s = printKamailioJson({ jsonrpc: '2.0', result: { a: [1, 'x'], e: {}, z: [] }, id: 1 });
    assert.equal(s, '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t\t"a":\t[1, "x"],\n\t\t"e":\t{\n\t\t},\n\t\t"z":\t[]\n\t},\n\t"id":\t1\n}');
    assert.equal(printKamailioJson({ s: 'q"\\\n\u0001é/' }, false), '{"s":"q\\"\\\\\\n\\u0001é/"}');
  });

  test('scan(): Kamailio typing (string in an int slot is 0, auto-convert, optional, missing)', () => {
    assert.deepEqual(new RpcParams(['ip', '2', 'sip:x']).scan('.SdS'), { n: 3, v: ['ip', 0, 'sip:x'] });
    assert.deepEqual(new RpcParams([1, 2, 'all']).scan('.SdS'), { n: 3, v: ['1', 2, 'all'] });
    assert.deepEqual(new RpcParams(['i', 2]).scan('.SdS').n < 3, true);
    assert.deepEqual(new RpcParams([3, 5]).scan('dS*S').n < 2, true, 'a number is not a string without auto');
    assert.deepEqual(new RpcParams([7, 'sip:x']).scan('dS*dds'), { n: 2, v: [7, 'sip:x'] });
    assert.deepEqual(new RpcParams({ state: 'a', group: 2, address: 'u' }).scan('.SdS'), { n: 3, v: ['a', 2, 'u'] });
    assert.deepEqual(new RpcParams([true, 2.9, -1.5]).scan('ddd').v, [1, 2, -1]);
    const p = new RpcParams(['all', 'core:', 5]);
    assert.equal(p.scan('s').n, 1);
    assert.equal(p.scan('*s').n, 1);
    assert.ok(p.scan('*s').n <= 0);
  });

  test('dispatchRpc never throws, whatever the body', async () => {
    const reg = new RpcRegistry();
    reg.register({ name: 'x.boom', doc: '', handler: () => { throw new Error('boom'); } });
    const r = await dispatchRpc('{"jsonrpc":"2.0","method":"x.boom","id":1}', reg);
    assert.equal(r.status, 500);
    assert.deepEqual(JSON.parse(r.body!).error, { code: -32603, message: 'Internal Error' });
    for (const body of ['', 'null', '[]', '[1]', '{"id":{}}', '"x"', '1e999', '['.repeat(50_000)]) {
      const x = await dispatchRpc(body, reg);
      assert.ok(x.status === 200 || x.status === 500, `${body.slice(0, 20)} -> ${x.status}`);
      JSON.parse(x.body!);
    }
  });
});

describe('JSON-RPC over HTTP: Kamailio captures and JSON-RPC 2.0', { timeout: 60_000 }, () => {
  let p: Plane;
  before(async () => {
    p = await startPlane({ list: LIST });
  });
  after(async () => {
    await p?.close();
  });

  const replay = (name: string, path?: string) => {
    const vec = v(name);
    return request(p.port, { path: path ?? vec.path, body: vec.request, headers: { 'content-type': 'application/json' } }).then((r) => ({ vec, r }));
  };
  const assertSame = (vec: ReturnType<typeof v>, r: { status: number; reason: string; body: string; headers: Record<string, unknown> }) => {
    assert.equal(r.status, vec.status);
    assert.equal(r.reason, vec.reason);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, vec.body, 'body byte for byte as Kamailio');
  };

  test('ping_active_get, ping_active_set0, then path_jsonrpc: byte for byte', async () => {
    for (const name of ['ping_active_get', 'ping_active_set0', 'path_jsonrpc']) {
      const { vec, r } = await replay(name);
      assertSame(vec, r);
    }
    assert.equal(p.dp.prober.active, false);
    await rpc(p.port, 'dispatcher.ping_active', [1]);
  });

  test('method_not_found: HTTP 500 "Method Not Found", code 500 (Kamailio, not -32601)', async () => {
    const { vec, r } = await replay('method_not_found');
    assertSame(vec, r);
  });

  test('missing_jsonrpc_field and params_not_array: 200 with an empty result, method not run', async () => {
    for (const name of ['missing_jsonrpc_field', 'params_not_array']) {
      const { vec, r } = await replay(name);
      assertSame(vec, r);
    }
    const r = await request(p.port, { body: '{"jsonrpc":"2.0","method":"dispatcher.ping_active","params":null,"id":3}' });
    assert.equal(r.body, '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t},\n\t"id":\t3\n}');
  });

  test('notification (no id): executed, no reply (204) - Kamailio would answer without id', async () => {
    const vec = v('no_id_notification');
    assert.equal(vec.status, 200, 'Kamailio answers');
    const r = await request(p.port, { body: '{"jsonrpc":"2.0","method":"dispatcher.ping_active","params":[0]}' });
    assert.equal(r.status, 204);
    assert.equal(r.body, '');
    assert.equal(p.dp.prober.active, false, 'the notification ran');
    const back = await request(p.port, { body: vec.request });
    assert.equal(back.status, 204);
    await rpc(p.port, 'dispatcher.ping_active', [1]);
    const unknown = await request(p.port, { body: '{"jsonrpc":"2.0","method":"no.such"}' });
    assert.equal(unknown.status, 204, 'no reply even for an error');
  });

  test('invalid JSON and GET without body: -32700 Parse Error (Kamailio never answers)', async () => {
    assert.equal(v('invalid_json').status, null);
    assert.equal(v('get_no_body').status, null);
    for (const r of [
      await request(p.port, { body: v('invalid_json').request }),
      await request(p.port, { method: 'GET' }),
      await request(p.port, { body: '' }),
    ]) {
      assert.equal(r.status, 500);
      assert.equal(r.reason, 'Parse Error');
      assert.equal(r.body, '{\n\t"jsonrpc":\t"2.0",\n\t"error":\t{\n\t\t"code":\t-32700,\n\t\t"message":\t"Parse Error"\n\t},\n\t"id":\tnull\n}');
    }
  });

  test('-32600 Invalid Request: not an object, method not a string, bad id type, empty batch', async () => {
    for (const body of ['5', '"x"', 'null', '{"jsonrpc":"2.0","id":3}', '{"jsonrpc":"2.0","method":5,"id":3}', '{"jsonrpc":"2.0","method":"core.uptime","id":{"a":1}}', '[]']) {
      const r = await request(p.port, { body });
      assert.equal(r.status, 500, body);
      const j = JSON.parse(r.body);
      assert.equal(j.error.code, -32600, body);
      assert.equal(j.error.message, 'Invalid Request');
      assert.equal(j.id, body.includes('"id":3') ? 3 : null, body);
    }
  });

  test('id echoed: string, number (srjson prints 1.5 as 1.500000), null', async () => {
    assert.equal((await rpc(p.port, 'dispatcher.ping_active', undefined, 'abc')).reply.id, 'abc');
    const r = await request(p.port, { body: '{"jsonrpc":"2.0","method":"dispatcher.ping_active","id":1.5}' });
    assert.match(r.body, /"id":\t1\.500000\n}$/);
    assert.equal((await rpc(p.port, 'dispatcher.ping_active', undefined, null)).reply.id, null);
  });

  test('batch: in order, notifications left out, errors per element', async () => {
    const body = JSON.stringify([
      { jsonrpc: '2.0', method: 'dispatcher.set_state', params: ['i', 2, 'sip:127.0.0.33:5060'], id: 1 },
      { jsonrpc: '2.0', method: 'dispatcher.list', params: ['short'], id: 2 },
      { jsonrpc: '2.0', method: 'dispatcher.set_state', params: ['a', 2, 'all'] },
      { jsonrpc: '2.0', method: 'dispatcher.nosuch', id: 3 },
      7,
    ]);
    const r = await request(p.port, { body });
    assert.equal(r.status, 200);
    const replies = JSON.parse(r.body) as Array<{ id: unknown; result?: unknown; error?: { code: number } }>;
    assert.deepEqual(replies.map((x) => x.id), [1, 2, 3, null]);
    assert.equal(replies[0]!.result, 'Ok. Dispatcher state updated.');
    const recs = (replies[1]!.result as { RECORDS: { SET: { ID: number; TARGETS: { DEST: { FLAGS: string } }[] } }[] }).RECORDS;
    assert.equal(recs.find((x) => x.SET.ID === 2)!.SET.TARGETS[0]!.DEST.FLAGS, 'IX', 'the first element ran before the second');
    assert.equal(replies[2]!.error!.code, 500);
    assert.equal(replies[3]!.error!.code, -32600);
    assert.equal(p.dp.dsState.letters(p.dp.dsState.findUri(2, 'sip:127.0.0.33:5060')), 'AX', 'the notification in the batch ran');
    const onlyNotifications = await request(p.port, { body: JSON.stringify([{ jsonrpc: '2.0', method: 'core.uptime' }]) });
    assert.equal(onlyNotifications.status, 204);
  });

  test('Content-Type is not looked at (curl -d sends form-urlencoded)', async () => {
    for (const ct of ['application/x-www-form-urlencoded', 'text/plain', 'application/octet-stream', undefined]) {
      const r = await request(p.port, { body: '{"jsonrpc":"2.0","method":"core.version","id":1}', headers: ct ? { 'content-type': ct } : {} });
      assert.equal(r.status, 200, String(ct));
      assert.match(JSON.parse(r.body).result, /^switchyard /);
    }
  });

  test('paths below /RPC and /jsonrpc dispatch too; others are 404', async () => {
    assert.equal((await request(p.port, { path: '/RPC/x?y=1', body: '{"jsonrpc":"2.0","method":"core.version","id":1}' })).status, 200);
    assert.equal((await request(p.port, { path: '/jsonrpc', body: '{"jsonrpc":"2.0","method":"core.version","id":1}' })).status, 200);
    assert.equal((await request(p.port, { path: '/nope', body: '{}' })).status, 404);
  });

  test('garbage never takes the server down (300 random bodies, a half-sent request)', async () => {
    const seeds = ['{"jsonrpc":"2.0","method":"dispatcher.set_state","params":', '{"jsonrpc":"2.0","method":"dispatcher.', '[{', '{"params":[', '\u0000\uffff'];
    for (let n = 0; n < 300; n++) {
      const kind = n % 3;
      const body =
        kind === 0
          ? randomBytes(1 + (n % 200))
          : kind === 1
            ? seeds[n % seeds.length]! + randomBytes(n % 40).toString('latin1')
            : JSON.stringify({ jsonrpc: '2.0', method: ['dispatcher.set_state', 'dispatcher.hash', 'dispatcher.list', 'dlg.dlg_list', 'stats.get_statistics'][n % 5], params: [n % 2 ? 'x' : n, { a: n }, [n], null, -n * 1e12], id: n });
      const r = await request(p.port, { body });
      assert.ok([200, 204, 400, 500].includes(r.status), `status ${r.status} for body #${n}`);
      if (r.status !== 204) JSON.parse(r.body);
    }
    // A client that sends half a request and disconnects.
    await new Promise<void>((resolve) => {
      const s = net.connect(p.port, '127.0.0.1', () => {
        s.write('POST /RPC HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc"');
        setTimeout(() => s.destroy(), 50);
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    assert.equal((await rpc(p.port, 'core.version')).status, 200, 'still answering');
  });
});

describe('HTTP guards: bearer token and body limit', { timeout: 60_000 }, () => {
  let p: Plane;
  before(async () => {
    p = await startPlane({ list: LIST, http: '  token: s3cret-token\n  max_body: 2048\n' });
  });
  after(async () => {
    await p?.close();
  });

  test('401 without or with a wrong token, on /RPC and /metrics; 200 with it', async () => {
    const body = '{"jsonrpc":"2.0","method":"core.version","id":1}';
    for (const auth of [undefined, 'Bearer nope', 'Basic czNjcmV0LXRva2Vu', 'Bearer s3cret-token-x']) {
      const r = await request(p.port, { body, headers: auth ? { authorization: auth } : {} });
      assert.equal(r.status, 401, String(auth));
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
      assert.deepEqual(JSON.parse(r.body).error, { code: 401, message: 'Unauthorized' });
      assert.equal((await request(p.port, { method: 'GET', path: '/metrics', headers: auth ? { authorization: auth } : {} })).status, 401);
    }
    const ok = await request(p.port, { body, headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(ok.status, 200);
    const m = await request(p.port, { method: 'GET', path: '/metrics', headers: { authorization: 'bearer s3cret-token' } });
    assert.equal(m.status, 200);
    assert.match(m.body, /switchyard_info/);
  });

  test('413 above http.max_body (with Content-Length and chunked), JSON-RPC error body', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'dispatcher.write_list', params: ['1 sip:127.0.0.9\n'.repeat(200)], id: 1 });
    assert.ok(big.length > 2048);
    const auth = { authorization: 'Bearer s3cret-token' };
    const r = await request(p.port, { body: big, headers: auth });
    assert.equal(r.status, 413);
    assert.deepEqual(JSON.parse(r.body), { jsonrpc: '2.0', error: { code: 413, message: 'Request Entity Too Large' }, id: null });
    const chunked = await request(p.port, { body: big, headers: { ...auth, 'transfer-encoding': 'chunked' } });
    assert.equal(chunked.status, 413);
    assert.equal((await rpc(p.port, 'core.version', undefined, 1, auth)).status, 200);
  });
});
