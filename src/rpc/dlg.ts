/**
 * Kamailio's `dlg.*` listing RPCs over the shards' dialog tables: each shard
 * answers a query (src/dialog/rpc.ts) from its own thread, the answers are
 * merged in hash-table order (h_entry; a shard's own order inside an entry),
 * which is the order Kamailio walks its table in.
 *
 * - dlg.list / dlg.list_ctx: every dialog (Kamailio 5.6.3 prints no
 *   `context` member unless a module registers a context callback, none
 *   does here, so both are the same), an array, `[]` when there is none;
 * - dlg.dlg_list / dlg.dlg_list_ctx [callid [from_tag]]: the dialog of a
 *   Call-ID (and From-tag), a single object (the last match, as Kamailio's
 *   non-array reply keeps the last one added), `{}` when none matches or no
 *   Call-ID is given.
 */
import { type DlgRecord } from '../dialog/rpc';
import { type Dataplane } from '../transport/dataplane';
import { type RpcRegistry } from './registry';

export type DialogPlane = Pick<Dataplane, 'queryShards'>;

async function collect(dp: DialogPlane, query: string, params: unknown[] = []): Promise<DlgRecord[]> {
  const answers = (await dp.queryShards(query, params)) as DlgRecord[][];
  const all: DlgRecord[] = [];
  for (const a of answers) if (Array.isArray(a)) all.push(...a);
  // Array.prototype.sort is stable: shard order, then each shard's own order.
  return all.sort((x, y) => x.h_entry - y.h_entry);
}

export function registerDlgRpc(reg: RpcRegistry, dp: DialogPlane): void {
  for (const name of ['dlg.list', 'dlg.list_ctx']) {
    reg.register({ name, doc: 'List all dialogs', array: true, handler: () => collect(dp, 'dlg.list') });
  }
  for (const name of ['dlg.dlg_list', 'dlg.dlg_list_ctx']) {
    reg.register({
      name,
      doc: 'List the dialog of a Call-ID (params: callid [from_tag])',
      handler: async (p) => {
        const r = p.scan('.S');
        if (r.n < 1) return undefined;
        const t = p.scan('*.S');
        const found = await collect(dp, 'dlg.dlg_list', t.n === 1 ? [r.v[0], t.v[0]] : [r.v[0]]);
        return found.length > 0 ? found[found.length - 1] : undefined;
      },
    });
  }
}
