/**
 * dispatcher.list parser (shared/spec/dispatcher.md §1.4, §2) against the ds-lab
 * list and Kamailio 5.6.3's `dispatcher.list` RPC output for it.
 *
 * The lab files are committed under test/fixtures/config/ds-lab/; they must
 * equal the vendored lab captures (test/fixtures/vectors).
 */
import { vector } from '../helpers/paths';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  DsAvlTree,
  kamailioIndexOrder,
  loadDispatcherList,
  parseDispatcherList,
  parseDsUri,
  parseSocketSpec,
  type DsDestination,
} from '../../src/dispatcher/list-file';
import { ConfigError } from '../../src/errors';

function fixturesDir(): string {
  const tried: string[] = [];
  for (const start of [__dirname, process.cwd()]) {
    let d = start;
    for (let i = 0; i < 8; i++) {
      const f = path.join(d, 'test', 'fixtures', 'config');
      tried.push(f);
      if (fs.existsSync(f)) return f;
      d = path.dirname(d);
    }
  }
  throw new Error(`test/fixtures/config not found (tried ${tried.join(', ')})`);
}

const FIX = fixturesDir();
const LAB_LIST = path.join(FIX, 'ds-lab', 'dispatcher.list');
const SHARED_RPC = vector('dispatcher', 'rpc');

interface RpcDest {
  URI: string;
  FLAGS: string;
  PRIORITY: number;
  HOST?: string;
  PORT?: number;
  PROTOID?: number;
  ATTRS?: {
    BODY: string;
    DUID: string | null;
    MAXLOAD: number;
    WEIGHT: number;
    RWEIGHT: number;
    SOCKET: string | null;
    SOCKNAME: string | null;
    OBPROXY: string | null;
  };
}
interface RpcList {
  NRSETS: number;
  RECORDS: Array<{ SET: { ID: number; TARGETS: Array<{ DEST: RpcDest }> } }>;
}

/** The JSON body of a captured `### response (raw HTTP ...)` file. */
function rpcResult(file: string): RpcList {
  const text = fs.readFileSync(path.join(FIX, 'ds-lab', file), 'utf8');
  const body = text.slice(text.indexOf('\n{\n', text.indexOf('### response')) + 1);
  return (JSON.parse(body) as { result: RpcList }).result;
}

/** dispatcher.c:ds_rpc_print_set() letters for state bits. */
function flagLetters(flags: number): string {
  const first = flags & 1 ? 'I' : flags & 4 ? 'D' : flags & 2 ? 'T' : 'A';
  return first + (flags & 8 ? 'P' : 'X');
}

const lab = loadDispatcherList(LAB_LIST);

