/**
 * The built-in `sbc` route: the seed's SBC script (shared/seed, and the
 * runnable Kamailio equivalent shared/anchors/kamailio-sbc.cfg).
 *
 *   request_route
 *     Max-Forwards, CANCEL and retransmissions: handled by tm before this.
 *     WITHINDLG: a request with a To-tag follows its Route set
 *       (loose_route + dlg_manage, failure route armed, relayed); an ACK
 *       without a Route is dropped; anything else gets 404 "Not here".
 *     initial requests: Route headers removed; OPTIONS to us answered 200;
 *       INVITE/SUBSCRIBE record-routed; INVITE dialogs managed; DISPATCH.
 *   DISPATCH
 *     ds_select_dst(set, alg, limit) or 404 "No destination"; with two
 *     candidates or more, $dlg_var(du_primary) / $dlg_var(du_secondary).
 *   RELAY
 *     t_on_failure(MANAGE_FAILURE); t_relay() or 500 "Relay failed".
 *   failure_route MANAGE_FAILURE
 *     canceled: stop. On 500, or a local timeout with no reply:
 *     ds_next_dst() (initial requests), else the dialog's du_secondary, once.
 *
 * `set`, `alg` and `limit` come from the config's dispatcher section.
 */
import { dsNextDst, dsSelectDst, xavpCtxCnt, xavpDst } from '../dispatcher/route-api';
import { Method } from '../native/layout';
import { type FailureContext, type RequestContext, type RouteScript } from './api';
import { type RouteEnv } from './index';

export function createSbcRoute(env: RouteEnv): RouteScript {
  const { set, alg, limit } = env.config.dispatcher;
  const ds = env.dispatcher;
  const dlg = env.dialogs;

  const relay = (ctx: RequestContext | FailureContext): boolean => {
    ctx.onFailure(manageFailure);
    return ctx.relay();
  };

  const manageFailure = (ctx: FailureContext): void => {
    if (ctx.isCanceled()) return;
    if (ctx.checkStatus('500') || (ctx.branchTimeout() && !ctx.branchReplied())) {
      // failure of the first message of the dialog
      if (dsNextDst(ds, ctx)) {
        relay(ctx);
        return;
      }
      // failure of an in-dialog message: the secondary router, once
      const secondary = dlg.getVar(ctx.vars, 'du_secondary', ctx.request);
      if (secondary) {
        ctx.du = secondary;
        dlg.setVar(ctx.vars, 'du_secondary', '', ctx.request);
        relay(ctx);
      }
    }
  };

  const dispatch = (ctx: RequestContext): void => {
    if (!dsSelectDst(ds, ctx, set, alg, limit)) {
      ctx.reply(404, 'No destination');
      return;
    }
    if ((xavpCtxCnt(ctx.vars) ?? 0) >= 2) {
      const recs = xavpDst(ctx.vars);
      dlg.setVar(ctx.vars, 'du_primary', recs[0]!.uri);
      dlg.setVar(ctx.vars, 'du_secondary', recs[1]!.uri);
    }
    if (!relay(ctx)) ctx.reply(500, 'Relay failed');
  };

  return {
    name: 'sbc',
    request(ctx) {
      const m = ctx.msg.methodId;
      if (ctx.hasToTag()) {
        // WITHINDLG
        if (ctx.looseRoute()) {
          dlg.manage(ctx);
          if (m === Method.ACK) ctx.relay();
          else if (!relay(ctx)) ctx.reply(500, 'Relay failed');
          return;
        }
        if (m !== Method.ACK) ctx.reply(404, 'Not here');
        return;
      }
      if (m === Method.CANCEL || m === Method.ACK) return;
      ctx.removeRoutes();
      if (m === Method.OPTIONS && ctx.isMyself(ctx.ruri) && !/^sips?:[^@;?]+@/i.test(ctx.ruri)) {
        ctx.reply(200, 'OK');
        return;
      }
      if (m === Method.INVITE || m === Method.SUBSCRIBE) ctx.recordRoute();
      if (m === Method.INVITE) dlg.manage(ctx);
      dispatch(ctx);
    },
  };
}
