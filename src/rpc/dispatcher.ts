/**
 * Dispatcher management: Kamailio 5.6.3's `dispatcher.*` RPCs
 * (dispatcher.c `dispatcher_rpc_*`, `ds_rpc_print_set()`; shared/spec/rpc.md
 * §2-4) plus one extension, `dispatcher.write_list`.
 *
 * DispatcherControl owns what these share with SIGHUP: the reload rate limit
 * (`reload_delta`, whole seconds, refused while `last > now - reload_delta`,
 * the timestamp taken before the work, so a failed reload also starts a
 * window; 0 = no limit), the ping state of `dispatcher.ping_active`, and a
 * queue so two list swaps never interleave.
 *
 * - reload: re-reads the configured list (file or inline text); a list that
 *   does not parse (bad line, unreadable file, ds_load_mode=1 failures)
 *   answers 500 "Reload Failed" and the list in force stays.
 * - add/remove: rebuild from the list in force (sets in AVL post-order,
 *   destinations in index order, current state bits and call load carried
 *   over, cursors reset) plus/minus the entry, exactly like `ds_add_dst()` /
 *   `ds_remove_dst()` - including the bug-compatible reversal of
 *   equal-priority destinations on every rebuild (dispatcher.md §8,
 *   order_flip_on_add_remove.txt). With ds_load_mode=0 an address that does
 *   not parse is skipped and the answer is still Ok; `remove` compares URIs
 *   case-sensitively after the `sip:` fix-up. Lost at the next reload.
 * - write_list (extension): the full list text is parsed with the same
 *   parser and options as the configured file before anything is touched;
 *   then written to `dispatcher.list_file` atomically (temp file in the same
 *   directory, fsync, rename; the old file's mode kept) and loaded. Shares
 *   the rate limit (checked before writing, so the file and the memory never
 *   disagree because of it).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

import { type Logger } from 'pino';

import { loadConfiguredDispatcherList, type ResolvedConfig } from '../config';
import {
  DS_DISABLED_DST,
  DS_INACTIVE_DST,
  DS_PROBING_DST,
  DS_TRYING_DST,
  DsAvlTree,
  kamailioIndexOrder,
  type DsDestination,
  type DsLatency,
  type DsList,
  type DsSet,
  type DsState,
} from '../dispatcher';
import { ConfigError } from '../errors';
import { dsHash } from '../native';
import { type Dataplane } from '../transport/dataplane';
import { RpcFault, type RpcParams, type RpcRegistry } from './registry';

/** What DispatcherControl needs from the dataplane (Dataplane satisfies it). */
export type DispatcherPlane = Pick<Dataplane, 'dsState' | 'prober' | 'reloadDispatcher'>;

export interface DispatcherControlOptions {
  dp: DispatcherPlane;
  config: ResolvedConfig;
  log: Logger;
  /** `ds_ping_latency_stats`: add LATENCY to dispatcher.list (default off, as Kamailio). */
  latencyStats?: boolean;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** `dispatcher.list` print modes (`DS_RPC_PRINT_*`). */
export type DsListMode = 'normal' | 'short' | 'full';

export interface WriteListResult {
  FILE: string;
  NRSETS: number;
  DESTINATIONS: number;
  /** Destinations the parser skipped (ds_load_mode=0), `line: message`. */
  WARNINGS: string[];
}

/** Destination data carried into a rebuilt list (ds_add_dest_cb()). */
interface Carried {
  dest: DsDestination;
  dload: number;
  latency: DsLatency | null;
}

export class DispatcherControl {
  private readonly o: DispatcherControlOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  /** `*ds_rpc_reload_time`, unix seconds; 0 = never. */
  private lastReload = 0;
  /** `*ds_ping_active` (Kamailio initialises it to 1). */
  private pingState = 1;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(o: DispatcherControlOptions) {
    this.o = o;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    if (!o.dp.prober.active) this.pingState = 0;
  }

