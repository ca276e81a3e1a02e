/**
 * Config loading: defaults, every section, located errors (file:line: key),
 * all problems at once, --set overrides, deep freeze, --check.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  DEFAULT_CONFIG_NAME,
  DEFAULT_CONFIG_YAML,
  DEFAULT_DISPATCHER_LIST,
  checkConfig,
  defaultConfig,
  formatKeyPath,
  loadConfig,
  loadConfigText,
  loadConfiguredDispatcherList,
  parseSetArgument,
  type ResolvedConfig,
} from '../../src/config';
import { ConfigError, ConfigErrors } from '../../src/errors';

function fixturesDir(): string {
  for (const start of [__dirname, process.cwd()]) {
    let d = start;
    for (let i = 0; i < 8; i++) {
      const f = path.join(d, 'test', 'fixtures', 'config');
      if (fs.existsSync(f)) return f;
      d = path.dirname(d);
    }
  }
  throw new Error('test/fixtures/config not found');
}
const FIX = fixturesDir();
const fx = (name: string): string => path.join(FIX, name);

/** The ConfigErrors a call throws, as [file, line, key, message-without-location]. */
function problems(fn: () => unknown): Array<[string, number | undefined, string | undefined, string]> {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    for (const e of err.errors) assert.ok(e instanceof ConfigError);
    return err.errors.map((e) => {
      const where = e.line === undefined ? e.file : `${e.file}:${e.line}`;
      const prefix = `${where}: ${e.key ? `${e.key}: ` : ''}`;
      assert.ok(e.message.startsWith(prefix), `${e.message} starts with ${prefix}`);
      return [e.file, e.line, e.key, e.message.slice(prefix.length)];
    });
  }
  assert.fail('expected ConfigErrors');
}

