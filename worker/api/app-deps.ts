// What the HTTP layer needs from its host, as functions of the Worker's
// bindings. The real entry (worker/front/index.ts) reaches the node's Durable
// Object; route tests hand in an in-memory NodeApi instead.
import type { Context } from 'hono';
import type { KeepAlive } from '../front/coalesce';
import type { NodeApi } from '../node-api';
import type { Logger } from '../raft/logger';

export interface AppDeps<B extends object> {
  /**
   * The node serving this request. Called per request, so it must be cheap (a
   * stub, not a connection). `keepAlive` extends the request's life past its
   * answer for work it does for other requests (worker/front/coalesce.ts).
   */
  node(env: B, keepAlive?: KeepAlive): NodeApi;
  /** The secret peers must present; the empty string means none is configured and peer traffic is refused. */
  clusterSecret(env: B): string;
  /**
   * The token the admin API (admin-routes.ts) wants as `Authorization: Bearer`;
   * absent or '' means the cluster secret.
   */
  adminToken?(env: B): string;
  /** Where refusals of peers and internal errors are logged. */
  logger(env: B): Logger;
}

/** The Hono environment of every route module. */
export interface AppEnv<B extends object> {
  Bindings: B;
}

/** The request's ExecutionContext.waitUntil, or undefined where there is none (route tests call the app without one). */
export function keepAliveOf(c: Context): KeepAlive | undefined {
  try {
    const ctx = c.executionCtx; // Hono throws when the app was called without one
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}