  private get state(): DsState {
    return this.o.dp.dsState;
  }

  /** Runs `work` after every swap queued before it. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The reload_delta check; takes the timestamp when allowed. */
  private rateLimit(): void {
    const delta = this.o.config.dispatcher.reloadDelta;
    const now = Math.floor(this.now() / 1000);
    if (this.lastReload !== 0 && this.lastReload > now - delta) throw new RpcFault(500, 'Ongoing reload');
    this.lastReload = now;
  }

  private logWarnings(list: DsList): void {
    for (const w of list.warnings) this.log.warn({ line: w.line, set: w.setId, uri: w.uri, kind: w.kind }, `${list.source}:${w.line}: ${w.message}`);
  }

  private async swap(list: DsList, carried?: Carried[]): Promise<void> {
    const done = this.o.dp.reloadDispatcher(list);
    if (carried) {
      // reloadDispatcher() installs the new state synchronously; re-apply the
      // call load (dload) add/remove carry over, before any new selection.
      const st = this.o.dp.dsState;
      const byDest = new Map(carried.map((c) => [c.dest, c]));
      for (let i = 0; i < st.size; i++) {
        const c = byDest.get(st.destination(i));
        if (!c) continue;
        for (let k = 0; k < c.dload; k++) st.incLoad(i);
        if (c.latency) st.setLatency(i, c.latency);
      }
    }
    await done;
  }

  /**
   * dispatcher.reload / SIGHUP. `rateLimited: false` (SIGHUP) skips the
   * reload_delta check and leaves its timestamp alone.
   */
  reload(opts: { rateLimited?: boolean; reason?: string } = {}): Promise<DsList> {
    if (opts.rateLimited !== false) this.rateLimit();
    return this.serial(async () => {
      let list: DsList;
      try {
        list = loadConfiguredDispatcherList(this.o.config);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        this.log.warn({ err: err.message, reason: opts.reason }, 'dispatcher reload failed, the list in force stays');
        throw new RpcFault(500, 'Reload Failed');
      }
      this.logWarnings(list);
      await this.swap(list);
      this.log.info({ source: list.source, sets: list.nrSets, destinations: list.destinations.length, reason: opts.reason }, 'dispatcher list reloaded');
      return list;
    });
  }