describe('defaults', () => {
  test('the embedded default is interface.md example with an inline two-destination list', () => {
    const c = defaultConfig();
    assert.equal(c.file, null);
    assert.deepEqual(c.listen, [{ proto: 'udp', host: '127.0.0.1', port: 5060, family: 4, address: 'udp:127.0.0.1:5060' }]);
    assert.equal(c.advertise, null);
    assert.equal(c.workers, 2);
    assert.deepEqual(c.route, { kind: 'builtin', name: 'sbc' });
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.sip, { maxMessage: 65535, maxHeaders: 128, maxHeaderLine: 8192 });
    assert.deepEqual(c.tm, { frTimer: 5000, frInvTimer: 30000, t1: 500, t2: 4000, t4: 5000 });
    const d = c.dispatcher;
    assert.deepEqual(d.listSource, { kind: 'inline', text: DEFAULT_DISPATCHER_LIST, name: `${DEFAULT_CONFIG_NAME}#dispatcher.list` });
    assert.equal(d.listFile, null);
    assert.deepEqual(
      [d.flags, d.forceDst, d.dsHashSize, d.dsPingInterval, d.dsProbingMode, d.dsProbingThreshold, d.dsInactiveThreshold],
      [2, true, 9, 5, 1, 1, 1],
    );
    assert.deepEqual([d.dsPingMethod, d.dsPingFrom, d.dsPingReplyCodes, d.xavpDst, d.xavpCtx], ['OPTIONS', 'sip:dispatcher@localhost', [], '_dsdst_', '_dsctx_']);
    assert.deepEqual([d.set, d.alg, d.limit], [1, 0, 2]);
    assert.deepEqual(
      [d.useDefault, d.reloadDelta, d.dsHashExpire, d.dsHashInitexpire, d.dsHashCheckInterval, d.dsLoadMode, d.xavpDstMode, d.xavpCtxMode],
      [false, 5, 7200, 7200, 30, 0, 0, 0],
    );
    assert.deepEqual(c.dialog, { enableDmq: false, defaultTimeout: 43200 });
    assert.equal(c.htable.length, 1);
    assert.equal(c.htable[0]!.name, 'ipban');
    assert.ok(c.dmq);
    assert.equal(c.dmq.serverAddress.uri, 'sip:127.0.0.1:5062');
    assert.deepEqual(
      c.dmq.notificationAddresses.map((a) => a.uri),
      ['sip:127.0.0.1:5062'],
    );
    assert.deepEqual([c.dmq.multiNotify, c.dmq.numWorkers, c.dmq.pingInterval, c.dmq.allow], [true, 4, 15, []]);
    assert.deepEqual(c.http.listen, { host: '127.0.0.1', family: 4, port: 8080 });

    // its list: two loopback destinations in set 1
    const list = loadConfiguredDispatcherList(c);
    assert.deepEqual(
      list.byId.get(1)!.destinations.map((x) => x.uri).sort(),
      ['sip:127.0.0.2:5060', 'sip:127.0.0.3:5060'],
    );
    assert.equal(list.warnings.length, 0);
  });

  test('the embedded YAML keeps every key of the interface example', () => {
    for (const key of ['fr_timer', 'fr_inv_timer', 'ds_ping_interval', 'ds_probing_threshold', 'ds_ping_reply_codes', 'xavp_ctx', 'default_timeout', 'ipban=>', 'multi_notify', 'allow: []']) {
      assert.ok(DEFAULT_CONFIG_YAML.includes(key), key);
    }
    assert.ok(!/^\s*list_file:/m.test(DEFAULT_CONFIG_YAML));
    assert.ok(/^  list: \|/m.test(DEFAULT_CONFIG_YAML));
  });

  test('an empty file gets every default; dmq and htable absent = off; list_file resolves against the config dir', () => {
    const c = loadConfigText('', { fileName: 'empty.yaml', baseDir: '/etc/switchyard' });
    assert.equal(c.dmq, null);
    assert.equal(c.dispatcher.listFile, '/etc/switchyard/dispatcher.list');
    assert.deepEqual(c.dispatcher.listSource, { kind: 'file', path: '/etc/switchyard/dispatcher.list' });
    assert.equal(c.workers, 2);
    assert.deepEqual(c.htable, []);
    assert.equal(c.file, null);
    // comments only and null sections are empty too
    const d = loadConfigText('# nothing\ntm:\ndispatcher:\nhtable:\ndmq:\n', { baseDir: '/x' });
    assert.deepEqual(d.tm, c.tm);
    assert.deepEqual(d.htable, []);
    assert.equal(d.dmq, null);
  });

  test('dmq: {} turns DMQ on with its defaults', () => {
    const c = loadConfigText('dmq: {}\n');
    assert.ok(c.dmq);
    assert.equal(c.dmq.serverAddress.port, 5062);
    assert.equal(c.dmq.numWorkers, 4);
  });
});

