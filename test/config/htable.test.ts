/**
 * htable modparam strings (dialog-htable.md §3.1) and address forms.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { htableBuckets, parseAdvertise, parseCidr, parseDmqAddress, parseHtableSpec, parseHttpListen, parseListen, parseReplyCodes } from '../../src/config';

describe('htable definitions', () => {
  test('the product table', () => {
    const r = parseHtableSpec('ipban=>size=8;autoexpire=300;dmqreplicate=1;');
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      name: 'ipban',
      size: 8,
      buckets: 256,
      autoExpire: 300,
      updateExpire: true,
      initVal: null,
      dmqReplicate: true,
      dbTable: null,
      dbMode: 0,
      cols: null,
      spec: 'ipban=>size=8;autoexpire=300;dmqreplicate=1;',
    });
  });

  test('defaults, every known attribute, spaces', () => {
    const d = parseHtableSpec('t=>');
    assert.ok(d.ok);
    assert.deepEqual([d.value.size, d.value.buckets, d.value.autoExpire, d.value.updateExpire, d.value.initVal, d.value.dmqReplicate], [4, 16, 0, true, null, false]);
    const all = parseHtableSpec(' a.b-1 => size=6 ; autoexpire=5;updateexpire=0;initval=-3;dmqreplicate=0;dbtable=tbl;dbmode=1;cols=k,v;coldelim=,;colnull=x');
    assert.ok(all.ok, JSON.stringify(all));
    assert.deepEqual(
      [all.value.name, all.value.size, all.value.autoExpire, all.value.updateExpire, all.value.initVal, all.value.dbTable, all.value.dbMode, all.value.cols],
      ['a.b-1', 6, 5, false, -3, 'tbl', 1, 'k,v'],
    );
  });

  test('bucket counts (lab: size 8 -> 256, 4 -> 16, 1 -> 8, 40 -> 16384)', () => {
    assert.deepEqual(
      [8, 4, 1, 0, 2, 31, 40].map(htableBuckets),
      [256, 16, 8, 8, 4, 2 ** 31, 16384],
    );
  });

  test('problems: every one reported', () => {
    assert.deepEqual(parseHtableSpec('ipban'), { ok: false, problems: ['must be NAME=>attr=value;... (missing "=>")'] });
    assert.deepEqual(parseHtableSpec('=>size=4'), { ok: false, problems: ['invalid table name ""'] });
    const r = parseHtableSpec('t=>Size=4;size=-1;initval=x;autoexpire=;dmqreplicate=yes');
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.problems, [
      'unknown htable attribute "Size" (known: size, autoexpire, updateexpire, dmqreplicate, dbmode, dbtable, cols, coldelim, colnull, initval)',
      'size must be a non-negative integer, got "-1"',
      'initval must be an integer, got "x"',
      'autoexpire must be a non-negative integer, got ""',
      'dmqreplicate must be a non-negative integer, got "yes"',
    ]);
  });
});

describe('ds_ping_reply_codes', () => {
  test('class and code lists', () => {
    assert.deepEqual(parseReplyCodes(''), { codes: [], problems: [] });
    assert.deepEqual(parseReplyCodes('class=2;code=403;CODE=404;'), {
      codes: [
        { kind: 'class', value: 2 },
        { kind: 'code', value: 403 },
        { kind: 'code', value: 404 },
      ],
      problems: [],
    });
    assert.deepEqual(parseReplyCodes('code=99;class=7;x=1').problems, ['code=99 out of range 100..699', 'class=7 out of range 1..6', '"x=1" is not class=N or code=NNN']);
  });
});

describe('address forms', () => {
  test('listen: udp:IP:PORT only', () => {
    assert.deepEqual(parseListen('udp:0.0.0.0:5060'), { proto: 'udp', host: '0.0.0.0', port: 5060, family: 4, address: 'udp:0.0.0.0:5060' });
    assert.deepEqual(parseListen('udp:[::1]:0'), { proto: 'udp', host: '::1', port: 0, family: 6, address: 'udp:[::1]:0' });
    for (const bad of ['127.0.0.1:5060', 'udp:127.0.0.1', 'tcp:127.0.0.1:5060', 'udp:localhost:5060', 'udp:::1:5060', 'udp:1.2.3.4:70000', 'udp:1.2.3:5060']) {
      assert.equal(parseListen(bad), null, bad);
    }
  });

  test('advertise, http, dmq, cidr', () => {
    assert.deepEqual(parseAdvertise('sbc.example.com'), { host: 'sbc.example.com', family: 0, port: null });
    assert.deepEqual(parseAdvertise('[2001:db8::1]:5080'), { host: '2001:db8::1', family: 6, port: 5080 });
    assert.equal(parseAdvertise('a b'), null);
    assert.deepEqual(parseHttpListen('localhost:8080'), { host: 'localhost', family: 0, port: 8080 });
    assert.equal(parseHttpListen('127.0.0.1'), null);
    assert.deepEqual(parseDmqAddress('udp:127.0.0.1:5062'), { uri: 'sip:127.0.0.1:5062', host: '127.0.0.1', family: 4, port: 5062 });
    assert.deepEqual(parseDmqAddress('sip:dmq.example.com'), { uri: 'sip:dmq.example.com', host: 'dmq.example.com', family: 0, port: 5060 });
    assert.equal(parseDmqAddress('tcp:1.2.3.4:5062'), null);
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', family: 4, prefix: 8, spec: '10.0.0.0/8' });
    assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', family: 6, prefix: 8, spec: 'fd00::/8' });
    assert.equal(parseCidr('10.0.0.0/33'), null);
    assert.equal(parseCidr('example.com'), null);
  });
});
