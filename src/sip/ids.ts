/**
 * Identifiers on the wire: Via branches, To-tags, Call-IDs. A random base
 * per process/thread plus a counter (unique, cheap, not Math.random per id).
 */
import { randomBytes } from 'node:crypto';

/** RFC 3261 §8.1.1.7 magic cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';

const base = randomBytes(6).toString('hex');
let counter = 0;

/** A new RFC 3261 branch for one client transaction of ours: `z9hG4bKsy<base>.<n>`. */
export function newBranchBase(): string {
  counter = (counter + 1) >>> 0;
  return `${MAGIC_COOKIE}sy${base}.${counter.toString(36)}`;
}

/** tm-style To-tag for stateful local replies: 32 hex, '-', 8 hex (Kamailio's shape). */
const tmTagBase = randomBytes(16).toString('hex');
export function newTmToTag(): string {
  counter = (counter + 1) >>> 0;
  return `${tmTagBase}-${counter.toString(16).padStart(8, '0')}`;
}

/** sl-style To-tag for stateless replies: 32 hex, '.', 8 hex (Kamailio's shape). */
export function slToTag(hash: number): string {
  return `${tmTagBase}.${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/** Call-ID for requests we originate (OPTIONS probes, DMQ). */
export function newCallId(host: string): string {
  counter = (counter + 1) >>> 0;
  return `${base}-${process.pid}-${counter.toString(36)}@${host}`;
}

/** A short deterministic hex digest (FNV-1a) for stateless branches (RFC 3261 §16.11). */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
