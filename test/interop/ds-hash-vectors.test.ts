/**
 * Kamailio 5.6.3 ds_get_hash() vectors (recorded from the `dispatcher.hash`
 * RPC in the ds-lab, shared/vectors/dispatcher/ds_get_hash_vectors.json)
 * against our dsHash(), callIdBucket() and the scanners' hash(). Needs no
 * Kamailio; runs in milliseconds.
 *
 * The vectors are committed as test/fixtures/kamailio/ds_get_hash_vectors.json
 * and must equal the vendored lab capture
 * test/fixtures/vectors/dispatcher/ds_get_hash_vectors.json.
 */
import { vector } from '../helpers/paths';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { callIdBucket, dsHash, fallbackScanner, scanner, type SipScanner } from '../../src/native';
import { BUCKETS } from '../../src/native/layout';

interface Vector {
  val1: string;
  val2: string | null;
  hashid: number;
  slot_mod7: number;
  python: number;
  match: boolean;
}

function repoRoot(): string {
  let d = __dirname;
  for (let i = 0; i < 8; i++) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj) && fs.existsSync(path.join(d, 'test', 'fixtures', 'kamailio'))) return d;
    d = path.dirname(d);
  }
  throw new Error(`cannot find the repository root (package.json + test/fixtures/kamailio) above ${__dirname}`);
}

const FIXTURE = path.join(repoRoot(), 'test', 'fixtures', 'kamailio', 'ds_get_hash_vectors.json');
const SHARED = vector('dispatcher', 'ds_get_hash_vectors.json');

const doc = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { vectors: Vector[] };
const vectors = doc.vectors;

const show = (v: Vector): string => `(${JSON.stringify(v.val1)}, ${JSON.stringify(v.val2)}) [${Buffer.from(v.val1).toString('hex')}${v.val2 == null ? '' : ' / ' + Buffer.from(v.val2).toString('hex')}]`;

/** Both strings in one buffer, at offsets that are not 0, to exercise off/off2. */
function scannerHash(sc: SipScanner, v: Vector): number {
  const a = Buffer.from(v.val1, 'utf8');
  const pad = Buffer.from('#pad#');
  if (v.val2 == null) {
    const buf = Buffer.concat([pad, a, pad]);
    return sc.hash(buf, pad.length, a.length);
  }
  const b = Buffer.from(v.val2, 'utf8');
  const buf = Buffer.concat([pad, a, pad, b, pad]);
  return sc.hash(buf, pad.length, a.length, pad.length * 2 + a.length, b.length);
}

describe('ds_get_hash vectors (Kamailio 5.6.3 dispatcher.hash)', () => {
  test('fixture copy is sane and equals the vendored lab vectors', () => {
    assert.ok(vectors.length >= 54, `expected >= 54 vectors, got ${vectors.length}`);
    for (const v of vectors) {
      assert.equal(typeof v.val1, 'string');
      assert.ok(v.val2 === null || typeof v.val2 === 'string');
      assert.ok(Number.isInteger(v.hashid) && v.hashid > 0 && v.hashid <= 0xffffffff, `bad hashid in ${show(v)}`);
      // the RPC also returned slot = hashid % 7
      assert.equal(v.slot_mod7, v.hashid % 7, `slot_mod7 of ${show(v)}`);
    }
    assert.ok(vectors.some((v) => v.val2 !== null), 'two-string vectors present');
    assert.ok(vectors.some((v) => /[^\x00-\x7f]/.test(v.val1)), 'non-ASCII vectors present');
    assert.deepEqual(JSON.parse(fs.readFileSync(SHARED, 'utf8')), doc, `${FIXTURE} differs from ${SHARED}`);
  });

  test('dsHash(val1, val2) === Kamailio hashid for every vector', () => {
    const bad: string[] = [];
    for (const v of vectors) {
      const ours = dsHash(v.val1, v.val2);
      if (ours !== v.hashid) bad.push(`${show(v)}: kamailio=${v.hashid} ours=${ours}`);
      // Uint8Array input gives the same value as the string
      const y = v.val2 == null ? null : Buffer.from(v.val2, 'utf8');
      assert.equal(dsHash(Buffer.from(v.val1, 'utf8'), y), ours, `bytes vs string for ${show(v)}`);
    }
    assert.deepEqual(bad, [], `${bad.length}/${vectors.length} mismatches:\n${bad.join('\n')}`);
  });

  test('spec examples (dispatcher.md §4.2)', () => {
    assert.equal(dsHash('a'), 109);
    assert.equal(dsHash('abc'), 7167810);
    assert.equal(dsHash('alice', 'server.com'), 1412806172);
  });

  test('callIdBucket(val1) for one-string vectors', () => {
    for (const v of vectors) {
      if (v.val2 !== null) continue;
      assert.deepEqual(callIdBucket(v.val1), { hash: v.hashid, bucket: v.hashid & (BUCKETS - 1) }, show(v));
    }
  });

  test(`scanner.hash (${scanner.kind}) and fallbackScanner.hash over byte ranges`, () => {
    const scanners: SipScanner[] = scanner === fallbackScanner ? [scanner] : [scanner, fallbackScanner];
    for (const sc of scanners) {
      const bad: string[] = [];
      for (const v of vectors) {
        const ours = scannerHash(sc, v);
        if (ours !== v.hashid) bad.push(`${show(v)}: kamailio=${v.hashid} ${sc.kind}=${ours}`);
      }
      assert.deepEqual(bad, [], `${sc.kind} scanner: ${bad.length} mismatches:\n${bad.join('\n')}`);
    }
  });
});
