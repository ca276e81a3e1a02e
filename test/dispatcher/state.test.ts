/**
 * DsState (shared/spec/dispatcher.md §1.3, §4.1, §7.5): layout over the lab
 * list, RPC letters, the threshold state machine of
 * probing_threshold_state_machine.txt, weight tables, and sharing with a
 * worker_thread (flag visibility, no lost cursor/counter increments).
 */
import { fixture, vector } from '../helpers/paths';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import {
  DS_DISABLED_DST,
  DS_INACTIVE_DST,
  DS_NODNSARES_DST,
  DS_PROBING_DST,
  DS_TRYING_DST,
  Dispatcher,
  DsState,
  dsStateLetters,
  loadDispatcherList,
  parseDispatcherList,
  parseDsStateLetters,
  type DsList,
} from '../../src/dispatcher';


const LAB_LIST = fixture('config', 'ds-lab', 'dispatcher.list');
const THRESHOLD_VECTOR = vector('dispatcher', 'probing_threshold_state_machine.txt');

function labList(): DsList {
  return loadDispatcherList(LAB_LIST);
}

const port = (uri: string): string => uri.slice(uri.lastIndexOf(':') + 1);

describe('layout and letters', () => {
  test('global index = sets in AVL post-order (1,5,3,2), Kamailio index order inside', () => {
    const st = DsState.create(labList());
    assert.equal(st.size, 16);
    const all = Array.from({ length: st.size }, (_, i) => `${st.setIdOf(i)}:${port(st.destination(i).uri)}`);
    assert.deepEqual(all, [
      '1:5060', '1:5060', '1:5060',
      '5:5085', '5:5083', '5:5082', '5:5081', '5:5080', '5:5084',
      '3:5077', '3:5076', '3:5075',
      '2:5074', '2:5073', '2:5072', '2:5071',
    ]);
    assert.deepEqual([0, 1, 2].map((p) => st.destination(st.indexOf(1, p)).uri), ['sip:127.0.0.23:5060', 'sip:127.0.0.22:5060', 'sip:127.0.0.24:5060']);
    assert.equal(st.indexOf(2, 4), -1);
    assert.equal(st.indexOf(42, 0), -1);
    assert.equal(st.setSize(3), 3);
    assert.equal(st.findUri(2, 'SIP:127.0.0.26:5073'), st.indexOf(2, 1)); // case-insensitive
    assert.equal(st.findUri(2, 'sip:127.0.0.26:507'), -1); // full length
    assert.throws(() => st.flags(16), RangeError);
  });

  test('file flags initialise the state; letters per §1.3 precedence', () => {
    const st = DsState.create(labList());
    const set5 = [0, 1, 2, 3, 4, 5].map((p) => `${port(st.destination(st.indexOf(5, p)).uri)} ${st.letters(st.indexOf(5, p))}`);
    assert.deepEqual(set5, ['5085 AX', '5083 TX', '5082 AP', '5081 IX', '5080 DX', '5084 AX']);
    assert.equal(dsStateLetters(5), 'IX');
    assert.equal(dsStateLetters(6), 'DX');
    assert.equal(dsStateLetters(DS_TRYING_DST | DS_PROBING_DST), 'TP');
    assert.equal(dsStateLetters(DS_NODNSARES_DST), 'AX');
    assert.equal(st.isSkipped(st.indexOf(5, 1)), false); // TRYING is selectable
    assert.equal(st.isSkipped(st.indexOf(5, 3)), true);
    assert.equal(st.isSkipped(st.indexOf(5, 4)), true);
    assert.equal(parseDsStateLetters('ip'), DS_INACTIVE_DST | DS_PROBING_DST);
    assert.equal(parseDsStateLetters('AP'), DS_PROBING_DST);
    assert.equal(parseDsStateLetters('td'), DS_TRYING_DST | DS_DISABLED_DST);
    assert.equal(parseDsStateLetters('$hdr(X)'), -1);
  });
});

