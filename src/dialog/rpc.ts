/**
 * Dialog queries a shard answers for the management plane (`dlg.list`,
 * `dlg.dlg_list`; src/rpc/dlg.ts asks every shard with Dataplane.queryShards).
 * Imported for its side effect by src/transport/shard.ts, so every shard
 * thread registers them.
 *
 * Records are plain objects in Kamailio 5.6.3's `dlg.list` member order
 * (dialog.c `internal_rpc_print_dlg()`, shared/spec/rpc.md §6,
 * vectors/dialog/*.txt):
 * - `ref`: 2 while the dialog has a running timer (table + timer reference,
 *   as Kamailio shows for live dialogs), 1 once it only lingers;
 * - `duration`: end_ts - start_ts when ended, else now - start_ts when
 *   started, else 0; `timeout`: absolute expiry, 0 when not running;
 * - `dflags`: Kamailio's bits as far as they mean something here: NEW (1),
 *   CHANGED (2, once confirmed), HASBYE (4), CHANGED_VARS (128, when it has
 *   variables), TM (512, always: dialogs are bound to transactions);
 *   `sflags`/`iflags` 0;
 * - `callee` fields are null until the dialog was confirmed (no callee leg
 *   yet, as Kamailio prints them);
 * - `socket`: the listen socket, `udp:IP:PORT`;
 * - `profiles`: [] (no dialog profiles); `variables`: most recently created
 *   first, one object per variable; [] once the dialog is deleted (Kamailio
 *   frees them at termination, dlg_list_after_bye.txt).
 */
import { type Shard, registerShardQuery } from '../transport/shard';
import { type Dialog, DlgState } from './dialog';

/** One dlg.list entry; `h_entry` first so shards' answers can be merged in table order. */
export type DlgRecord = Record<string, unknown> & { h_entry: number };

const DLG_FLAG_NEW = 1;
const DLG_FLAG_CHANGED = 2;
const DLG_FLAG_HASBYE = 4;
const DLG_FLAG_CHANGED_VARS = 128;
const DLG_FLAG_TM = 512;

export function dlgRecord(d: Dialog, socket: string, nowS = Math.floor(Date.now() / 1000)): DlgRecord {
  const confirmed = d.startTs > 0;
  let dflags = DLG_FLAG_NEW | DLG_FLAG_TM;
  if (confirmed) dflags |= DLG_FLAG_CHANGED;
  if (d.byeSeen) dflags |= DLG_FLAG_HASBYE;
  if (d.vars.size > 0) dflags |= DLG_FLAG_CHANGED_VARS;
  const leg = (side: Dialog['caller'], present: boolean): Record<string, unknown> =>
    present
      ? { tag: side.tag, contact: side.contact, cseq: side.cseq, route_set: side.routeSet, socket }
      : { tag: null, contact: null, cseq: null, route_set: null, socket: null };
  const variables: Record<string, string>[] = [];
  if (d.state !== DlgState.Deleted) {
    const entries = [...d.vars.entries()];
    for (let k = entries.length - 1; k >= 0; k--) variables.push({ [entries[k]![0]]: entries[k]![1] });
  }
  return {
    h_entry: d.hEntry,
    h_id: d.hId,
    ref: d.timeoutTs > 0 ? 2 : 1,
    'call-id': d.callId,
    from_uri: d.fromUri,
    to_uri: d.toUri,
    state: d.state,
    start_ts: d.startTs,
    init_ts: d.initTs,
    end_ts: d.endTs,
    duration: d.endTs ? d.endTs - d.startTs : d.startTs ? nowS - d.startTs : 0,
    timeout: d.timeoutTs,
    lifetime: d.lifetime,
    dflags,
    sflags: 0,
    iflags: 0,
    caller: leg(d.caller, true),
    callee: leg(d.callee, confirmed),
    profiles: [],
    variables,
  };
}

function socketOf(shard: Shard): string {
  const l = shard.tm.local;
  return `udp:${l.ip}:${l.port}`;
}

/** Kamailio's `match_downstream_dialog()`: Call-ID, and the From-tag when given. */
function matches(d: Dialog, callId: string, fromTag: string | undefined): boolean {
  return d.callId === callId && (fromTag === undefined || d.callerTag === fromTag);
}

function registerDialogQueries(): void {
  registerShardQuery('dlg.list', (shard) => {
    const socket = socketOf(shard);
    return shard.dialogs.list().map((d) => dlgRecord(d, socket));
  });

  registerShardQuery('dlg.dlg_list', (shard, params) => {
    const callId = String(params[0] ?? '');
    const fromTag = typeof params[1] === 'string' ? params[1] : undefined;
    const socket = socketOf(shard);
    return shard.dialogs
      .list()
      .filter((d) => matches(d, callId, fromTag))
      .map((d) => dlgRecord(d, socket));
  });
}

// shard.ts imports this module for its side effect. When that import runs
// before shard.ts has defined its query table (CommonJS cycle), finish the
// registration as soon as the module graph has loaded; no query can arrive
// before that.
try {
  registerDialogQueries();
} catch (err) {
  if (!(err instanceof ReferenceError)) throw err;
  queueMicrotask(registerDialogQueries);
}
