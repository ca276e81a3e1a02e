/**
 * The built-in `sbc` route: the seed's SBC script.
 *
 *   request_route: Max-Forwards (tm), CANCEL/retransmissions (tm), in-dialog
 *     requests loose-routed (WITHINDLG), OPTIONS to us answered, initial
 *     INVITE/SUBSCRIBE record-routed, then DISPATCH.
 *   DISPATCH: ds_select_dst(set, alg, limit) from the config; nothing
 *     selectable -> 404 "No destination"; remember the candidates.
 *   RELAY: t_on_failure(MANAGE_FAILURE); t_relay() or 500 "Relay failed".
 *   MANAGE_FAILURE: canceled -> stop; on 500 or a local timeout with no
 *     reply, the next destination.
 *
 * This version relays to the set's destinations in index order (the
 * dispatcher algorithms plug in through selectDestinations()).
 */
import { type DsDestination } from '../dispatcher/list-file';
import { loadConfiguredDispatcherList } from '../config';
import { Method } from '../native/layout';
import { type FailureContext, type RequestContext, type RouteScript } from './api';
import { type RouteEnv } from './index';

interface DispatchVars {
  /** Remaining failover candidates ($xavp(_dsdst_) after the current one). */
  next: string[];
}

export function createSbcRoute(env: RouteEnv): RouteScript {
  const ds = env.config.dispatcher;
  const list = loadConfiguredDispatcherList(env.config);
  const set = list.sets.find((s) => s.id === ds.set);
  const uris = (set?.destinations ?? []).map((d: DsDestination) => d.uri);

  const relay = (ctx: RequestContext | FailureContext): boolean => {
    ctx.onFailure(manageFailure);
    return ctx.relay();
  };

  const manageFailure = (ctx: FailureContext): void => {
    if (ctx.isCanceled()) return;
    if (ctx.checkStatus('500') || (ctx.branchTimeout() && !ctx.branchReplied())) {
      const v = ctx.vars['ds'] as DispatchVars | undefined;
      const next = v?.next.shift();
      if (next !== undefined) {
        ctx.du = next;
        relay(ctx);
      }
    }
  };

  const dispatch = (ctx: RequestContext): void => {
    const limit = ds.limit > 0 ? ds.limit : uris.length;
    const picked = uris.slice(0, limit);
    if (picked.length === 0) {
      ctx.reply(404, 'No destination');
      return;
    }
    ctx.du = picked[0];
    ctx.vars['ds'] = { next: picked.slice(1) } satisfies DispatchVars;
    if (!relay(ctx)) ctx.reply(500, 'Relay failed');
  };

  return {
    name: 'sbc',
    request(ctx) {
      const m = ctx.msg.methodId;
      if (ctx.hasToTag()) {
        // WITHINDLG
        if (ctx.looseRoute()) {
          if (!relay(ctx) && m !== Method.ACK) ctx.reply(500, 'Relay failed');
          return;
        }
        if (m !== Method.ACK) ctx.reply(404, 'Not here');
        return;
      }
      if (m === Method.CANCEL || m === Method.ACK) return;
      if (m === Method.OPTIONS && ctx.isMyself(ctx.ruri) && !/^sips?:[^@;]+@/i.test(ctx.ruri)) {
        ctx.reply(200, 'OK');
        return;
      }
      if (m === Method.INVITE || m === Method.SUBSCRIBE) ctx.recordRoute();
      dispatch(ctx);
    },
  };
}
