// The admin API: who is in the cluster, and changing that (thesis §4.1
// single-server changes, §3.10 leadership transfer; docs/membership.md).
//
//   GET    /cluster                       members, roles, leader (no token needed)
//   POST   /cluster/members               {"id","url","role"?} add (a learner by default)
//   POST   /cluster/members/:id/promote   learner -> voter
//   DELETE /cluster/members/:id           remove a voter or learner
//   POST   /cluster/leader                {"id"} hand leadership to that voter
//
// Changes need `Authorization: Bearer <token>` (ADMIN_TOKEN, else the cluster
// secret). Order as in peer-routes.ts: authenticate, then validate, then ask
// the node, so a refused request changes nothing. Only the leader can change
// the configuration; a follower answers 307 naming it, like the KV routes.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from './app-deps';
import type { AdminOutcome, MembershipChange } from '../node-api';
import { readBodyText } from './body';
import { outcomeRefusal, refuse } from './errors';
import { checkPeerAuth } from './peer-auth';
import { describeIssues, MAX_JSON_BODY_BYTES, type Parsed } from './schemas';
import { unreachable } from '../raft/types';

/** The shape GET /cluster answers. */
export interface ClusterView {
  leader: { id: string; url: string } | null;
  members: { id: string; url: string; role: 'voter' | 'learner'; matchIndex: number | null }[];
  configIndex: number;
}

// The same rule the node applies to NODE_ID (node/config.ts), so an id the API
// accepts is one a node can be started with.
const memberId = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." or "-"');

const memberUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without query or fragment');

const addBody = z.strictObject({ id: memberId, url: memberUrl, role: z.enum(['voter', 'learner']).optional() });
const transferBody = z.strictObject({ id: memberId });

export function adminRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();

  /** Null when the request carries the admin token; otherwise the refusal to answer with. */
  const refuseCaller = async (c: Context<AppEnv<B>>): Promise<Response | null> => {
    const token = deps.adminToken?.(c.env) || deps.clusterSecret(c.env);
    if (token === '') {
      return refuse(c, {
        error: 'cluster_secret_not_configured',
        message: 'neither ADMIN_TOKEN nor a cluster secret is configured; this node refuses admin requests',
      });
    }
    const auth = await checkPeerAuth(c.req.header('Authorization') ?? null, token);
    if (auth.ok) return null;
    deps.logger(c.env).log('warn', 'refused admin request', { reason: auth.reason, path: new URL(c.req.url).pathname });
    return refuse(c, {
      error: 'unauthorized',
      message: 'admin requests need Authorization: Bearer <ADMIN_TOKEN, or the cluster secret when none is set>',
    });
  };

  r.get('/cluster', async (c) => {
    const s = await deps.node(c.env).status();
    // Match indexes are the leader's knowledge; a follower sends the caller there.
    if (s.role !== 'leader' && s.leader !== null && s.leader.id !== s.id) return refuse(c, { error: 'not_leader', leader: s.leader });
    // A node outside its own configuration (removed, or still joining) cannot speak for the cluster.
    const inConfig = [...s.membership.voters, ...s.membership.learners].some((m) => m.id === s.id);
    if (!inConfig) return refuse(c, { error: 'no_leader' });
    const leading = s.role === 'leader';
    const matchOf = (id: string): number | null => {
      if (!leading) return null;
      if (id === s.id) return s.lastLogIndex;
      return s.peers.find((p) => p.id === id)?.matchIndex ?? null;
    };
    const view: ClusterView = {
      leader: leading ? { id: s.id, url: s.url } : null,
      members: [
        ...s.membership.voters.map((m) => ({ id: m.id, url: m.url, role: 'voter' as const, matchIndex: matchOf(m.id) })),
        ...s.membership.learners.map((m) => ({ id: m.id, url: m.url, role: 'learner' as const, matchIndex: matchOf(m.id) })),
      ],
      configIndex: s.configIndex,
    };
    return c.json(view);
  });

  r.post('/cluster/members', async (c) => {
    const refused = await refuseCaller(c);
    if (refused !== null) return refused;
    const body = await jsonBody(c.req.raw, addBody);
    if (!body.ok) return refuse(c, body);
    const role = body.value.role ?? 'learner';
    const member = { id: body.value.id, url: body.value.url.replace(/\/+$/, '') };
    return change(c, deps, { type: 'add', member, role }, (configIndex) => ({
      ok: true,
      id: member.id,
      url: member.url,
      role,
      configIndex,
    }));
  });

  r.post('/cluster/members/:id/promote', async (c) => {
    const refused = await refuseCaller(c);
    if (refused !== null) return refused;
    const id = pathId(c.req.param('id'));
    if (!id.ok) return refuse(c, id);
    return change(c, deps, { type: 'promote', id: id.value }, (configIndex) => ({ ok: true, id: id.value, role: 'voter', configIndex }));
  });

  r.delete('/cluster/members/:id', async (c) => {
    const refused = await refuseCaller(c);
    if (refused !== null) return refused;
    const id = pathId(c.req.param('id'));
    if (!id.ok) return refuse(c, id);
    return change(c, deps, { type: 'remove', id: id.value }, (configIndex) => ({ ok: true, id: id.value, configIndex }));
  });

  r.post('/cluster/leader', async (c) => {
    const refused = await refuseCaller(c);
    if (refused !== null) return refused;
    const body = await jsonBody(c.req.raw, transferBody);
    if (!body.ok) return refuse(c, body);
    const outcome = await deps.node(c.env).transferLeadership(body.value.id);
    return answer(c, outcome, () => ({ ok: true, leader: body.value.id }));
  });

  return r;
}

async function change<B extends object>(
  c: Context<AppEnv<B>>,
  deps: AppDeps<B>,
  req: MembershipChange,
  done: (configIndex: number | null) => object,
): Promise<Response> {
  const outcome = await deps.node(c.env).changeMembership(req);
  return answer(c, outcome, done);
}

function answer(c: Context, outcome: AdminOutcome, done: (configIndex: number | null) => object): Response {
  switch (outcome.type) {
    case 'ok':
      return c.json(done(outcome.configIndex));
    case 'rejected':
      return refuse(c, { error: 'membership_refused', message: outcome.reason });
    case 'notLeader':
    case 'timeout':
      return refuse(c, outcomeRefusal(outcome));
    default:
      return unreachable(outcome);
  }
}

async function jsonBody<T>(req: Request, schema: z.ZodType<T>): Promise<Parsed<T>> {
  const text = await readBodyText(req, MAX_JSON_BODY_BYTES);
  if (!text.ok) return text;
  let raw: unknown;
  try {
    raw = JSON.parse(text.value);
  } catch {
    return { ok: false, error: 'bad_request', message: 'body is not valid JSON' };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: 'bad_request', message: describeIssues(parsed.error) };
}

function pathId(raw: string): Parsed<string> {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return { ok: false, error: 'bad_request', message: 'member id: malformed percent-encoding' };
  }
  const parsed = memberId.safeParse(id);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, error: 'bad_request', message: `member id: ${describeIssues(parsed.error)}` };
}