describe('§7.5 threshold state machine (ds_update_state)', () => {
  test('probing_threshold=3, inactive_threshold=2: AX -> AP -> TP -> TP -> IP (down) ... IP -> AP (up)', () => {
    if (fs.existsSync(THRESHOLD_VECTOR)) {
      const v = fs.readFileSync(THRESHOLD_VECTOR, 'utf8');
      assert.match(v, /FLAGS=AX[\s\S]*FLAGS=AP[\s\S]*FLAGS=TP[\s\S]*FLAGS=IP[\s\S]*FLAGS=AP/);
    }
    const list = parseDispatcherList('9 sip:127.0.0.29:5063\n', 'threshold.list');
    const st = DsState.create(list);
    const i = 0;
    const P_T = 3;
    const I_T = 2;
    assert.equal(st.letters(i), 'AX');
    assert.equal(st.markSuccess(i, I_T)!.event, undefined); // first round (mode 1 sets PROBING)
    assert.equal(st.letters(i), 'AP');
    const f1 = st.markFailure(i, P_T)!;
    assert.deepEqual([st.letters(i), st.messageCount(i), f1.event], ['TP', 1, undefined]);
    st.markFailure(i, P_T);
    assert.deepEqual([st.letters(i), st.messageCount(i)], ['TP', 2]);
    const f3 = st.markFailure(i, P_T)!;
    assert.deepEqual([st.letters(i), st.messageCount(i), f3.event], ['IP', 0, 'dst-down']);
    // failures while inactive keep it inactive with the counter at 0
    for (let k = 0; k < 4; k++) {
      assert.equal(st.markFailure(i, P_T)!.event, undefined);
      assert.deepEqual([st.letters(i), st.messageCount(i)], ['IP', 0]);
    }
    const s1 = st.markSuccess(i, I_T)!;
    assert.deepEqual([st.letters(i), st.messageCount(i), s1.event], ['IP', 1, undefined]);
    const s2 = st.markSuccess(i, I_T)!;
    assert.deepEqual([st.letters(i), st.messageCount(i), s2.event], ['AP', 0, 'dst-up']);
    // a success while TRYING resets the failure counter
    st.markFailure(i, P_T);
    st.markSuccess(i, I_T);
    assert.deepEqual([st.letters(i), st.messageCount(i)], ['AP', 0]);
  });

  test('defaults (1/1): A -> I on the first failure, I -> A on the first success; mode 0 clears PROBING', () => {
    const st = DsState.create(labList());
    const i = st.findUri(1, 'sip:127.0.0.24:5060');
    const down = st.markFailure(i, 1)!;
    assert.deepEqual([down.oldFlags, down.flags, down.event], [0, DS_INACTIVE_DST | DS_PROBING_DST, 'dst-down']);
    assert.equal(st.letters(i), 'IP');
    assert.equal(st.markSuccess(i, 1)!.event, 'dst-up');
    assert.equal(st.letters(i), 'AP');
    st.markSuccess(i, 1, false); // probing mode 0: PROBING cleared after a result
    assert.equal(st.letters(i), 'AX');
    // a file-inactive destination becomes active at its first success (lab: 5081 -> AP, dst-up)
    const i81 = st.findUri(5, 'sip:127.0.0.26:5081');
    assert.equal(st.markSuccess(i81, 1)!.event, 'dst-up');
    assert.equal(st.letters(i81), 'AP');
  });

  test('DISABLED: keepalive results ignored; requested DISABLED leaves only DISABLED; set_state writes bits directly', () => {
    const st = DsState.create(labList());
    const i80 = st.findUri(5, 'sip:127.0.0.26:5080');
    assert.equal(st.markFailure(i80, 1), undefined);
    assert.equal(st.markSuccess(i80, 1), undefined);
    assert.equal(st.letters(i80), 'DX');
    const i85 = st.findUri(5, 'sip:127.0.0.26:5085');
    const c = st.updateState(i85, DS_DISABLED_DST | DS_INACTIVE_DST | DS_PROBING_DST, { probingThreshold: 1, inactiveThreshold: 1 });
    assert.deepEqual([c.flags, c.event], [DS_DISABLED_DST, 'dst-down']);
    // set_state: no counter change, no event
    const j = st.findUri(2, 'sip:127.0.0.26:5072');
    st.markFailure(j, 5);
    assert.equal(st.messageCount(j), 1);
    const r = st.setState(j, DS_INACTIVE_DST | DS_PROBING_DST);
    assert.deepEqual([r.event, st.letters(j), st.messageCount(j)], [undefined, 'IP', 1]);
    const g = st.generation();
    st.setState(j, DS_INACTIVE_DST | DS_PROBING_DST);
    assert.equal(st.generation(), g); // no change, no bump
  });

  test('5.6.3 quirk: a state update clears NODNSARES (DS_STATES_ALL = 31)', () => {
    const list = parseDispatcherList('1 sip:gw.invalid:5060 16\n', 'nodns.list');
    const st = DsState.create(list);
    assert.equal(st.flags(0), DS_NODNSARES_DST);
    st.markSuccess(0, 1);
    assert.equal(st.flags(0), DS_PROBING_DST);
  });
});

