/**
 * Loading: YAML text -> `--set` overrides -> ajv schema -> semantic checks ->
 * ResolvedConfig (camelCase, defaults filled, deep-frozen).
 *
 * Every problem is collected and reported at once (ConfigErrors), each as
 * `file:line: key.path: message`: ajv's instancePath is mapped back to the
 * YAML node (an unknown key points at the key's own line), problems in a
 * `--set` value are reported as `--set: key.path: message`. YAML syntax errors
 * stop there (nothing else can be trusted) but are all reported.
 *
 * Paths: a relative `dispatcher.list_file` or `route` module resolves against
 * the config file's directory (the current directory for the embedded default
 * or a config given as a string without baseDir).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { ConfigError, ConfigErrors } from '../errors';
import {
  loadDispatcherListSource,
  type DsList,
  type DsListSource,
  type DsParseOptions,
} from '../dispatcher/list-file';
import { parseAdvertise, parseCidr, parseDmqAddress, parseHttpListen, parseListen, type ListenSocket } from './address';
import { parseHtableSpec, type HtableSpec } from './htable';
import { CONFIG_SCHEMA, FORMATS, type ConfigInput, type DmqInput, type LogLevel } from './schema';
import {
  DEFAULTS,
  DEFAULT_CONFIG_NAME,
  DEFAULT_CONFIG_YAML,
  DMQ_DEFAULTS,
  type DsReplyCode,
  type ResolvedConfig,
  type ResolvedDmq,
  type RouteSpec,
} from './defaults';

export interface LoadConfigOptions {
  /** YAML config file; absent = the embedded default (DEFAULT_CONFIG_YAML). */
  readonly file?: string;
  /** `--set key.path=value` overrides, in command-line order (later wins). */
  readonly sets?: readonly string[];
}

export interface LoadConfigTextOptions {
  /** Name used in messages (default `<config>`). */
  readonly fileName?: string;
  /** Directory relative paths resolve against (default: process.cwd()). */
  readonly baseDir?: string;
  readonly sets?: readonly string[];
}

export interface CheckResult {
  /** No errors (warnings allowed). */
  readonly ok: boolean;
  readonly errors: readonly ConfigError[];
  /** `file:line: message` lines, e.g. dispatcher destinations that would be skipped. */
  readonly warnings: readonly string[];
  readonly config: ResolvedConfig | null;
  readonly dispatcherList: DsList | null;
}

type Seg = string;

interface Problem {
  readonly path: readonly Seg[];
  readonly message: string;
  /** Point at the key's line (unknown keys) rather than the value's. */
  readonly atKey?: boolean;
}

// ---------------------------------------------------------------------------
// Public API

/** Loads, validates and resolves the config. Throws ConfigErrors listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const r = evaluate(options);
  if (r.errors.length > 0 || r.config === null) throw new ConfigErrors(r.errors);
  return r.config;
}

/** Same as loadConfig over YAML text (tests, embedding). */
export function loadConfigText(text: string, options: LoadConfigTextOptions = {}): ResolvedConfig {
  const r = evaluateText(text, {
    fileName: options.fileName ?? '<config>',
    filePath: null,
    baseDir: options.baseDir ?? process.cwd(),
    sets: options.sets ?? [],
  });
  if (r.errors.length > 0 || r.config === null) throw new ConfigErrors(r.errors);
  return r.config;
}

/** The embedded default config, resolved. */
export function defaultConfig(): ResolvedConfig {
  return loadConfig({});
}

/**
 * `switchyard --check`: validates the config and then the dispatcher list it
 * names (bad line, unreadable file, and with ds_load_mode=1 bad destinations
 * are errors; skipped destinations are warnings). Never throws ConfigErrors.
 */
export function checkConfig(options: LoadConfigOptions = {}): CheckResult {
  const r = evaluate(options);
  if (r.errors.length > 0 || r.config === null) {
    return { ok: false, errors: r.errors, warnings: [], config: null, dispatcherList: null };
  }
  const config = r.config;
  try {
    const list = loadConfiguredDispatcherList(config);
    const warnings = list.warnings.map((w) => `${list.source}:${w.line}: ${w.message}`);
    return { ok: true, errors: [], warnings, config, dispatcherList: list };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, errors: [err], warnings: [], config, dispatcherList: null };
    throw err;
  }
}