describe('every section (fixtures/config/full.yaml)', () => {
  const c: ResolvedConfig = loadConfig({ file: fx('full.yaml') });

  test('top level', () => {
    assert.equal(c.file, fx('full.yaml'));
    assert.deepEqual(
      c.listen.map((l) => [l.host, l.port, l.family]),
      [
        ['127.0.0.1', 5070, 4],
        ['::1', 5070, 6],
      ],
    );
    assert.deepEqual(c.advertise, { host: '203.0.113.7', family: 4, port: 5080 });
    assert.equal(c.workers, 0);
    assert.deepEqual(c.route, { kind: 'module', path: fx('route-mod.js') });
    assert.equal(c.logLevel, 'debug');
  });

  test('sip and tm', () => {
    assert.deepEqual(c.sip, { maxMessage: 4096, maxHeaders: 64, maxHeaderLine: 1024 });
    assert.deepEqual(c.tm, { frTimer: 2000, frInvTimer: 12000, t1: 250, t2: 2000, t4: 2500 });
  });

  test('dispatcher', () => {
    const d = c.dispatcher;
    assert.equal(d.listFile, fx('lists/two.list'));
    assert.deepEqual(d.listSource, { kind: 'file', path: fx('lists/two.list') });
    assert.deepEqual(
      [d.flags, d.forceDst, d.dsHashSize, d.dsPingInterval, d.dsProbingMode, d.dsProbingThreshold, d.dsInactiveThreshold, d.dsPingMethod, d.dsPingFrom],
      [3, false, 4, 2, 3, 3, 2, 'INFO', 'sip:pinger@sbc.test'],
    );
    assert.deepEqual(d.dsPingReplyCodes, [
      { kind: 'class', value: 2 },
      { kind: 'code', value: 403 },
      { kind: 'code', value: 404 },
    ]);
    assert.deepEqual(
      [d.xavpDst, d.xavpCtx, d.useDefault, d.reloadDelta, d.dsHashExpire, d.dsHashInitexpire, d.dsHashCheckInterval, d.dsLoadMode, d.xavpDstMode, d.xavpCtxMode],
      ['_d_', '_c_', true, 0, 60, 30, 10, 1, 2, 1],
    );
    assert.deepEqual([d.set, d.alg, d.limit], [2, 4, 3]);
  });

  test('dialog, htable, dmq, http', () => {
    assert.deepEqual(c.dialog, { enableDmq: true, defaultTimeout: 3600 });
    assert.deepEqual(
      c.htable.map((h) => [h.name, h.size, h.buckets, h.autoExpire, h.updateExpire, h.initVal, h.dmqReplicate, h.dbTable, h.dbMode]),
      [
        ['ipban', 8, 256, 300, true, null, true, null, 0],
        ['calls', 1, 8, 0, false, -5, false, 'calls', 1],
      ],
    );
    assert.ok(c.dmq);
    assert.deepEqual(c.dmq.serverAddress, { uri: 'sip:127.0.0.11:5062', host: '127.0.0.11', family: 4, port: 5062 });
    assert.deepEqual(
      c.dmq.notificationAddresses.map((a) => a.uri),
      ['sip:127.0.0.11:5062', 'sip:127.0.0.12:5062'],
    );
    assert.deepEqual([c.dmq.multiNotify, c.dmq.numWorkers, c.dmq.pingInterval], [false, 2, 5]);
    assert.deepEqual(
      c.dmq.allow.map((a) => [a.address, a.prefix, a.family]),
      [
        ['127.0.0.0', 8, 4],
        ['::1', 128, 6],
      ],
    );
    assert.deepEqual(c.http.listen, { host: '127.0.0.1', family: 4, port: 0 });
  });

  test('--check loads its list (ds_load_mode 1, socket= matched against listen)', () => {
    const r = checkConfig({ file: fx('full.yaml') });
    assert.equal(r.ok, true, r.errors.map((e) => e.message).join('\n'));
    assert.equal(r.dispatcherList!.destinations.length, 2);
    // the same list with a listen that does not own the socket fails (ds_load_mode=1)
    const bad = checkConfig({ file: fx('full.yaml'), sets: ['listen=udp:127.0.0.1:5999'] });
    assert.equal(bad.ok, false);
    assert.equal(bad.errors[0]!.file, fx('lists/two.list'));
    assert.equal(bad.errors[0]!.line, 3);
    assert.match(bad.errors[0]!.message, /non-local socket/);
  });
});