describe('weight tables (§4.1)', () => {
  const countTable = (t: number[]): number[] => {
    const c = [0, 0, 0];
    for (const v of t) c[v]!++;
    return c;
  };

  test('alg 9/11 tables hold 70/20/10 slots in index order; shuffled with the injected random', () => {
    const st = DsState.create(labList());
    assert.deepEqual(countTable(st.weightTable(3)!), [70, 20, 10]);
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [70, 20, 10]);
    // random() = 0 keeps Fisher-Yates as identity: the fill order is visible
    const plain = DsState.create(labList(), { random: () => 0 });
    const w = plain.weightTable(3)!;
    assert.deepEqual(w.slice(0, 70), new Array(70).fill(0));
    assert.deepEqual(w.slice(70, 90), new Array(20).fill(1));
    assert.deepEqual(w.slice(90), new Array(10).fill(2));
  });

  test('first destination without weight disables alg 9 (all zeros); fewer than 100 fill with the last; >100 cut', () => {
    const st = DsState.create(labList(), { random: () => 0 });
    assert.deepEqual(st.weightTable(2), new Array(100).fill(0)); // set 2 has no weights
    const l = parseDispatcherList(
      '1 sip:10.0.0.1 0 2 weight=30\n1 sip:10.0.0.2 0 1 weight=20\n1 sip:10.0.0.3 0 0 weight=0\n' +
        '2 sip:10.0.0.4 0 2 weight=90;rweight=90\n2 sip:10.0.0.5 0 1 weight=90;rweight=90\n3 sip:10.0.0.6 0 0 rweight=50\n',
      'w.list',
    );
    const s2 = DsState.create(l, { random: () => 0 });
    assert.deepEqual(countTable(s2.weightTable(1)!), [30, 20, 50]); // rest to the last destination (weight 0)
    assert.deepEqual(countTable(s2.weightTable(2)!), [90, 10, 0]); // second one cut at 100
    assert.deepEqual(countTable(s2.relativeWeightTable(2)!), [50, 50, 0]);
    assert.deepEqual(s2.relativeWeightTable(3), new Array(100).fill(0)); // < 2 destinations: not built
  });

  test('rweight table is rebuilt when a destination with rweight>0 crosses skipped/not skipped, and by setRweight', () => {
    const st = DsState.create(labList());
    const i77 = st.findUri(3, 'sip:127.0.0.26:5077');
    st.setState(i77, DS_INACTIVE_DST);
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [0, 66, 34]);
    st.markFailure(i77, 1); // inactive -> inactive: no crossing, no rebuild needed (same counts)
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [0, 66, 34]);
    st.markSuccess(i77, 1); // back up
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [70, 20, 10]);
    st.setRweight(st.findUri(3, 'sip:127.0.0.26:5075'), 30); // 70/20/30 of 120
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [58, 16, 26]);
    // set_state on the whole set rebuilds after each crossing (ds_reinit_state_all): 20/30 -> 40/60,
    // then 5075 alone -> 100, then sum 0 -> the table is kept as it was
    st.setStateAll(3, DS_INACTIVE_DST);
    assert.deepEqual(countTable(st.relativeWeightTable(3)!), [0, 0, 100]);
  });
});

