// Benchmark route: the sbc route without the dispatcher and dialogs.
// Initial requests are record-routed and relayed to the first destination of
// the config's dispatcher set, in-dialog ones follow their Route set. What a
// SIPp run with it costs, next to `route: sbc`, is the dispatcher's price.
'use strict';
exports.createRoute = function createRoute(env) {
  const set = env.dispatcher.current.list.sets.find((s) => s.id === env.config.dispatcher.set);
  const du = set && set.destinations[0] ? set.destinations[0].uri : undefined;
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
      ctx.du = du;
      if (!ctx.relay()) ctx.reply(500, 'Relay failed');
    },
  };
};