/**
 * Loads the dispatcher list a config names, with its `ds_load_mode` and
 * `socket=` attrs checked against the config's listen sockets (`sockname`
 * never matches: the config has no socket names). Throws ConfigError.
 */
export function loadConfiguredDispatcherList(config: ResolvedConfig, options: DsParseOptions = {}): DsList {
  return loadDispatcherListSource(config.dispatcher.listSource, {
    loadMode: config.dispatcher.dsLoadMode,
    isLocalSocket: (s) => config.listen.some((l) => listenMatches(l, s)),
    hasSocketName: () => false,
    ...options,
  });
}

/** Formats a key path for messages: `dispatcher.ds_ping_interval`, `htable[0]`. */
export function formatKeyPath(path: readonly Seg[]): string {
  let out = '';
  for (const s of path) out += /^[0-9]+$/.test(s) ? `[${s}]` : out.length === 0 ? s : `.${s}`;
  return out;
}

/** Parses one `--set key.path=value` (value as YAML: `workers=0` is a number, empty = ''). */
export function parseSetArgument(arg: string): { path: Seg[]; value: unknown } | { error: string } {
  const eq = arg.indexOf('=');
  if (eq <= 0) return { error: `expected key.path=value, got "${arg}"` };
  const key = arg.slice(0, eq).trim();
  const path = key.split('.');
  if (path.some((s) => s.length === 0)) return { error: `bad key path "${key}"` };
  return { path, value: parseYamlValue(arg.slice(eq + 1)) };
}

// ---------------------------------------------------------------------------
// Evaluation

interface EvalContext {
  readonly fileName: string;
  readonly filePath: string | null;
  readonly baseDir: string;
  readonly sets: readonly string[];
}

function evaluate(options: LoadConfigOptions): { config: ResolvedConfig | null; errors: ConfigError[] } {
  const sets = options.sets ?? [];
  if (options.file === undefined) {
    return evaluateText(DEFAULT_CONFIG_YAML, { fileName: DEFAULT_CONFIG_NAME, filePath: null, baseDir: process.cwd(), sets });
  }
  const abs = resolve(options.file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { config: null, errors: [new ConfigError(options.file, undefined, undefined, `cannot read config file (${e.code ?? e.message})`)] };
  }
  return evaluateText(text, { fileName: options.file, filePath: abs, baseDir: dirname(abs), sets });
}

function evaluateText(text: string, ctx: EvalContext): { config: ResolvedConfig | null; errors: ConfigError[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.map(
      (e) => new ConfigError(ctx.fileName, e.linePos?.[0]?.line, undefined, `YAML syntax error: ${firstLine(e.message)}`),
    );
    return { config: null, errors };
  }

  const located: ConfigError[] = [];
  const overrides: Seg[][] = [];
  const locate = (p: Problem): ConfigError => locateProblem(p, doc.contents, lineCounter, overrides, ctx.fileName);

  let data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (data === null || data === undefined) data = {};
  if (!isPlainObject(data)) {
    return { config: null, errors: [new ConfigError(ctx.fileName, 1, undefined, 'the config must be a YAML mapping (key: value ...)')] };
  }

  for (const arg of ctx.sets) {
    const parsed = parseSetArgument(arg);
    if ('error' in parsed) {
      located.push(new ConfigError('--set', undefined, arg.split('=')[0] || arg, parsed.error));
      continue;
    }
    const err = applyOverride(data, parsed.path, parsed.value);
    if (err) {
      located.push(new ConfigError('--set', undefined, formatKeyPath(parsed.path), err));
      continue;
    }
    overrides.push(parsed.path);
  }

  const validate = getValidator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) located.push(locate(ajvProblem(e)));
  }
  // Checks inside values (htable strings, reply codes, cross-field): run even
  // when the schema failed elsewhere, so every problem is reported at once.
  for (const p of semanticProblems(data, ctx)) located.push(locate(p));
  if (located.length > 0) return { config: null, errors: sortErrors(dedupe(located)) };
  return { config: deepFreeze(resolveConfig(data as ConfigInput, ctx)), errors: [] };
}