describe('counters', () => {
  test('dload increments and floors at 0; reload semantics (new state) start at 0; initial() carries values', () => {
    const list = labList();
    const st = DsState.create(list);
    const i = st.indexOf(2, 0);
    assert.equal(st.incLoad(i), 1);
    assert.equal(st.incLoad(i), 2);
    assert.equal(st.decLoad(i), 1);
    assert.equal(st.decLoad(i), 0);
    assert.equal(st.decLoad(i), 0);
    const carried = DsState.create(list, { initial: (d) => (d.setId === 2 ? { flags: DS_INACTIVE_DST, dload: 7 } : undefined) });
    assert.equal(carried.dload(i), 7);
    assert.equal(carried.letters(i), 'IX');
    assert.equal(carried.letters(carried.indexOf(5, 1)), 'TX');
  });

  test('latency attr initialises the estimate (latency_stats_init)', () => {
    const l = parseDispatcherList('1 sip:10.0.0.1 0 5 latency=40\n1 sip:10.0.0.2 0 5\n', 'lat.list');
    const st = DsState.create(l);
    const a = st.findUri(1, 'sip:10.0.0.1');
    const b = st.findUri(1, 'sip:10.0.0.2');
    assert.deepEqual([a, b], [1, 0]); // equal priority: reverse file order
    assert.deepEqual([st.latencyEstimate(a), st.latencyAverage(a), st.latency(a).count], [40, 40, 10000]);
    assert.equal(st.latencyEstimate(b), 0);
  });

  test('attach() accepts a clone of the same list and rejects another list', () => {
    const list = labList();
    const st = DsState.create(list);
    const clone = structuredClone(list);
    const again = DsState.attach(st.buffer, clone);
    st.setState(st.indexOf(2, 1), DS_INACTIVE_DST);
    assert.equal(again.letters(again.indexOf(2, 1)), 'IX');
    assert.equal(again.weightTable(3)!.join(), st.weightTable(3)!.join());
    const other = parseDispatcherList('1 sip:10.0.0.1\n', 'other.list');
    assert.throws(() => DsState.attach(st.buffer, other), RangeError);
    const tweaked = parseDispatcherList(fs.readFileSync(LAB_LIST, 'utf8').replace('5071 0 0', '5071 0 1'), 'tweaked.list');
    assert.throws(() => DsState.attach(st.buffer, tweaked), /different dispatcher list/);
    assert.throws(() => DsState.attach(new ArrayBuffer(8) as unknown as SharedArrayBuffer, list), TypeError);
  });
});

// ---------------------------------------------------------------------------
// worker_threads: the SAB is the only channel for state

const DISPATCHER_JS = path.join(__dirname, '..', '..', 'src', 'dispatcher', 'index.js');