describe('ds-lab dispatcher.list vs Kamailio 5.6.3 dispatcher.list RPC', () => {
  test('the ds-lab RPC captures used here equal the vendored Kamailio vectors', () => {
    for (const f of ['ds_list_full.txt', 'ds_list_after_reload_file_flags.txt']) {
      assert.equal(fs.readFileSync(path.join(FIX, 'ds-lab', f), 'utf8'), fs.readFileSync(path.join(SHARED_RPC, f), 'utf8'), f);
    }
  });

  test('sets in AVL post-order 1, 5, 3, 2 and NRSETS 4', () => {
    const full = rpcResult('ds_list_full.txt');
    assert.deepEqual(lab.postOrder, [1, 5, 3, 2]);
    assert.deepEqual(
      lab.sets.map((s) => s.id),
      full.RECORDS.map((r) => r.SET.ID),
    );
    assert.equal(lab.nrSets, full.NRSETS);
  });

  test('index order, URIs, priorities, host/port/proto and attrs match ds_list_full.txt', () => {
    const full = rpcResult('ds_list_full.txt');
    for (const rec of full.RECORDS) {
      const set = lab.byId.get(rec.SET.ID);
      assert.ok(set, `set ${rec.SET.ID}`);
      assert.deepEqual(
        set.destinations.map((d) => [d.uri, d.priority]),
        rec.SET.TARGETS.map((t) => [t.DEST.URI, t.DEST.PRIORITY]),
        `set ${rec.SET.ID}`,
      );
      rec.SET.TARGETS.forEach((t, i) => {
        const d = set.destinations[i]!;
        assert.equal(d.host, t.DEST.HOST);
        assert.equal(d.port, t.DEST.PORT);
        assert.equal(d.proto, t.DEST.PROTOID);
        const a = t.DEST.ATTRS;
        if (!a) {
          assert.equal(d.attrs, '', `${d.uri} has no attrs`);
          return;
        }
        assert.equal(d.attrs, a.BODY);
        assert.equal(d.parsedAttrs.duid, a.DUID);
        assert.equal(d.parsedAttrs.maxload, a.MAXLOAD);
        assert.equal(d.parsedAttrs.weight, a.WEIGHT);
        assert.equal(d.parsedAttrs.rweight, a.RWEIGHT);
        assert.equal(d.parsedAttrs.socket, a.SOCKET);
        assert.equal(d.parsedAttrs.sockname, a.SOCKNAME);
        assert.equal(d.parsedAttrs.obproxy, a.OBPROXY);
      });
    }
  });

  test('file flags match ds_list_after_reload_file_flags.txt (DX, IX, AP, TX)', () => {
    const reloaded = rpcResult('ds_list_after_reload_file_flags.txt');
    let compared = 0;
    for (const rec of reloaded.RECORDS) {
      const set = lab.byId.get(rec.SET.ID)!;
      assert.deepEqual(
        set.destinations.map((d) => d.uri),
        rec.SET.TARGETS.map((t) => t.DEST.URI),
      );
      rec.SET.TARGETS.forEach((t, i) => {
        const d = set.destinations[i]!;
        // .24 is dead: a keepalive in flight across the reload re-marked it IP
        // after the reload reset it to its file state (dispatcher.md §7.5).
        if (d.uri === 'sip:127.0.0.24:5060') return;
        assert.equal(flagLetters(d.flags), t.DEST.FLAGS, d.uri);
        compared++;
      });
    }
    assert.equal(compared, 15);
    const set5 = lab.byId.get(5)!.destinations;
    assert.deepEqual(
      set5.map((d) => d.flags),
      [0, 2, 8, 1, 4, 0],
    );
  });

  test('line numbers, the sip: fix-up and the skipped @@bad-uri line are reported', () => {
    const byUri = new Map(lab.destinations.map((d) => [d.uri, d]));
    assert.equal(byUri.get('sip:127.0.0.22:5060')!.line, 5);
    assert.equal(byUri.get('sip:127.0.0.26:5085')!.line, 26);
    assert.equal(byUri.get('sip:127.0.0.26:5083')!.attrs, 'duid=noscheme');
    assert.equal(lab.destinations.length, 16);
    const skipped = lab.warnings.filter((w) => w.kind === 'skipped');
    assert.deepEqual(
      skipped.map((w) => [w.line, w.setId, w.uri]),
      [[27, 5, 'sip:@@bad-uri']],
    );
    const fixed = lab.warnings.filter((w) => w.kind === 'fixed-scheme');
    assert.deepEqual(
      fixed.map((w) => [w.line, w.uri]),
      [[24, '127.0.0.26:5083']],
    );
    // the trailing ';' of the .5085 attrs is removed, other attrs kept raw
    const d5085 = byUri.get('sip:127.0.0.26:5085')!;
    assert.equal(d5085.attrs, 'socket=udp:127.0.0.21:5060;obproxy=sip:127.0.0.26:5086;myattr=x');
    assert.deepEqual(d5085.parsedAttrs.params.at(-1), { name: 'myattr', value: 'x' });
    assert.equal(byUri.get('sip:127.0.0.24:5060')!.parsedAttrs.pingFrom, 'sip:pinger@ds-lab.test');
  });

  test('a socket= attr that is not a local socket drops the destination', () => {
    const local = loadDispatcherList(LAB_LIST, { isLocalSocket: (s) => s.host === '127.0.0.21' && s.port === 5060 && s.proto === 'udp' });
    assert.equal(local.byId.get(5)!.destinations.length, 6);
    const remote = loadDispatcherList(LAB_LIST, { isLocalSocket: () => false });
    assert.deepEqual(
      remote.byId.get(5)!.destinations.map((d) => d.uri),
      ['sip:127.0.0.26:5083', 'sip:127.0.0.26:5082', 'sip:127.0.0.26:5081', 'sip:127.0.0.26:5080', 'sip:127.0.0.26:5084'],
    );
    assert.ok(remote.warnings.some((w) => w.kind === 'skipped' && w.line === 26 && /non-local socket/.test(w.message)));
  });
});

