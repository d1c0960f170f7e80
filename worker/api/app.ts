// The Worker's HTTP app: the route modules plus the answers for everything
// they do not cover (unknown route 404, wrong method 405, thrown error 500),
// all as JSON. Built from `AppDeps` so tests can serve it from an in-memory node.
import { Hono } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { AppDeps, AppEnv } from './app-deps';
import { adminRoutes } from './admin-routes';
import { refuse } from './errors';
import { kvRoutes } from './kv-routes';
import { observeRoutes } from './observe-routes';
import { peerRoutes } from './peer-routes';
import { seedRoutes } from './seed-routes';
import { socketRoutes } from './socket-routes';
import { statusRoutes } from './status-routes';

export function createApp<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const app = new Hono<AppEnv<B>>();

  app.route('/', kvRoutes(deps));
  app.route('/', seedRoutes(deps));
  app.route('/', socketRoutes(deps));
  app.route('/', peerRoutes(deps));
  app.route('/', statusRoutes(deps));
  app.route('/', observeRoutes(deps));
  app.route('/', adminRoutes(deps));

  // Turns the 404 of a known path with an unregistered method into a 405 with Allow.
  // Registered after the routes, so a request a route answers never runs it (a
  // route's own 404, such as an absent key, stays a 404); only unmatched
  // requests reach it, on their way to notFound.
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allow) => refuse(c, { error: 'method_not_allowed', allow }),
    }),
  );

  app.notFound((c) => refuse(c, { error: 'not_found_route', message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }));

  // Bad input never gets here (routes refuse it with a 4xx); what does is a bug
  // or a failure of the node's Durable Object, and the client should know which.
  app.onError((err, c) => {
    // workerd reports a call into the Durable Object cut short (its caller went away, or the
    // object restarted) as a lost connection: transient, not a broken invariant. The outcome
    // of a write caught in it is unknown, so the answer stays a 500, never a definite failure.
    const transient = err instanceof Error && /network connection lost/i.test(err.message);
    deps.logger(c.env).log(transient ? 'warn' : 'error', 'request failed', {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err instanceof Error ? err.message : String(err),
    });
    return refuse(c, { error: 'internal', message: err instanceof Error ? err.message : 'internal error' });
  });

  return app;
}
