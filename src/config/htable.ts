/**
 * Kamailio htable definitions: `modparam("htable", "htable", "NAME=>attr=value;...")`
 * (ht_api.c:ht_table_spec(); shared/spec/dialog-htable.md §3.1). Attribute
 * names are case-sensitive; an unknown attribute or a non-numeric value for a
 * numeric attribute aborts startup, as does a duplicate table name (checked by
 * the loader across the list).
 */

export interface HtableSpec {
  readonly name: string;
  /** `size` as written (default 4). */
  readonly size: number;
  /** Bucket count derived from size: 2^size for 2..31, 8 for size <= 1, 16384 above 31. */
  readonly buckets: number;
  /** `autoexpire`, seconds; 0 = items never expire. */
  readonly autoExpire: number;
  /** `updateexpire` (default 1): an update re-arms the expiry. */
  readonly updateExpire: boolean;
  /** `initval`: integer returned for missing keys, null when not set. */
  readonly initVal: number | null;
  /** `dmqreplicate` (default 0). */
  readonly dmqReplicate: boolean;
  /** Database attributes: accepted for compatibility, not used. */
  readonly dbTable: string | null;
  readonly dbMode: number;
  readonly cols: string | null;
  /** The definition string as written. */
  readonly spec: string;
}

const UINT_ATTRS = ['size', 'autoexpire', 'updateexpire', 'dmqreplicate', 'dbmode'] as const;
const STR_ATTRS = ['dbtable', 'cols', 'coldelim', 'colnull'] as const;
const KNOWN = new Set<string>([...UINT_ATTRS, ...STR_ATTRS, 'initval']);

/** Bucket count Kamailio allocates for a `size` value (dialog-htable.md §3.1, lab-verified). */
export function htableBuckets(size: number): number {
  if (size <= 1) return 8;
  if (size > 31) return 16384;
  return 2 ** size;
}

/**
 * Parses one definition. Returns the spec, or the list of problems found
 * (every problem in the string, not just the first).
 */
export function parseHtableSpec(spec: string): { ok: true; value: HtableSpec } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const arrow = spec.indexOf('=>');
  if (arrow < 0) return { ok: false, problems: ['must be NAME=>attr=value;... (missing "=>")'] };
  const name = spec.slice(0, arrow).trim();
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) problems.push(`invalid table name "${name}"`);

  const values = new Map<string, string>();
  const body = spec.slice(arrow + 2).trim();
  for (const part of body.split(';')) {
    const item = part.trim();
    if (item.length === 0) continue; // trailing ';' (and ';;') allowed
    const eq = item.indexOf('=');
    const attr = (eq >= 0 ? item.slice(0, eq) : item).trim();
    const value = eq >= 0 ? item.slice(eq + 1).trim() : '';
    if (!KNOWN.has(attr)) {
      problems.push(`unknown htable attribute "${attr}" (known: ${[...KNOWN].join(', ')})`);
      continue;
    }
    if ((UINT_ATTRS as readonly string[]).includes(attr) && !/^[0-9]+$/.test(value)) {
      problems.push(`${attr} must be a non-negative integer, got "${value}"`);
      continue;
    }
    if (attr === 'initval' && !/^[+-]?[0-9]+$/.test(value)) {
      problems.push(`initval must be an integer, got "${value}"`);
      continue;
    }
    values.set(attr, value);
  }
  if (problems.length > 0) return { ok: false, problems };

  const num = (k: string, d: number): number => (values.has(k) ? Number(values.get(k)) : d);
  const size = num('size', 4);
  const initRaw = values.get('initval');
  return {
    ok: true,
    value: {
      name,
      size,
      buckets: htableBuckets(size),
      autoExpire: num('autoexpire', 0),
      updateExpire: num('updateexpire', 1) !== 0,
      initVal: initRaw === undefined ? null : Number(initRaw) | 0,
      dmqReplicate: num('dmqreplicate', 0) !== 0,
      dbTable: values.get('dbtable') ?? null,
      dbMode: num('dbmode', 0),
      cols: values.get('cols') ?? null,
      spec,
    },
  };
}
