// Benchmark route: the sbc route without the dispatcher and dialogs.
// Initial requests are record-routed and relayed to one destination of the
// config's dispatcher set chosen by the Call-ID hash the scanner already
// computed (so the routers see the same traffic as with `route: sbc`, alg 0),
// in-dialog ones follow their Route set. What a SIPp run with it costs, next
// to `route: sbc`, is the price of ds_select_dst, the failover records,
// $dlg_var and dialog tracking.
'use strict';
exports.createRoute = function createRoute(env) {
  const set = env.dispatcher.current.list.sets.find((s) => s.id === env.config.dispatcher.set);
  const dus = set ? set.destinations.map((d) => d.uri) : [];
  const INVITE = 1, ACK = 2, CANCEL = 4;
  return {
    name: 'plain-relay',
    request(ctx) {
      const m = ctx.msg.methodId;
      if (ctx.hasToTag()) {
        if (ctx.looseRoute()) {
          ctx.relay();
          return;
        }
        if (m !== ACK) ctx.reply(404, 'Not here');
        return;
      }
      if (m === CANCEL || m === ACK) return;
      ctx.removeRoutes();
      if (m === INVITE) ctx.recordRoute();
      ctx.du = dus.length ? dus[ctx.msg.callIdHash % dus.length] : undefined;
      if (!ctx.relay()) ctx.reply(500, 'Relay failed');
    },
  };
};