/** Worker body (plain JS, runs the compiled dist modules). */
const WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const ds = require(${JSON.stringify(DISPATCHER_JS)});
const { sab, ctrl, list, iterations, watch, loadIndex } = workerData;
const c = new Int32Array(ctrl);
const state = ds.DsState.attach(sab, list);
const dispatcher = new ds.Dispatcher(list, state, { flags: 2 });
// 1. flag visibility: wait for the main thread to flip a flag, no message
Atomics.store(c, 0, 1); Atomics.notify(c, 0);
Atomics.wait(c, 1, 0);
const seen = state.letters(watch);
// 2. start barrier, then hammer the shared cursors and a counter
Atomics.store(c, 2, 1); Atomics.notify(c, 2);
Atomics.wait(c, 3, 0);
const rr = {}; const w = {}; const t0 = Date.now();
const input = { callId: 'w', fromUri: 'sip:a@b', toUri: 'sip:a@b', ruri: 'sip:a@b', isInvite: false };
for (let k = 0; k < iterations; k++) {
  const a = dispatcher.select(2, 4, 0, input).du; rr[a] = (rr[a] || 0) + 1;
  const b = dispatcher.select(3, 9, 0, input).du; w[b] = (w[b] || 0) + 1;
  state.incLoad(loadIndex);
}
parentPort.postMessage({ seen, rr, w, t0, t1: Date.now() });
`;

function merge(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[port(k)] = (out[port(k)] ?? 0) + v;
  return out;
}

describe('sharing with a worker_thread', () => {
  test('a flag change on the main thread is seen by the worker; concurrent cursor advances lose nothing', async () => {
    assert.ok(fs.existsSync(DISPATCHER_JS), `compiled module missing: ${DISPATCHER_JS}`);
    const list = labList();
    const state = DsState.create(list);
    const dispatcher = new Dispatcher(list, state, { flags: 2 });
    const ctrl = new SharedArrayBuffer(16);
    const c = new Int32Array(ctrl);
    const watch = state.findUri(1, 'sip:127.0.0.24:5060');
    const loadIndex = state.indexOf(2, 3);
    const iterations = 50_000;
    const worker = new Worker(WORKER_SRC, { eval: true, workerData: { sab: state.buffer, ctrl, list, iterations, watch, loadIndex } });
    const done = new Promise<{ seen: string; rr: Record<string, number>; w: Record<string, number>; t0: number; t1: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => (code !== 0 ? reject(new Error(`worker exit ${code}`)) : undefined));
    });

    // 1. flip a flag once the worker is attached, then release it
    assert.equal(Atomics.wait(c, 0, 0, 10_000), 'ok');
    state.setState(watch, DS_INACTIVE_DST | DS_PROBING_DST);
    Atomics.store(c, 1, 1);
    Atomics.notify(c, 1);
    // 2. barrier, then run the same loop concurrently
    if (Atomics.load(c, 2) === 0) Atomics.wait(c, 2, 0, 10_000);
    Atomics.store(c, 3, 1);
    Atomics.notify(c, 3);
    const rr: Record<string, number> = {};
    const w: Record<string, number> = {};
    const t0 = Date.now();
    const input = { callId: 'm', fromUri: 'sip:a@b', toUri: 'sip:a@b', ruri: 'sip:a@b', isInvite: false };
    for (let k = 0; k < iterations; k++) {
      const a = port(dispatcher.select(2, 4, 0, input)!.du);
      rr[a] = (rr[a] ?? 0) + 1;
      const b = port(dispatcher.select(3, 9, 0, input)!.du);
      w[b] = (w[b] ?? 0) + 1;
      state.incLoad(loadIndex);
    }
    const t1 = Date.now();
    const res = await done;
    // the two loops really ran at the same time
    assert.ok(res.t0 <= t1 && t0 <= res.t1, `no overlap: main ${t0}..${t1}, worker ${res.t0}..${res.t1}`);

    assert.equal(res.seen, 'IP');
    const total = 2 * iterations;
    // every cursor position handed out exactly once per cycle: exact shares
    assert.deepEqual(merge(rr, res.rr), { '5074': total / 4, '5073': total / 4, '5072': total / 4, '5071': total / 4 });
    assert.deepEqual(merge(w, res.w), { '5077': (total * 70) / 100, '5076': (total * 20) / 100, '5075': (total * 10) / 100 });
    assert.equal(state.last(2), 0);
    assert.equal(state.wlast(3), 0);
    assert.equal(state.dload(loadIndex), total);
  });
});