describe('line grammar (dispatch.c:ds_load_list)', () => {
  const parse = (text: string): ReturnType<typeof parseDispatcherList> => parseDispatcherList(text, 'test.list');
  const only = (text: string): DsDestination => {
    const l = parse(text);
    assert.equal(l.destinations.length, 1, JSON.stringify(l.warnings));
    return l.destinations[0]!;
  };

  test('a set id with nothing after it is a bad line: the whole load fails, naming the line', () => {
    for (const bad of ['9', '9   ', '9 # comment', '\t9\r']) {
      const text = `# header\n1 sip:127.0.0.2:5060\n\n${bad}\n1 sip:127.0.0.3:5060\n`;
      assert.throws(
        () => parse(text),
        (e: unknown) => e instanceof ConfigError && e.file === 'test.list' && e.line === 4 && e.key === 'setid' && /bad line/.test(e.message),
        JSON.stringify(bad),
      );
    }
  });

  test('a line not starting with a digit is set 0 with that token as URI', () => {
    const d = only('sip:127.0.0.9:5060 8 3 duid=zero\n');
    assert.deepEqual([d.setId, d.uri, d.flags, d.priority, d.attrs], [0, 'sip:127.0.0.9:5060', 8, 3, 'duid=zero']);
    const l = parse('1 sip:127.0.0.2:5060\nsip:127.0.0.9\n');
    assert.deepEqual(l.postOrder, [0, 1]);
  });

  test('blank lines, comments, CRLF, tabs and trailing comments', () => {
    const l = parse('\r\n   \n# c\n  # indented comment\n1\tsip:127.0.0.2:5060\t0\t7\r\n2 sip:127.0.0.3:5060 # after uri\r\n3 sip:127.0.0.4:5060 1 # after flags\n');
    assert.deepEqual(
      l.destinations.map((d) => [d.setId, d.uri, d.flags, d.priority, d.attrs, d.line]),
      [
        [1, 'sip:127.0.0.2:5060', 0, 7, '', 5],
        [2, 'sip:127.0.0.3:5060', 0, 0, '', 6],
        [3, 'sip:127.0.0.4:5060', 1, 0, '', 7],
      ],
    );
  });

  test("URI ends at '#'; attrs do not end at '#'; anything after attrs is ignored", () => {
    const a = only('1 sip:127.0.0.2:5060#frag 0 0 x=1\n');
    assert.deepEqual([a.uri, a.flags, a.attrs], ['sip:127.0.0.2:5060', 0, '']);
    const b = only('1 sip:127.0.0.2:5060 0 0 duid=a#b;weight=5 trailing words\n');
    assert.equal(b.attrs, 'duid=a#b;weight=5');
    assert.equal(b.parsedAttrs.duid, 'a#b');
  });

  test('garbage in the flags/priority position is 0 and becomes the attrs', () => {
    const d = only('1 sip:127.0.0.2:5060 abc\n');
    assert.deepEqual([d.flags, d.priority, d.attrs], [0, 0, 'abc']);
    const e = only('1 sip:127.0.0.2:5060 4 x;y=1\n');
    assert.deepEqual([e.flags, e.priority, e.attrs], [4, 0, 'x;y=1']);
    const f = only('1 sip:127.0.0.2:5060 4x 5\n');
    assert.deepEqual([f.flags, f.priority, f.attrs], [4, 0, 'x']);
  });

  test('physical lines longer than 1023 bytes are split like fgets(buf, 1024)', () => {
    const head = '1 sip:127.0.0.2:5060 0 0 duid=a;pad=';
    const first = head + 'x'.repeat(1023 - head.length); // exactly 1023 bytes: one fgets() chunk
    assert.equal(Buffer.byteLength(first), 1023);
    const l = parse(`# long line\n${first}2 sip:127.0.0.5:5060 0 4\n3 sip:127.0.0.6:5060\n`);
    assert.deepEqual(
      l.destinations.map((d) => [d.setId, d.uri, d.priority, d.line]),
      [
        [1, 'sip:127.0.0.2:5060', 0, 2],
        [2, 'sip:127.0.0.5:5060', 4, 2], // the remainder, parsed as a line of its own
        [3, 'sip:127.0.0.6:5060', 0, 3],
      ],
    );
    assert.equal(l.destinations[0]!.attrs.length, 1023 - '1 sip:127.0.0.2:5060 0 0 '.length);

    // a line of 1023 bytes + '\n': the second chunk is just '\n' (ignored)
    const l2 = parse(`${first}\n3 sip:127.0.0.6:5060\n`);
    assert.deepEqual(
      l2.destinations.map((d) => d.line),
      [1, 2],
    );

    // a remainder that is a set id alone makes the load fail on that physical line
    assert.throws(
      () => parse(`1 sip:127.0.0.2:5060\n${first}9\n`),
      (e: unknown) => e instanceof ConfigError && e.line === 2 && e.key === 'setid',
    );

    // multi-byte UTF-8: the split is by bytes, not characters
    const u = '1 sip:127.0.0.2:5060 0 0 n=' + 'é'.repeat(600); // 27 + 1200 bytes
    const l3 = parse(`${u}\n`);
    assert.equal(l3.destinations.length, 1);
    assert.equal(Buffer.byteLength(l3.destinations[0]!.attrs), 1023 - 25); // attrs end with the 1023-byte chunk
  });

  test('a NUL byte ends the line (C string)', () => {
    const buf = Buffer.concat([Buffer.from('1 sip:127.0.0.2:5060 0 0 duid=a'), Buffer.from([0]), Buffer.from('garbage\n2 sip:127.0.0.3:5060\n')]);
    const l = parseDispatcherList(buf, 'nul.list');
    assert.deepEqual(
      l.destinations.map((d) => [d.setId, d.attrs]),
      [
        [1, 'duid=a'],
        [2, ''],
      ],
    );
  });

  test('priority orders the set (descending), equal priorities in reverse file order', () => {
    const l = parse(
      ['5 sip:10.0.0.1 0 1', '5 sip:10.0.0.2 0 3', '5 sip:10.0.0.3 0 1', '5 sip:10.0.0.4 0 0', '5 sip:10.0.0.5 0 3', '5 sip:10.0.0.6'].join('\n'),
    );
    assert.deepEqual(
      l.byId.get(5)!.destinations.map((d) => d.host),
      ['10.0.0.5', '10.0.0.2', '10.0.0.3', '10.0.0.1', '10.0.0.6', '10.0.0.4'],
    );
  });

  test('duplicates are kept; a set exists only if one of its lines was accepted', () => {
    const l = parse('1 sip:10.0.0.1\n1 sip:10.0.0.1\n7 sip:@@bad\n');
    assert.equal(l.byId.get(1)!.destinations.length, 2);
    assert.equal(l.byId.has(7), false);
    assert.equal(l.nrSets, 1);
  });

  test('sip: is prepended only when the URI does not parse and 4 < length < 500', () => {
    assert.equal(only('1 10.0.0.1:5080\n').uri, 'sip:10.0.0.1:5080');
    assert.equal(only('1 host.example.com\n').uri, 'sip:host.example.com');
    const short = parse('1 a.bc\n'); // 4 chars: not fixed, skipped
    assert.equal(short.destinations.length, 0);
    assert.equal(short.warnings[0]!.kind, 'skipped');
    const long = parse(`1 ${'a'.repeat(500)}\n`); // 500 chars: not fixed
    assert.equal(long.destinations.length, 0);
  });

  test('unparsable URIs are skipped with a warning naming the line; ds_load_mode=1 fails the load', () => {
    const text = '1 sip:127.0.0.2:5060\n1 sip:@@bad-uri\n1 sip:127.0.0.3:99999\n1 sip:[::1]:5060;transport=tcp\n';
    const l = parse(text);
    assert.deepEqual(
      l.warnings.filter((w) => w.kind === 'skipped').map((w) => w.line),
      [2, 3],
    );
    assert.deepEqual(
      l.destinations.map((d) => d.uri),
      ['sip:127.0.0.2:5060', 'sip:[::1]:5060;transport=tcp'],
    );
    assert.throws(
      () => parseDispatcherList(text, 'strict.list', { loadMode: 1 }),
      (e: unknown) => e instanceof ConfigError && e.file === 'strict.list' && e.line === 2 && e.key === 'uri',
    );
  });

  test('missing file: ConfigError naming the file (key list_file)', () => {
    assert.throws(
      () => loadDispatcherList('/nonexistent/dispatcher.list'),
      (e: unknown) => e instanceof ConfigError && e.file === '/nonexistent/dispatcher.list' && e.key === 'list_file',
    );
  });
});

