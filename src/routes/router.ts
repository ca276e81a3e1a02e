/**
 * The built-in `router` route: a record-routing stateful proxy. In-dialog
 * requests follow their Route set (loose routing); initial requests go to
 * their Request-URI. Keep-alive OPTIONS to us are answered 200.
 */
import { Method } from '../native/layout';
import { type RouteScript } from './api';
import { type RouteEnv } from './index';

export function createRouterRoute(_env: RouteEnv): RouteScript {
  return {
    name: 'router',
    request(ctx) {
      const msg = ctx.msg;
      const isAck = msg.methodId === Method.ACK;
      if (ctx.hasToTag()) {
        // In-dialog: follow the Route set; an ACK without one goes to its R-URI.
        if ((ctx.looseRoute() || isAck) && ctx.relay()) return;
        if (!isAck) ctx.reply(404, 'Not here');
        return;
      }
      if (msg.methodId === Method.CANCEL || msg.methodId === Method.ACK) return;
      if (msg.methodId === Method.OPTIONS && ctx.isMyself(ctx.ruri)) {
        ctx.reply(200, 'OK');
        return;
      }
      if (msg.methodId === Method.INVITE || msg.methodId === Method.SUBSCRIBE) ctx.recordRoute();
      if (!ctx.relay()) ctx.reply(500, 'Relay failed');
    },
  };
}
