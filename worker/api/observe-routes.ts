// What operators look at: GET /metrics (Prometheus text format 0.0.4),
// GET /dashboard (a self-contained live page), and the JSON it polls:
// /dashboard/cluster (every member, gathered by this node) and
// /dashboard/node (this node alone, for a peer's gathering). All read-only,
// like /status; nothing here changes the cluster.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from './app-deps';
import { prometheusContentType, renderPrometheus } from '../metrics/registry';
import { gatherCluster, nodeReport, nodeViewPath } from '../dashboard/gather';
import { dashboardHtml } from '../dashboard/page';

/** How long the gathering node waits for each peer; the page polls more often than this, so a slow peer never stalls it. */
const PEER_TIMEOUT_MS = 500;

export function observeRoutes<B extends object>(deps: AppDeps<B>, fetchFn: typeof fetch = (i, init) => fetch(i, init)): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();
  r.get('/metrics', async (c) => {
    const text = renderPrometheus(await deps.node(c.env).metrics());
    return c.body(text, 200, { 'Content-Type': prometheusContentType });
  });
  r.get('/dashboard', (c) => c.html(dashboardHtml, 200, { 'Cache-Control': 'no-store' }));
  r.get(nodeViewPath, async (c) => c.json(await nodeReport(deps.node(c.env))));
  r.get('/dashboard/cluster', async (c) => c.json(await gatherCluster(deps.node(c.env), fetchFn, PEER_TIMEOUT_MS, Date.now)));
  return r;
}
