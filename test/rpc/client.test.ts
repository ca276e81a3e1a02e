/**
 * `switchyard rpc` (the kamcmd-like client) as a child process against an
 * in-process server: kamcmd's parameter typing, output, exit codes, token
 * and URL from flags, environment or a config file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parseRpcParam } from '../../src/rpc/client';
import { ROOT } from '../helpers/paths';
import { startPlane, type Plane } from './helpers';

const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SWITCHYARD_RPC_URL: '', SWITCHYARD_RPC_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('parseRpcParam: kamcmd typing', () => {
  test('numbers, doubles, strings, s:/i:/d: prefixes', () => {
    assert.equal(parseRpcParam('2'), 2);
    assert.equal(parseRpcParam('-7'), -7);
    assert.equal(parseRpcParam('1.5'), 1.5);
    assert.equal(parseRpcParam('ip'), 'ip');
    assert.equal(parseRpcParam('sip:127.0.0.1:5060'), 'sip:127.0.0.1:5060');
    assert.equal(parseRpcParam('s:5060'), '5060');
    assert.equal(parseRpcParam('i:3.9'), 3);
    assert.equal(parseRpcParam('d:2'), 2);
    assert.equal(parseRpcParam('99999999999999999999'), '99999999999999999999', 'beyond 2^53: kept as text');
    assert.equal(parseRpcParam('1e3'), '1e3');
  });
});

describe('switchyard rpc', { timeout: 90_000 }, () => {
  let p: Plane;
  let url: string;
  before(async () => {
    p = await startPlane({ list: '1 sip:127.0.0.141:5060\n2 sip:127.0.0.142:5060 0 0 duid=x\n', http: '  token: tok123\n' });
    url = `http://127.0.0.1:${p.port}/RPC`;
  });
  after(async () => {
    await p?.close();
  });

  test('a string result printed as is, an object as JSON; exit 0', async () => {
    const set = await run(['rpc', 'dispatcher.set_state', 'ip', '2', 'sip:127.0.0.142:5060', '--url', url, '--token', 'tok123']);
    assert.equal(set.code, 0, set.err);
    assert.equal(set.out, 'Ok. Dispatcher state updated.\n');
    assert.equal(p.dp.dsState.letters(p.dp.dsState.findUri(2, 'sip:127.0.0.142:5060')), 'IP');
    const hash = await run(['rpc', 'dispatcher.hash', '4', 'bob', 'server.com', `--url=${url}`, '--token=tok123']);
    assert.equal(hash.code, 0, hash.err);
    assert.deepEqual(JSON.parse(hash.out), { hashid: 3883463682, slot: 2 });
    const list = await run(['rpc', 'dispatcher.list', 'short', '--url', url], { SWITCHYARD_RPC_TOKEN: 'tok123' });
    assert.equal(list.code, 0, list.err);
    assert.equal((JSON.parse(list.out) as { NRSETS: number }).NRSETS, 2);
  });

  test('an RPC error: message on stderr, exit 1 (also for 401)', async () => {
    const bad = await run(['rpc', 'dispatcher.set_state', 'x', '2', 'sip:127.0.0.142:5060', '--url', url, '--token', 'tok123']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'error: 500 - Unknown State Value\n');
    const unauth = await run(['rpc', 'core.version', '--url', url]);
    assert.equal(unauth.code, 1);
    assert.match(unauth.err, /401 - Unauthorized/);
    // s: keeps "2" a string: the group becomes 0 as in Kamailio -> State Update Failed.
    const str = await run(['rpc', 'dispatcher.set_state', 'a', 's:2', 'sip:127.0.0.142:5060', '--url', url, '--token', 'tok123']);
    assert.equal(str.code, 1);
    assert.match(str.err, /State Update Failed/);
  });

  test('URL and token from --config; --raw prints the reply body', async () => {
    const cfg = path.join(p.dir, 'client.yaml');
    fs.writeFileSync(cfg, `http:\n  listen: 127.0.0.1:${p.port}\n  token: tok123\ndispatcher:\n  list_file: ${p.listFile}\n`);
    const r = await run(['rpc', '--config', cfg, 'dispatcher.ping_active', '--raw']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t\t"OldPingState":\t1\n\t},\n\t"id":\t1\n}\n');
  });

  test('request failures exit 3, usage errors 2', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const refused = await run(['rpc', 'core.version', '--url', `http://127.0.0.1:${closed}/RPC`]);
    assert.equal(refused.code, 3);
    assert.match(refused.err, /ECONNREFUSED/);
    const notJson = await run(['rpc', 'core.version', '--url', `http://127.0.0.1:${p.port}/nope`, '--token', 'tok123']);
    assert.equal(notJson.code, 3);
    assert.match(notJson.err, /HTTP 404/);
    assert.equal((await run(['rpc'])).code, 2);
    assert.equal((await run(['rpc', 'core.version', '--bogus'])).code, 2);
    assert.equal((await run(['rpc', 'core.version', '--url', 'ftp://x'])).code, 2);
    const help = await run(['rpc', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: switchyard rpc METHOD/);
  });
});