// ---------------------------------------------------------------------------
// Semantic checks (defensive: the schema may have failed elsewhere)

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const section = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

function semanticProblems(data: Record<string, unknown>, ctx: EvalContext): Problem[] {
  const problems: Problem[] = [];
  const bad = (path: Seg[], message: string): void => {
    problems.push({ path, message });
  };

  // duplicate listen sockets
  if (Array.isArray(data['listen'])) {
    const seen = new Set<string>();
    data['listen'].forEach((s, i) => {
      const l = isStr(s) ? parseListen(s) : null;
      if (!l) return;
      const key = `${l.host}|${l.port}`;
      if (seen.has(key) && l.port !== 0) bad(['listen', String(i)], `duplicate listen address ${s}`);
      seen.add(key);
    });
  }

  // route module must exist
  const route = data['route'];
  if (isStr(route) && route.length > 0 && route !== 'sbc' && route !== 'router') {
    const path = resolve(ctx.baseDir, route);
    if (!existsSync(path)) bad(['route'], `must be sbc, router or a path to a route module: ${path} not found`);
  }

  // tm: T2 >= T1
  const tmIn = section(data['tm']);
  const t1 = isNum(tmIn['t1']) ? tmIn['t1'] : DEFAULTS.tm.t1;
  const t2 = isNum(tmIn['t2']) ? tmIn['t2'] : DEFAULTS.tm.t2;
  if (t2 < t1) bad(['tm', tmIn['t2'] !== undefined ? 't2' : 't1'], `t2 (${t2} ms) must not be less than t1 (${t1} ms)`);

  // dispatcher
  const dIn = section(data['dispatcher']);
  if (dIn['list'] !== undefined && dIn['list'] !== null && dIn['list_file'] !== undefined) {
    bad(['dispatcher', 'list'], 'list (inline dispatcher.list) and list_file are mutually exclusive');
  }
  if (isStr(dIn['ds_ping_reply_codes'])) {
    for (const m of parseReplyCodes(dIn['ds_ping_reply_codes']).problems) bad(['dispatcher', 'ds_ping_reply_codes'], m);
  }

  // htable definitions
  if (Array.isArray(data['htable'])) {
    const names = new Set<string>();
    data['htable'].forEach((spec, i) => {
      if (!isStr(spec)) return;
      const r = parseHtableSpec(spec);
      if (!r.ok) {
        for (const m of r.problems) bad(['htable', String(i)], m);
        return;
      }
      if (names.has(r.value.name)) bad(['htable', String(i)], `duplicate htable name "${r.value.name}"`);
      names.add(r.value.name);
    });
  }

  // dialog replication needs DMQ
  const dialogIn = section(data['dialog']);
  const dmqOn = data['dmq'] !== undefined && data['dmq'] !== null;
  if (dialogIn['enable_dmq'] === 1 && !dmqOn) bad(['dialog', 'enable_dmq'], '1 needs a dmq section (DMQ is off)');

  return problems;
}

// ---------------------------------------------------------------------------
// Resolution (schema and semantic checks passed: types and values are right)

