/**
 * RFC 4475 torture messages (test/fixtures/rfc4475, byte-exact): valid ones
 * scan, invalid ones fail with the expected error when the fault is in what
 * the scanner reads. Both scanners, native and fallback.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { fallbackScanner, scanner } from '../../src/native';
import { PARSE_ERRORS, S, STRIDE } from '../../src/native/layout';

interface Expectation {
  file: string;
  valid: boolean;
  section: string;
  parserError: string | null;
  policyError?: string;
  rfcPermitsLenient?: boolean;
}

const dir = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rfc4475');
const { messages } = JSON.parse(readFileSync(path.join(dir, 'expectations.json'), 'utf8')) as { messages: Expectation[] };

describe('RFC 4475 torture messages', () => {
  it('has all 49 messages', () => assert.equal(messages.length, 49));
  for (const sc of [scanner, fallbackScanner]) {
    for (const e of messages) {
      const want = e.policyError ?? e.parserError ?? 'OK';
      it(`${sc.kind}: ${e.file} (§${e.section}) -> ${want}`, () => {
        const raw = readFileSync(path.join(dir, e.file));
        const out = new Uint32Array(STRIDE);
        const r = sc.parse(raw, 0, raw.length, out, 0);
        const got = PARSE_ERRORS[r < 0 ? -r : 0];
        assert.equal(got, want);
        if (r === 0) assert.ok(out[S.CALLID_LEN]! > 0);
      });
    }
  }
});