  /** Parses one destination like the list file (URI fix-up, attrs, socket checks). */
  private packDest(group: number, address: string, flags: number, priority: number, attrs: string): DsDestination | null {
    // Whitespace or '#' would cut the token: such an address cannot parse anyway.
    if (/[\s#\0]/.test(address) || /[\s\0]/.test(attrs)) return null;
    const text = `0 ${address} 0 0${attrs.length > 0 ? ` ${attrs}` : ''}\n`;
    let list: DsList;
    try {
      list = loadConfiguredDispatcherList({
        ...this.o.config,
        dispatcher: { ...this.o.config.dispatcher, listSource: { kind: 'inline', text, name: 'rpc' } },
      });
    } catch (err) {
      if (err instanceof ConfigError) return null;
      throw err;
    }
    const d = list.destinations[0];
    if (!d) return null;
    return Object.freeze({ ...d, setId: group, flags, priority });
  }

  /** The list in force re-inserted in ds_iter_set() order, minus `skip`, plus `extra`. */
  private rebuild(skip: (setId: number, uri: string) => boolean, extra: DsDestination | null): { list: DsList; carried: Carried[] } {
    const st = this.state;
    const tree = new DsAvlTree<{ id: number; inserted: DsDestination[] }>();
    const carried: Carried[] = [];
    const all: DsDestination[] = [];
    const insert = (d: DsDestination): void => {
      tree.insert(d.setId, () => ({ id: d.setId, inserted: [] })).inserted.push(d);
      all.push(d);
    };
    let i = 0;
    for (const set of st.list.sets) {
      for (const d of set.destinations) {
        const idx = i++;
        if (skip(set.id, d.uri)) continue;
        const copy = Object.freeze({ ...d, setId: set.id, flags: st.flags(idx) });
        const lat = st.latency(idx);
        carried.push({ dest: copy, dload: st.dload(idx), latency: lat.count > 0 ? lat : null });
        insert(copy);
      }
    }
    if (extra) insert(extra);
    const sets: DsSet[] = tree.postOrder().map((s) => Object.freeze({ id: s.id, destinations: Object.freeze(kamailioIndexOrder(s.inserted)) }));
    const byId = new Map<number, DsSet>();
    for (const s of sets) byId.set(s.id, s);
    const list: DsList = {
      source: st.list.source,
      sets: Object.freeze(sets),
      postOrder: Object.freeze(tree.postOrderIds()),
      byId,
      nrSets: tree.size,
      destinations: Object.freeze(all),
      warnings: Object.freeze([]),
    };
    return { list, carried };
  }

  /** dispatcher.add */
  add(group: number, address: string, flags: number, priority: number, attrs: string): Promise<void> {
    this.rateLimit();
    return this.serial(async () => {
      const dest = this.packDest(group, address, flags, priority, attrs);
      if (!dest && this.o.config.dispatcher.dsLoadMode === 1) throw new RpcFault(500, 'Adding dispatcher dst failed');
      if (!dest) this.log.warn({ set: group, uri: address }, 'dispatcher.add: unable to add destination (skipped)');
      const { list, carried } = this.rebuild(() => false, dest);
      await this.swap(list, carried);
      this.log.info({ set: group, uri: dest?.uri ?? address, added: dest !== null }, 'dispatcher.add');
    });
  }

  /** dispatcher.remove */
  remove(group: number, address: string): Promise<void> {
    this.rateLimit();
    return this.serial(async () => {
      const probe = this.packDest(group, address, 0, 0, '');
      if (!probe) throw new RpcFault(500, 'Removing dispatcher dst failed');
      const { list, carried } = this.rebuild((setId, uri) => setId === group && uri === probe.uri, null);
      await this.swap(list, carried);
      this.log.info({ set: group, uri: probe.uri }, 'dispatcher.remove');
    });
  }

  /** dispatcher.write_list (extension). */
  writeList(text: string): Promise<WriteListResult> {
    const file = this.o.config.dispatcher.listFile;
    if (file === null) throw new RpcFault(500, 'No list file (the dispatcher list is inline in the config)');
    let list: DsList;
    try {
      list = loadConfiguredDispatcherList({
        ...this.o.config,
        dispatcher: { ...this.o.config.dispatcher, listSource: { kind: 'inline', text, name: file } },
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new RpcFault(400, `Invalid dispatcher list: ${err.message}`);
    }
    this.rateLimit();
    return this.serial(async () => {
      await writeAtomically(file, text);
      this.logWarnings(list);
      await this.swap(list);
      this.log.info({ file, sets: list.nrSets, destinations: list.destinations.length }, 'dispatcher list written and reloaded');
      return {
        FILE: file,
        NRSETS: list.nrSets,
        DESTINATIONS: list.destinations.length,
        WARNINGS: list.warnings.map((w) => `${w.line}: ${w.message}`),
      };
    });
  }

  /** dispatcher.set_state / set_duid_state: `byDuid` matches the duid attr. */
  setState(stateText: string, group: number, address: string, byDuid: boolean): void {
    if (stateText.length === 0) throw new RpcFault(500, 'Invalid State Parameter');
    const c0 = stateText[0]!;
    const probing = stateText.length > 1 && (stateText[1] === 'P' || stateText[1] === 'p');
    let bits: number;
    if (c0 === '0' || c0 === 'I' || c0 === 'i') bits = DS_INACTIVE_DST | (probing ? DS_PROBING_DST : 0);
    else if (c0 === '1' || c0 === 'A' || c0 === 'a') bits = probing ? DS_PROBING_DST : 0;
    else if (c0 === '2' || c0 === 'D' || c0 === 'd') bits = DS_DISABLED_DST;
    else if (c0 === '3' || c0 === 'T' || c0 === 't') bits = DS_TRYING_DST | (probing ? DS_PROBING_DST : 0);
    else throw new RpcFault(500, 'Unknown State Value');

    const st = this.state;
    if (address === 'all') {
      // ds_reinit_state_all(): an unknown group is only logged.
      if (!st.setStateAll(group, bits)) this.log.warn({ set: group }, 'dispatcher.set_state: destination set not found');
      return;
    }
    let i = -1;
    if (byDuid) {
      const slot = st.setSlot(group);
      if (slot >= 0) {
        const base = st.slotBase(slot);
        const want = address.toLowerCase();
        for (let k = 0; k < st.slotSize(slot); k++) {
          const duid = st.destination(base + k).parsedAttrs.duid;
          if (duid !== null && duid.length === address.length && duid.toLowerCase() === want) {
            i = base + k;
            break;
          }
        }
      }
    } else {
      i = st.findUri(group, address);
    }
    if (i < 0) throw new RpcFault(500, 'State Update Failed');
    const ch = st.setState(i, bits);
    if (ch.flags !== ch.oldFlags) this.log.info({ set: group, uri: st.destination(i).uri, flags: st.letters(i) }, 'dispatcher destination state set');
  }

  /** dispatcher.ping_active: undefined or -1 = read. */
  pingActive(state?: number): Record<string, number> {
    if ((this.pingState !== 0) !== this.o.dp.prober.active) this.pingState = this.o.dp.prober.active ? 1 : 0;
    const old = this.pingState;
    if (state === undefined || state === -1) return { OldPingState: old };
    this.pingState = state;
    this.o.dp.prober.active = state !== 0;
    if ((old !== 0) !== (state !== 0)) this.log.info({ active: state !== 0 }, 'dispatcher keepalives switched');
    return { NewPingState: state, OldPingState: old };
  }

  /** dispatcher.list result (`ds_rpc_print_set()` over the AVL post-order). */
  list(mode: DsListMode): Record<string, unknown> {
    const st = this.state;
    const l = st.list;
    if (l.sets.length === 0) throw new RpcFault(500, 'No Destination Sets');
    const latency = this.o.latencyStats ?? false;
    const runtime = this.o.config.dispatcher.dsHashSize > 0;
    let i = 0;
    const records = l.sets.map((set) => ({
      SET: {
        ID: set.id,
        TARGETS: set.destinations.map((d) => {
          const idx = i++;
          const dest: Record<string, unknown> = { URI: d.uri, FLAGS: st.letters(idx), PRIORITY: d.priority };
          if (mode === 'full') {
            dest['HOST'] = d.host;
            dest['IPADDR'] = d.ip ?? '';
            dest['PORT'] = d.port;
            dest['PROTOID'] = d.proto;
            dest['DNSTIME_SEC'] = 0;
            dest['DNSTIME_USEC'] = 0;
          }
          if (mode !== 'short' && d.attrs.length > 0) {
            const a = d.parsedAttrs;
            dest['ATTRS'] = {
              BODY: d.attrs,
              DUID: a.duid,
              MAXLOAD: a.maxload,
              WEIGHT: a.weight,
              RWEIGHT: st.rweight(idx),
              SOCKET: a.socket,
              SOCKNAME: a.sockname,
              OBPROXY: a.obproxy,
            };
          }
          if (latency) {
            const s = st.latency(idx);
            dest['LATENCY'] = { AVG: s.average, STD: s.stdev, EST: s.estimate, MAX: Math.trunc(s.max), TIMEOUT: Math.trunc(s.timeout) };
          }
          if (runtime) dest['RUNTIME'] = { DLGLOAD: st.dload(idx) };
          return { DEST: dest };
        }),
      },
    }));
    return { NRSETS: l.nrSets, RECORDS: records };
  }
}

/** Writes `text` to `file` via a temp file in the same directory + fsync + rename. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = 0o644;
  try {
    mode = (await fsp.stat(file)).mode & 0o7777;
  } catch {
    /* new file */
  }
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', mode);
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.chmod(tmp, mode);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw new RpcFault(500, `Writing the list file failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const d = await fsp.open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    /* best effort: not every filesystem syncs directories */
  }
}

/** Registers Kamailio's dispatcher.* methods and dispatcher.write_list. */
export function registerDispatcherRpc(reg: RpcRegistry, ctl: DispatcherControl): void {
  reg.register({
    name: 'dispatcher.list',
    doc: 'Return the content of dispatcher sets (param: "short" or "full")',
    handler: (p) => {
      const r = p.scan('*S');
      let mode: DsListMode = 'normal';
      if (r.n === 1) {
        const s = String(r.v[0]).toLowerCase();
        if (s === 'short') mode = 'short';
        else if (s === 'full') mode = 'full';
      }
      return ctl.list(mode);
    },
  });
  reg.register({
    name: 'dispatcher.reload',
    doc: 'Reload dispatcher destination sets',
    handler: async () => {
      await ctl.reload({ reason: 'rpc' });
      return 'Ok. Dispatcher successfully reloaded.';
    },
  });
  const setState = (byDuid: boolean) => (p: RpcParams) => {
    const r = p.scan('.SdS');
    if (r.n < 3) throw new RpcFault(500, 'Invalid Parameters');
    ctl.setState(r.v[0] as string, r.v[1] as number, r.v[2] as string, byDuid);
    return 'Ok. Dispatcher state updated.';
  };
  reg.register({ name: 'dispatcher.set_state', doc: 'Set the state of a destination address', handler: setState(false) });
  reg.register({ name: 'dispatcher.set_duid_state', doc: 'Set the state of a destination by duid', handler: setState(true) });
  reg.register({
    name: 'dispatcher.ping_active',
    doc: 'Manage setting on/off the pinging (keepalive) of destinations',
    handler: (p) => {
      const r = p.scan('*d');
      return ctl.pingActive(r.n === 1 ? (r.v[0] as number) : undefined);
    },
  });
  reg.register({
    name: 'dispatcher.add',
    doc: 'Add a destination address in memory',
    handler: async (p) => {
      const r = p.scan('dS*dds');
      if (r.n < 2) throw new RpcFault(500, 'Invalid Parameters');
      const [group, address, flags = 0, priority = 0, attrs = ''] = r.v as [number, string, number?, number?, string?];
      await ctl.add(group, address, flags, priority, attrs);
      return 'Ok. Dispatcher destination added.';
    },
  });
  reg.register({
    name: 'dispatcher.remove',
    doc: 'Remove a destination address from memory',
    handler: async (p) => {
      const r = p.scan('dS');
      if (r.n < 2) throw new RpcFault(500, 'Invalid Parameters');
      await ctl.remove(r.v[0] as number, r.v[1] as string);
      return 'Ok. Dispatcher destination removed.';
    },
  });
  reg.register({
    name: 'dispatcher.hash',
    doc: 'Compute the hash of the values',
    handler: (p) => {
      const r = p.scan('dS*S');
      if (r.n < 2) throw new RpcFault(500, 'Invalid Parameters');
      const nslots = r.v[0] as number;
      const hashid = dsHash(r.v[1] as string, r.n === 3 ? (r.v[2] as string) : null);
      return { hashid, slot: nslots > 0 ? hashid % nslots : 0 };
    },
  });
  reg.register({
    name: 'dispatcher.write_list',
    doc: 'switchyard: validate, write (atomically) and load a new dispatcher.list (param: the whole file text)',
    handler: async (p) => {
      const raw = p.raw;
      if (raw.length !== 1 || typeof raw[0] !== 'string') throw new RpcFault(-32602, 'Invalid Parameters');
      return ctl.writeList(raw[0]);
    },
  });
}