function resolveConfig(input: ConfigInput, ctx: EvalContext): ResolvedConfig {
  const listenIn = input.listen ?? DEFAULTS.listen;
  const listen: ListenSocket[] = (typeof listenIn === 'string' ? [listenIn] : listenIn).map((s) => parseListen(s)!);

  const advertiseIn = input.advertise === undefined ? DEFAULTS.advertise : input.advertise;
  const advertise = advertiseIn === null ? null : parseAdvertise(advertiseIn);

  const routeIn = input.route ?? DEFAULTS.route;
  const route: RouteSpec =
    routeIn === 'sbc' || routeIn === 'router' ? { kind: 'builtin', name: routeIn } : { kind: 'module', path: resolve(ctx.baseDir, routeIn) };

  const sip = { ...DEFAULTS.sip, ...(input.sip ?? {}) };
  const tm = { ...DEFAULTS.tm, ...(input.tm ?? {}) };

  const d = { ...DEFAULTS.dispatcher, ...(input.dispatcher ?? {}) };
  let listSource: DsListSource;
  let listFile: string | null = null;
  if (d.list !== null) {
    listSource = { kind: 'inline', text: d.list, name: `${ctx.fileName}#dispatcher.list` };
  } else {
    listFile = resolve(ctx.baseDir, d.list_file);
    listSource = { kind: 'file', path: listFile };
  }

  const dialog = { ...DEFAULTS.dialog, ...(input.dialog ?? {}) };

  const htIn: readonly string[] = input.htable === undefined ? DEFAULTS.htable : input.htable ?? [];
  const htable: HtableSpec[] = htIn.map((spec) => {
    const r = parseHtableSpec(spec);
    if (!r.ok) throw new Error('unreachable: htable checked');
    return r.value;
  });

  let dmq: ResolvedDmq | null = null;
  if (input.dmq !== undefined && input.dmq !== null) {
    const q: Required<DmqInput> = { ...DMQ_DEFAULTS, ...input.dmq, allow: [...(input.dmq.allow ?? DMQ_DEFAULTS.allow)] };
    const notif = typeof q.notification_address === 'string' ? [q.notification_address] : q.notification_address;
    dmq = {
      serverAddress: parseDmqAddress(q.server_address)!,
      notificationAddresses: notif.map((s) => parseDmqAddress(s)!),
      multiNotify: q.multi_notify !== 0,
      numWorkers: q.num_workers,
      pingInterval: q.ping_interval,
      allow: q.allow.map((s) => parseCidr(s)!),
    };
  }

  const httpIn = input.http ?? {};
  const httpListen = httpIn.listen === undefined ? DEFAULTS.http.listen : httpIn.listen;

  return {
    file: ctx.filePath,
    listen,
    advertise,
    workers: input.workers ?? DEFAULTS.workers,
    route,
    logLevel: (input.log_level ?? DEFAULTS.log_level) as LogLevel,
    sip: { maxMessage: sip.max_message, maxHeaders: sip.max_headers, maxHeaderLine: sip.max_header_line },
    tm: { frTimer: tm.fr_timer, frInvTimer: tm.fr_inv_timer, t1: tm.t1, t2: tm.t2, t4: tm.t4 },
    dispatcher: {
      listSource,
      listFile,
      flags: d.flags,
      forceDst: d.force_dst !== 0,
      dsHashSize: d.ds_hash_size,
      dsPingInterval: d.ds_ping_interval,
      dsProbingMode: d.ds_probing_mode,
      dsProbingThreshold: d.ds_probing_threshold,
      dsInactiveThreshold: d.ds_inactive_threshold,
      dsPingMethod: d.ds_ping_method,
      dsPingFrom: d.ds_ping_from,
      dsPingTimeout: d.ds_ping_timeout,
      dsPingReplyCodes: parseReplyCodes(d.ds_ping_reply_codes).codes,
      xavpDst: d.xavp_dst,
      xavpCtx: d.xavp_ctx,
      useDefault: d.use_default !== 0,
      reloadDelta: d.reload_delta,
      dsHashExpire: d.ds_hash_expire,
      dsHashInitexpire: d.ds_hash_initexpire,
      dsHashCheckInterval: d.ds_hash_check_interval,
      dsLoadMode: d.ds_load_mode === 1 ? 1 : 0,
      xavpDstMode: d.xavp_dst_mode,
      xavpCtxMode: d.xavp_ctx_mode,
      set: d.set,
      alg: d.alg,
      limit: d.limit,
    },
    dialog: { enableDmq: dialog.enable_dmq !== 0, defaultTimeout: dialog.default_timeout },
    htable,
    dmq,
    http: {
      listen: httpListen === null ? null : parseHttpListen(httpListen),
      token: httpIn.token ?? DEFAULTS.http.token,
      maxBody: httpIn.max_body ?? DEFAULTS.http.max_body,
    },
    shutdownTimeout: input.shutdown_timeout ?? DEFAULTS.shutdown_timeout,
  };
}

