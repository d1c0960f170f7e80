// GET /status: what this node believes about itself and, on the leader, its
// peers. Served by any node without consulting the others, so it can be
// stale; it is for operators and tests, not for deciding who leads.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from './app-deps';

export function statusRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();
  r.get('/status', async (c) => c.json(await deps.node(c.env).status()));
  return r;
}
