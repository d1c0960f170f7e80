// POST /raft/messages: peer RPC; GET /raft/stream: the same over a WebSocket
// (adapters/peer-streams.ts). Order matters: refuse when no secret is
// configured, then authenticate, then validate; only then deliver. A refused
// request never reaches the node, and an unauthenticated one learns nothing
// about what a valid body looks like.
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './app-deps';
import type { PeerResponse } from './message-schemas';
import { readBodyText } from './body';
import { refuse } from './errors';
import { isPeerRequest, peerRequestSchema } from './message-schemas';
import { raftStreamPath } from '../adapters/peer-streams';
import { checkPeerAuth } from './peer-auth';
import { peerMessagesProblem } from './peer-checks';
import { describeIssues } from './schemas';

/**
 * Generous next to the core's per-message byte cap: entry data is JSON inside
 * JSON, so escaping can double it, and a batch carries envelopes too.
 */
export const MAX_PEER_BODY_BYTES = 16 * 1024 * 1024;

export function peerRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();

  /** Null when the request carries the cluster secret; otherwise the refusal to answer with. */
  const refusePeer = async (c: Context<AppEnv<B>>): Promise<Response | null> => {
    const secret = deps.clusterSecret(c.env);
    if (secret === '') {
      return refuse(c, {
        error: 'cluster_secret_not_configured',
        message: 'cluster secret not configured; this node refuses all peer traffic',
      });
    }
    const auth = await checkPeerAuth(c.req.header('Authorization') ?? null, secret);
    if (auth.ok) return null;
    deps.logger(c.env).log('warn', 'refused peer request', { reason: auth.reason });
    return refuse(c, { error: 'unauthorized', message: 'peer requests need Authorization: Bearer <cluster secret>' });
  };

  r.post('/raft/messages', async (c) => {
    const refused = await refusePeer(c);
    if (refused !== null) return refused;

    const body = await readBodyText(c.req.raw, MAX_PEER_BODY_BYTES);
    if (!body.ok) return refuse(c, body);
    let raw: unknown;
    try {
      raw = JSON.parse(body.value);
    } catch {
      return refuse(c, { error: 'bad_request', message: 'body is not valid JSON' });
    }
    if (!isPeerRequest(raw)) {
      const parsed = peerRequestSchema.safeParse(raw);
      const message = parsed.success ? 'messages are malformed' : describeIssues(parsed.error);
      deps.logger(c.env).log('warn', 'refused malformed peer messages', { issues: message });
      return refuse(c, { error: 'bad_request', message });
    }

    const problem = peerMessagesProblem(raw.messages);
    if (problem !== null) {
      // Well-formed but impossible from a correct peer: a bug there, refused before it reaches the node.
      deps.logger(c.env).log('error', 'refused inconsistent peer messages', { problem });
      return refuse(c, { error: 'bad_request', message: problem });
    }

    let replies: PeerResponse;
    try {
      replies = { messages: await deps.node(c.env).receive(raw.messages) };
    } catch (err) {
      // The node's own failure: logged here with its details, which are not the peer's business.
      deps.logger(c.env).log('error', 'peer messages not processed', { error: err instanceof Error ? err.message : String(err) });
      return refuse(c, { error: 'internal', message: 'the node could not process these messages; see its log' });
    }
    return c.json(replies);
  });

  // A peer's stream (adapters/peer-streams.ts): authenticated here, once; the node accepts the socket.
  r.get(raftStreamPath, async (c) => {
    const refused = await refusePeer(c);
    if (refused !== null) return refused;
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
      return refuse(c, { error: 'upgrade_required', message: `GET ${raftStreamPath} needs Upgrade: websocket` });
    }
    return deps.node(c.env).fetch(c.req.raw);
  });

  return r;
}
