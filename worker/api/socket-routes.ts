// GET /v1/socket: a client socket (docs/client-sockets.md). The Worker only
// checks that this is an upgrade and hands it to the node's Durable Object,
// which accepts the socket itself; after that, frames never pass through the
// Worker. No authentication, as for the /kv routes it stands in for.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from './app-deps';
import { clientSocketPath } from './client-socket';
import { refuse } from './errors';

export function socketRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();
  r.get(clientSocketPath, (c) => {
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
      return refuse(c, { error: 'upgrade_required', message: `GET ${clientSocketPath} needs Upgrade: websocket` });
    }
    return deps.node(c.env).fetch(c.req.raw);
  });
  return r;
}