/** `ds_ping_reply_codes`: `class=N` (1..6) / `code=NNN` (100..699) separated by ';'. */
export function parseReplyCodes(s: string): { codes: DsReplyCode[]; problems: string[] } {
  const codes: DsReplyCode[] = [];
  const problems: string[] = [];
  for (const raw of s.split(';')) {
    const part = raw.trim();
    if (part.length === 0) continue;
    const m = /^(class|code)\s*=\s*([0-9]+)$/i.exec(part);
    if (!m) {
      problems.push(`"${part}" is not class=N or code=NNN`);
      continue;
    }
    const kind = m[1]!.toLowerCase() as 'class' | 'code';
    const value = Number(m[2]);
    if (kind === 'code' && (value < 100 || value > 699)) problems.push(`code=${value} out of range 100..699`);
    else if (kind === 'class' && (value < 1 || value > 6)) problems.push(`class=${value} out of range 1..6`);
    else codes.push({ kind, value });
  }
  return { codes, problems };
}

function listenMatches(l: ListenSocket, s: { proto: string | null; host: string; port: number }): boolean {
  if (s.proto !== null && s.proto !== l.proto) return false;
  const port = s.port === 0 ? 5060 : s.port;
  if (port !== l.port) return false;
  return l.host === s.host || (l.family === 4 && l.host === '0.0.0.0') || (l.family === 6 && l.host === '::');
}

// ---------------------------------------------------------------------------
// --set

function parseYamlValue(text: string): unknown {
  if (text.length === 0) return '';
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return text;
  const v: unknown = doc.toJS();
  // `a: b` would be a block map: for --set that is a string, only {..} is a map.
  if (isPlainObject(v) && !/^\s*\{/.test(text)) return text;
  return v === undefined ? null : v;
}

/** Sets `path` in the plain data tree; returns an error message or null. */
function applyOverride(root: Record<string, unknown>, path: readonly Seg[], value: unknown): string | null {
  let cur: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (Array.isArray(cur)) {
      if (!/^[0-9]+$/.test(seg) || Number(seg) > cur.length) {
        return `${formatKeyPath(path.slice(0, i))} is a list: use an index 0..${cur.length}`;
      }
      const idx = Number(seg);
      if (last) {
        cur[idx] = value;
        return null;
      }
      let next = cur[idx];
      if (next === undefined || next === null) {
        next = {};
        cur[idx] = next;
      }
      if (typeof next !== 'object') return `${formatKeyPath(path.slice(0, i + 1))} is not a section`;
      cur = next as Record<string, unknown> | unknown[];
      continue;
    }
    if (last) {
      cur[seg] = value;
      // the inline list and list_file exclude each other: the override wins
      if (i === 1 && path[0] === 'dispatcher') {
        if (seg === 'list_file') delete cur['list'];
        if (seg === 'list') delete cur['list_file'];
      }
      return null;
    }
    let next = cur[seg];
    if (next === undefined || next === null) {
      next = {};
      cur[seg] = next;
    }
    if (typeof next !== 'object') return `${formatKeyPath(path.slice(0, i + 1))} is not a section (it is ${JSON.stringify(next)})`;
    cur = next as Record<string, unknown> | unknown[];
  }
  return null;
}

// ---------------------------------------------------------------------------
// ajv

let validator: ValidateFunction | null = null;

function getValidator(): ValidateFunction {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    for (const [name, [check]] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: check });
    validator = ajv.compile(CONFIG_SCHEMA as unknown as Record<string, unknown>);
  }
  return validator;
}