describe('attrs (dispatch.c:ds_set_attrs)', () => {
  const attrsOf = (attrs: string): ReturnType<typeof parseDispatcherList> => parseDispatcherList(`1 sip:10.0.0.1 0 0 ${attrs}\n`, 'a.list');

  test('special attributes, names case-insensitive', () => {
    const l = attrsOf('DUID=x1;MaxLoad=7;Weight=40;RWEIGHT=60;cc=1;latency=120;SockName=s1;ping_from=sip:p@x;OBPROXY=sip:10.0.0.9;custom=Keep;');
    const d = l.destinations[0]!;
    assert.equal(d.attrs, 'DUID=x1;MaxLoad=7;Weight=40;RWEIGHT=60;cc=1;latency=120;SockName=s1;ping_from=sip:p@x;OBPROXY=sip:10.0.0.9;custom=Keep');
    const a = d.parsedAttrs;
    assert.deepEqual(
      [a.duid, a.maxload, a.weight, a.rweight, a.cc, a.latency, a.sockname, a.socket, a.pingFrom, a.obproxy],
      ['x1', 7, 40, 60, 1, 120, 's1', null, 'sip:p@x', 'sip:10.0.0.9'],
    );
    assert.deepEqual(a.params.at(-1), { name: 'custom', value: 'Keep' });
  });

  test('weight/rweight outside 1..100 become 0 (destination kept, warning)', () => {
    for (const [w, expected] of [
      ['0', 0],
      ['1', 1],
      ['100', 100],
      ['101', 0],
      ['-5', 0],
      ['', 0],
      ['50x', 50], // str2sint keeps the partial value
    ] as const) {
      const l = attrsOf(`weight=${w};rweight=${w}`);
      assert.equal(l.destinations.length, 1);
      assert.equal(l.destinations[0]!.parsedAttrs.weight, expected, `weight=${w}`);
      assert.equal(l.destinations[0]!.parsedAttrs.rweight, expected, `rweight=${w}`);
      const warned = l.warnings.filter((x) => x.kind === 'weight' || x.kind === 'rweight').length;
      assert.equal(warned, expected === 0 ? 2 : 0, `warnings for ${w}`);
    }
  });

  test('only one trailing ; is removed; quoted values; latency needs an integer', () => {
    assert.equal(attrsOf('a=1;;').destinations[0]!.attrs, 'a=1;');
    assert.equal(attrsOf(';').destinations[0]!.attrs, '');
    assert.equal(attrsOf('duid="q;x"').destinations[0]!.parsedAttrs.duid, 'q;x');
    assert.equal(attrsOf('latency=12ms').destinations[0]!.parsedAttrs.latency, null);
    assert.equal(attrsOf('maxload=-3').destinations[0]!.parsedAttrs.maxload, -3);
  });

  test('malformed attrs or socket drop the destination', () => {
    assert.equal(attrsOf('duid="open').destinations.length, 0);
    assert.equal(attrsOf('socket=udp:1.2.3.4:99999').destinations.length, 0);
    assert.equal(attrsOf('socket=udp:127.0.0.1:5060').destinations.length, 1);
    const named = parseDispatcherList('1 sip:10.0.0.1 0 0 sockname=s1\n1 sip:10.0.0.2 0 0 sockname=s2\n', 'n.list', { hasSocketName: (n) => n === 's1' });
    assert.deepEqual(
      named.destinations.map((d) => d.host),
      ['10.0.0.1'],
    );
  });
});