describe('located errors', () => {
  test('unknown key at a nested path: its own line, its full path, a suggestion', () => {
    assert.deepEqual(
      problems(() => loadConfig({ file: fx('unknown-nested.yaml') })),
      [[fx('unknown-nested.yaml'), 6, 'dispatcher.ds_ping_intervall', 'unknown key (did you mean "ds_ping_interval"?)']],
    );
    assert.deepEqual(
      problems(() => loadConfigText('tm:\n  fr_timer: 1\nbogus:\n  deep: 1\n', { fileName: 'c.yaml' })),
      [['c.yaml', 3, 'bogus', 'unknown key']],
    );
    assert.deepEqual(
      problems(() => loadConfigText('dmq:\n  allow: []\n  server-address: sip:1.2.3.4:5062\n', { fileName: 'c.yaml' })),
      [['c.yaml', 3, 'dmq.server-address', 'unknown key (did you mean "server_address"?)']],
    );
  });

  test('several problems are reported together, in line order', () => {
    const f = fx('multi-errors.yaml');
    assert.deepEqual(
      problems(() => loadConfig({ file: f })),
      [
        [f, 3, 'workers', 'must be <= 64'],
        [f, 4, 'log_level', 'must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"'],
        [f, 6, 'tm.fr_timer', 'must be >= 1'],
        [f, 7, 'tm.fr_timr', 'unknown key (did you mean "fr_timer"?)'],
        [f, 9, 'dispatcher.ds_ping_from', 'must be a sip: or sips: URI (e.g. sip:dispatcher@localhost)'],
        [f, 10, 'dispatcher.ds_ping_reply_codes', 'class=9 out of range 1..6'],
        [f, 12, 'htable[0]', 'autoexpire must be a non-negative integer, got "soon"'],
        [f, 14, 'http.listen', 'must be HOST:PORT (e.g. 127.0.0.1:8080)'],
      ],
    );
  });

  test('ConfigErrors message lists every problem as file:line: key: message', () => {
    try {
      loadConfigText('workers: -1\nroute: 5\n', { fileName: 'w.yaml' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigErrors);
      assert.equal(err.code, 'SY_ERR_CONFIG');
      assert.equal(err.message, 'w.yaml:1: workers: must be >= 0\nw.yaml:2: route: must be string');
    }
  });

  test('YAML syntax errors name the file and line', () => {
    const f = fx('syntax-error.yaml');
    const p = problems(() => loadConfig({ file: f }));
    assert.equal(p.length, 1);
    assert.equal(p[0]![0], f);
    assert.equal(p[0]![1], 5);
    assert.match(p[0]![3], /^YAML syntax error: /);
    assert.deepEqual(
      problems(() => loadConfigText('workers: 1\nworkers: 2\n', { fileName: 'dup.yaml' })).map((x) => [x[1], x[3]]),
      [[2, 'YAML syntax error: Map keys must be unique']],
    );
  });

  test('types, ranges and address forms', () => {
    const p = problems(() =>
      loadConfigText(
        [
          'listen: [udp:127.0.0.1:5060, "tcp:127.0.0.1:5060", "udp:::1:5060"]',
          'advertise: "bad host!"',
          'workers: 1.5',
          'tm: 5',
          'dispatcher:',
          '  alg: 14',
          '  xavp_dst: "has space"',
          '  force_dst: 2',
          'dmq:',
          '  notification_address: []',
          '  allow: ["10.0.0.0/8", "10.0.0.0/33"]',
        ].join('\n'),
        { fileName: 't.yaml' },
      ),
    );
    assert.deepEqual(
      p.map((x) => [x[1], x[2], x[3]]),
      [
        [1, 'listen[1]', 'must be udp:IP:PORT (e.g. udp:127.0.0.1:5060, udp:[::1]:5060)'],
        [1, 'listen[2]', 'must be udp:IP:PORT (e.g. udp:127.0.0.1:5060, udp:[::1]:5060)'],
        [2, 'advertise', 'must be HOST or HOST:PORT (e.g. 203.0.113.7:5060)'],
        [3, 'workers', 'must be integer'],
        [4, 'tm', 'must be a mapping or null'],
        [6, 'dispatcher.alg', 'must be <= 13'],
        [7, 'dispatcher.xavp_dst', 'must be an XAVP name (letters, digits, _) or empty'],
        [8, 'dispatcher.force_dst', 'must be one of 0, 1'],
        [10, 'dmq.notification_address', 'must not be empty'],
        [11, 'dmq.allow[1]', 'must be an IP address or CIDR (e.g. 10.0.0.0/8)'],
      ],
    );
  });

  test('cross-field and file checks', () => {
    const p = problems(() =>
      loadConfigText('tm:\n  t1: 5000\n  t2: 400\nroute: ./no-such-route.js\ndispatcher:\n  list_file: a.list\n  list: "1 sip:10.0.0.1"\ndialog: {enable_dmq: 1}\nlisten: [udp:127.0.0.1:5060, udp:127.0.0.1:5060]\n', {
        fileName: 'x.yaml',
        baseDir: FIX,
      }),
    );
    assert.deepEqual(
      p.map((x) => [x[1], x[2], x[3]]),
      [
        [3, 'tm.t2', 't2 (400 ms) must not be less than t1 (5000 ms)'],
        [4, 'route', `must be sbc, router or a path to a route module: ${fx('no-such-route.js')} not found`],
        [7, 'dispatcher.list', 'list (inline dispatcher.list) and list_file are mutually exclusive'],
        [8, 'dialog.enable_dmq', '1 needs a dmq section (DMQ is off)'],
        [9, 'listen[1]', 'duplicate listen address udp:127.0.0.1:5060'],
      ],
    );
  });

  test('htable definitions: every problem with its item line', () => {
    const f = fx('bad-htable.yaml');
    assert.deepEqual(
      problems(() => loadConfig({ file: f })).map((x) => [x[1], x[2], x[3]]),
      [
        [4, 'htable[1]', 'must be NAME=>attr=value;... (missing "=>")'],
        [5, 'htable[2]', 'size must be a non-negative integer, got "big"'],
        [5, 'htable[2]', 'unknown htable attribute "colour" (known: size, autoexpire, updateexpire, dmqreplicate, dbmode, dbtable, cols, coldelim, colnull, initval)'],
        [6, 'htable[3]', 'duplicate htable name "ipban"'],
      ],
    );
  });

  test('unreadable file and non-mapping root', () => {
    assert.deepEqual(
      problems(() => loadConfig({ file: '/nonexistent/switchyard.yaml' })),
      [['/nonexistent/switchyard.yaml', undefined, undefined, 'cannot read config file (ENOENT)']],
    );
    assert.deepEqual(
      problems(() => loadConfigText('- a\n- b\n', { fileName: 'l.yaml' })),
      [['l.yaml', 1, undefined, 'the config must be a YAML mapping (key: value ...)']],
    );
  });
});

describe('--set overrides', () => {
  test('values are YAML scalars: workers=0 is a number; later --set wins', () => {
    const c = loadConfig({ sets: ['workers=0', 'tm.fr_timer=2000', 'log_level=debug', 'tm.fr_timer=3000'] });
    assert.equal(c.workers, 0);
    assert.equal(c.tm.frTimer, 3000);
    assert.equal(c.logLevel, 'debug');
  });

  test('strings with = and :, flow lists, null, empty values', () => {
    const c = loadConfigText('', {
      baseDir: '/srv',
      sets: [
        'dispatcher.ds_ping_reply_codes=class=2;code=403',
        'listen=[udp:127.0.0.1:5060, "udp:[::1]:5062"]',
        'advertise=sbc.example.com:5070',
        'http.listen=null',
        'dispatcher.xavp_dst=',
        'htable=[]',
        'dmq.num_workers=2',
      ],
    });
    assert.deepEqual(c.dispatcher.dsPingReplyCodes, [
      { kind: 'class', value: 2 },
      { kind: 'code', value: 403 },
    ]);
    assert.deepEqual(
      c.listen.map((l) => l.address),
      ['udp:127.0.0.1:5060', 'udp:[::1]:5062'],
    );
    assert.deepEqual(c.advertise, { host: 'sbc.example.com', family: 0, port: 5070 });
    assert.equal(c.http.listen, null);
    assert.equal(c.dispatcher.xavpDst, '');
    assert.deepEqual(c.htable, []);
    assert.equal(c.dmq?.numWorkers, 2); // creates the dmq section: DMQ on with defaults
  });

  test('an override replaces a bad file value; list_file and list replace each other', () => {
    assert.equal(loadConfigText('workers: 99\n', { sets: ['workers=3'] }).workers, 3);
    const fromDefault = loadConfig({ sets: ['dispatcher.list_file=/srv/d.list'] });
    assert.deepEqual(fromDefault.dispatcher.listSource, { kind: 'file', path: '/srv/d.list' });
    const inline = loadConfig({ file: fx('full.yaml'), sets: ['dispatcher.list=1 sip:10.0.0.1'] });
    assert.equal(inline.dispatcher.listFile, null);
    assert.deepEqual(inline.dispatcher.listSource, { kind: 'inline', text: '1 sip:10.0.0.1', name: `${fx('full.yaml')}#dispatcher.list` });
  });

  test('a bad key path is reported naming the key', () => {
    assert.deepEqual(
      problems(() => loadConfig({ sets: ['dispatcher.nope=1', 'tm.fr_timer.x=1', 'noequals', 'a..b=1', 'workers=many', 'htable.5=x'] })),
      [
        ['--set', undefined, 'tm.fr_timer.x', 'tm.fr_timer is not a section (it is 5000)'],
        ['--set', undefined, 'noequals', 'expected key.path=value, got "noequals"'],
        ['--set', undefined, 'a..b', 'bad key path "a..b"'],
        ['--set', undefined, 'htable[5]', 'htable is a list: use an index 0..1'],
        ['--set', undefined, 'workers', 'must be integer'],
        ['--set', undefined, 'dispatcher.nope', 'unknown key'],
      ],
    );
  });

  test('file problems and --set problems together', () => {
    const f = fx('unknown-nested.yaml');
    assert.deepEqual(
      problems(() => loadConfig({ file: f, sets: ['tm.fr_inv_timer=0'] })),
      [
        [f, 6, 'dispatcher.ds_ping_intervall', 'unknown key (did you mean "ds_ping_interval"?)'],
        ['--set', undefined, 'tm.fr_inv_timer', 'must be >= 1'],
      ],
    );
  });

  test('parseSetArgument and formatKeyPath', () => {
    assert.deepEqual(parseSetArgument('a.b=1'), { path: ['a', 'b'], value: 1 });
    assert.deepEqual(parseSetArgument('a=x: y'), { path: ['a'], value: 'x: y' });
    assert.deepEqual(parseSetArgument('a={x: 1}'), { path: ['a'], value: { x: 1 } });
    assert.deepEqual(parseSetArgument('a="007"'), { path: ['a'], value: '007' });
    assert.deepEqual(parseSetArgument('=1'), { error: 'expected key.path=value, got "=1"' });
    assert.equal(formatKeyPath(['dmq', 'allow', '0']), 'dmq.allow[0]');
  });
});

describe('deep freeze', () => {
  test('the resolved config and everything in it is frozen', () => {
    const c = loadConfig({ file: fx('full.yaml') });
    const seen: unknown[] = [];
    const walk = (v: unknown, where: string): void => {
      if (typeof v !== 'object' || v === null) return;
      assert.ok(Object.isFrozen(v), `${where} is frozen`);
      seen.push(v);
      for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
    };
    walk(c, 'config');
    assert.ok(seen.length > 20);
    assert.throws(() => {
      (c as unknown as { workers: number }).workers = 9;
    }, TypeError);
    assert.throws(() => {
      (c.listen as unknown as unknown[]).push(1);
    }, TypeError);
    assert.throws(() => {
      (c.tm as unknown as { frTimer: number }).frTimer = 1;
    }, TypeError);
  });
});

describe('--check (checkConfig)', () => {
  test('the embedded default passes', () => {
    const r = checkConfig({});
    assert.equal(r.ok, true);
    assert.deepEqual(r.errors, []);
    assert.equal(r.dispatcherList?.nrSets, 1);
  });

  test('a dispatcher list bad line fails naming the list file and line', () => {
    const r = checkConfig({ file: fx('bad-line.yaml') });
    assert.equal(r.ok, false);
    assert.equal(r.errors.length, 1);
    const e = r.errors[0]!;
    assert.deepEqual([e.file, e.line, e.key], [fx('lists/bad-line.list'), 3, 'setid']);
    assert.ok(r.config, 'the config itself was valid');
  });

  test('a missing list file fails', () => {
    const r = checkConfig({ sets: ['dispatcher.list_file=/nonexistent/d.list'] });
    assert.equal(r.ok, false);
    assert.deepEqual([r.errors[0]!.file, r.errors[0]!.key], ['/nonexistent/d.list', 'list_file']);
  });

  test('skipped destinations are warnings with list line numbers', () => {
    const r = checkConfig({ file: fx('inline-list.yaml') });
    assert.equal(r.ok, true);
    assert.deepEqual(r.warnings, [`${fx('inline-list.yaml')}#dispatcher.list:2: unable to add destination sip:@@bad-uri to set 1 -- bad uri [sip:@@bad-uri] -- skipping`]);
  });

  test('config errors are returned, not thrown', () => {
    const r = checkConfig({ file: fx('multi-errors.yaml') });
    assert.equal(r.ok, false);
    assert.equal(r.errors.length, 8);
    assert.equal(r.config, null);
  });
});