function pointerToPath(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function ajvProblem(e: ErrorObject): Problem {
  const path = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys(((e.parentSchema as Record<string, unknown> | undefined)?.['properties'] ?? {}) as object);
      const hint = suggest(key, known);
      return { path: [...path, key], message: hint ? `unknown key (did you mean "${hint}"?)` : 'unknown key', atKey: true };
    }
    case 'type': {
      const t = params['type'];
      const types = (Array.isArray(t) ? t : String(t).split(',')).map((x) => (x === 'object' ? 'a mapping' : x === 'array' ? 'a list' : x));
      return { path, message: `must be ${types.join(' or ')}` };
    }
    case 'enum':
      return { path, message: `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'format': {
      const f = FORMATS[String(params['format'])];
      return { path, message: f ? f[1] : (e.message ?? 'invalid') };
    }
    case 'minItems':
      return { path, message: params['limit'] === 1 ? 'must not be empty' : (e.message ?? 'too few items') };
    default:
      return { path, message: e.message ?? 'invalid' };
  }
}

/** Closest known key (typo, case, '-' for '_'), or null. */
function suggest(key: string, known: readonly string[]): string | null {
  const norm = key.toLowerCase().replace(/-/g, '_');
  let best: string | null = null;
  let bestD = 3;
  for (const k of known) {
    if (k === norm) return k;
    const dist = levenshtein(norm, k);
    if (dist < bestD) {
      bestD = dist;
      best = k;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

// ---------------------------------------------------------------------------
// Locating problems in the YAML document

interface NodeLike {
  range?: [number, number, number] | null;
}

function locateProblem(p: Problem, contents: unknown, lc: LineCounter, overrides: readonly Seg[][], fileName: string): ConfigError {
  const key = p.path.length > 0 ? formatKeyPath(p.path) : undefined;
  const isPrefix = (a: readonly Seg[], b: readonly Seg[]): boolean => a.length <= b.length && a.every((s, i) => s === b[i]);
  if (overrides.some((o) => isPrefix(o, p.path))) return new ConfigError('--set', undefined, key, p.message);

  const lineOf = (n: unknown): number | undefined => {
    const r = (n as NodeLike | null | undefined)?.range;
    return r ? lc.linePos(r[0]).line : undefined;
  };
  let cur: unknown = contents;
  let lastLine = lineOf(contents) ?? 1;
  for (let i = 0; i < p.path.length; i++) {
    const seg = p.path[i]!;
    const last = i === p.path.length - 1;
    if (isMap(cur)) {
      const pair = cur.items.find((it) => (isScalar(it.key) ? String(it.key.value) : String(it.key)) === seg);
      if (!pair) break;
      const keyLine = lineOf(pair.key) ?? lastLine;
      if (last && p.atKey) return new ConfigError(fileName, keyLine, key, p.message);
      // a null value (`tm:`) has no useful range: use the key's line
      lastLine = (pair.value !== null && lineOf(pair.value)) || keyLine;
      if (isScalar(pair.value) && pair.value.value === null) lastLine = keyLine;
      cur = pair.value;
    } else if (isSeq(cur)) {
      const item = cur.items[Number(seg)];
      if (item === undefined) break;
      lastLine = lineOf(item) ?? lastLine;
      cur = item;
    } else {
      break;
    }
    if (last) return new ConfigError(fileName, lastLine, key, p.message);
  }
  // not in the document: created by an override, or a default
  if (overrides.some((o) => isPrefix(p.path, o))) return new ConfigError('--set', undefined, key, p.message);
  return new ConfigError(fileName, lastLine, key, p.message);
}

// ---------------------------------------------------------------------------
// Utilities

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).replace(/ at line \d+, column \d+:?$/, '');
}

/** File problems in line order, then `--set` problems in argument order. */
function sortErrors(errors: ConfigError[]): ConfigError[] {
  const rank = (e: ConfigError): number => (e.file === '--set' ? Number.MAX_SAFE_INTEGER : (e.line ?? 0));
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i)
    .map((x) => x.e);
}

function dedupe(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors.filter((e) => (seen.has(e.message) ? false : (seen.add(e.message), true)));
}

/** Recursively freezes plain objects and arrays. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