describe('URIs (no DNS)', () => {
  test('parseDsUri', () => {
    assert.deepEqual(parseDsUri('sip:127.0.0.1:5080'), {
      scheme: 'sip',
      user: null,
      host: '127.0.0.1',
      hostType: 'ipv4',
      ip: '127.0.0.1',
      port: 5080,
      proto: 0,
      transport: null,
    });
    const v6 = parseDsUri('sips:alice@[2001:db8::1]:5061;transport=TLS;lr')!;
    assert.deepEqual([v6.scheme, v6.user, v6.host, v6.ip, v6.port, v6.proto, v6.transport], ['sips', 'alice', '[2001:db8::1]', '2001:db8::1', 5061, 3, 'tls']);
    const named = parseDsUri('SIP:router-1.example.com;transport=udp')!;
    assert.deepEqual([named.hostType, named.ip, named.port, named.proto], ['hostname', null, 0, 1]);
    assert.equal(parseDsUri('sip:localhost')!.hostType, 'hostname');
    for (const bad of ['sip:@@bad-uri', 'sip:', 'sip:a@', 'sip:@host', 'tel:+123', 'http://x', 'sip:1.2.3.4:65536', 'sip:256.1.1.1', 'sip:[::1', 'sip:::1', 'sip:ho st', 'sip:-bad.com', 'sip:a@b@c']) {
      assert.equal(parseDsUri(bad), null, bad);
    }
    assert.equal(parseDsUri(`sip:${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)?.hostType, 'hostname');
  });

  test('parseSocketSpec', () => {
    assert.deepEqual(parseSocketSpec('udp:127.0.0.21:5060'), { proto: 'udp', host: '127.0.0.21', port: 5060 });
    assert.deepEqual(parseSocketSpec('[::1]:5062'), { proto: null, host: '::1', port: 5062 });
    assert.deepEqual(parseSocketSpec('tcp:myhost'), { proto: 'tcp', host: 'myhost', port: 0 });
    assert.equal(parseSocketSpec('udp:1.2.3.4:x'), null);
  });
});

describe('Kamailio AVL tree of sets (post-order walk)', () => {
  const postOrder = (ids: readonly number[]): number[] => {
    const t = new DsAvlTree<number>();
    for (const id of ids) t.insert(id, () => id);
    return t.postOrderIds();
  };

  test('ids inserted 1,2,3,5 walk 1,5,3,2 (rpc/ds_list_full.txt)', () => {
    assert.deepEqual(postOrder([1, 2, 3, 5]), [1, 5, 3, 2]);
  });

  test('1..7 builds the perfect tree; re-inserting an id returns the existing value', () => {
    assert.deepEqual(postOrder([1, 2, 3, 4, 5, 6, 7]), [1, 3, 2, 5, 7, 6, 4]);
    const t = new DsAvlTree<{ id: number }>();
    const a = t.insert(3, () => ({ id: 3 }));
    assert.equal(t.insert(3, () => ({ id: -1 })), a);
    assert.equal(t.size, 1);
    assert.equal(t.find(3), a);
    assert.equal(t.find(4), undefined);
  });

  test('same shape as a textbook AVL tree for random insertion orders (double rotations included)', () => {
    interface R {
      id: number;
      h: number;
      l: R | null;
      r: R | null;
    }
    const h = (n: R | null): number => (n ? n.h : 0);
    const fix = (n: R): R => ((n.h = 1 + Math.max(h(n.l), h(n.r))), n);
    const rotR = (n: R): R => {
      const l = n.l!;
      n.l = l.r;
      l.r = fix(n);
      return fix(l);
    };
    const rotL = (n: R): R => {
      const r = n.r!;
      n.r = r.l;
      r.l = fix(n);
      return fix(r);
    };
    const ins = (n: R | null, id: number): R => {
      if (!n) return { id, h: 1, l: null, r: null };
      if (id === n.id) return n;
      if (id < n.id) n.l = ins(n.l, id);
      else n.r = ins(n.r, id);
      fix(n);
      const bal = h(n.l) - h(n.r);
      if (bal > 1) {
        if (id > n.l!.id) n.l = rotL(n.l!);
        return rotR(n);
      }
      if (bal < -1) {
        if (id < n.r!.id) n.r = rotR(n.r!);
        return rotL(n);
      }
      return n;
    };
    const post = (n: R | null, out: number[]): number[] => (n && (post(n.l, out), post(n.r, out), out.push(n.id)), out);
    let seed = 12345;
    const rnd = (m: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), seed % m);
    for (let round = 0; round < 300; round++) {
      const ids = Array.from({ length: 1 + rnd(40) }, () => rnd(60));
      let ref: R | null = null;
      for (const id of ids) ref = ins(ref, id);
      assert.deepEqual(postOrder(ids), post(ref, []), `ids ${ids.join(',')}`);
    }
  });

  test('kamailioIndexOrder: re-inserting an index order flips equal-priority runs (add/remove quirk)', () => {
    const file = [
      { n: 'a', priority: 0 },
      { n: 'b', priority: 0 },
      { n: 'c', priority: 5 },
      { n: 'd', priority: 0 },
    ];
    const once = kamailioIndexOrder(file);
    assert.deepEqual(
      once.map((x) => x.n),
      ['c', 'd', 'b', 'a'],
    );
    assert.deepEqual(
      kamailioIndexOrder(once).map((x) => x.n),
      ['c', 'a', 'b', 'd'],
    );
  });
});
