// The edge topology's Worker entry (wrangler.edge.toml): one script serving
// whole Raft clusters, each member a Durable Object of the RAFT_MEMBER
// namespace (member-object.ts). The front serves the same KV, admin, status
// and metrics routes as a multi-port node (worker/api/), for the cluster the
// path names:
//
//   /c/<cluster>/kv/<key>, /c/<cluster>/status, ...   cluster <cluster>
//   /kv/<key>, /status, ...                          EDGE_DEFAULT_CLUSTER
//
// so a client given the base URL http(s)://host/c/<cluster> works as against
// a node, without redirects (router.ts routes to the leader). Edge-only routes:
//
//   GET  [/c/<cluster>]/edge/members               every member's role, term and leader
//   POST [/c/<cluster>]/edge/members/<id>/reset    reset one member's object (ctx.abort),
//   POST [/c/<cluster>]/edge/leader/reset          or the leader's: failover drills; ADMIN_TOKEN
//
// No call sharing between requests here (COALESCE_REQUESTS is off in the
// members and this front routes each request on its own): shared calls no
// longer need a V8 flag (docs/turbofan-context.md), but none is built into
// the edge routing yet (docs/deploy-cloudflare.md).
import { createApp } from '../api/app';
import { checkPeerAuth } from '../api/peer-auth';
import { isLogLevel, jsonLogger, type Logger } from '../raft/logger';
import { edgeConfig, isMemberId, memberStub, memberUrl, type EdgeEnv, type EdgeSettings } from './edge-config';
import { EdgeClusterApi, LeaderCache, type ClusterDirectory, type MemberApi } from './router';

export { EdgeMemberObject } from './member-object';

/** The bindings the app sees: the Worker's, plus the cluster this request names. */
interface RequestEnv extends EdgeEnv {
  EDGE_CLUSTER_OF_REQUEST: string;
  EDGE_SETTINGS_OF_REQUEST: EdgeSettings;
}

/** Per isolate: what it knows of each cluster's leader. */
const caches = new Map<string, LeaderCache>();

function cacheOf(cluster: string): LeaderCache {
  let c = caches.get(cluster);
  if (c === undefined) caches.set(cluster, (c = new LeaderCache()));
  return c;
}

function clusterApi(env: EdgeEnv, settings: EdgeSettings, cluster: string): EdgeClusterApi {
  const layout = settings.clusters.get(cluster)!;
  const dir: ClusterDirectory = {
    cluster,
    initialMembers: layout.members,
    // RPC stubs wrap every result in a disposable proxy type; the values are the methods' own.
    stub: (id) => memberStub(env, layout, cluster, id) as unknown as MemberApi,
  };
  return new EdgeClusterApi(dir, cacheOf(cluster));
}

function loggerOf(env: EdgeEnv): Logger {
  const level = env.LOG_LEVEL !== undefined && isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info';
  return jsonLogger(level, { source: 'edge-front' }, (line) => console.log(line));
}

const app = createApp<RequestEnv>({
  node: (env) => clusterApi(env, env.EDGE_SETTINGS_OF_REQUEST, env.EDGE_CLUSTER_OF_REQUEST),
  // Members reach each other through stubs: the HTTP peer routes refuse everything here.
  clusterSecret: () => '',
  adminToken: (env) => env.ADMIN_TOKEN?.trim() ?? '',
  logger: loggerOf,
});

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  Response.json(body, { status, headers: { ...headers } });

/** `/c/<cluster>/rest` -> the cluster and `/rest`; any other path belongs to the default cluster. */
export function splitClusterPath(pathname: string, defaultCluster: string): { cluster: string; rest: string; prefixed: boolean } {
  if (!pathname.startsWith('/c/')) return { cluster: defaultCluster, rest: pathname, prefixed: false };
  const end = pathname.indexOf('/', 3);
  // Not decoded: cluster names are plain DNS labels, so an encoded name is one that does not exist.
  const cluster = end < 0 ? pathname.slice(3) : pathname.slice(3, end);
  return { cluster, rest: end < 0 ? '/' : pathname.slice(end), prefixed: true };
}

async function edgeRoute(request: Request, env: EdgeEnv, settings: EdgeSettings, cluster: string, rest: string): Promise<Response | null> {
  if (!rest.startsWith('/edge/')) return null;
  const api = clusterApi(env, settings, cluster);
  if (rest === '/edge/members') {
    if (request.method !== 'GET')
      return json({ error: 'method_not_allowed', message: `${request.method} is not allowed here; allowed: GET` }, 405, { Allow: 'GET' });
    return json(await membersReport(api, cluster, settings));
  }
  const reset = /^\/edge\/(?:members\/([^/]+)|leader)\/reset$/.exec(rest);
  if (reset !== null) {
    if (request.method !== 'POST')
      return json({ error: 'method_not_allowed', message: `${request.method} is not allowed here; allowed: POST` }, 405, { Allow: 'POST' });
    const refused = await refuseAdmin(request, env);
    if (refused !== null) return refused;
    let id = reset[1] ?? null;
    if (id !== null && (!isMemberId(id) || !api.members().includes(id)))
      return json({ error: 'not_found', message: `no member ${JSON.stringify(id)} in cluster ${cluster}` }, 404);
    if (id === null) {
      const status = await api.status();
      if (status.role !== 'leader') return json({ error: 'no_leader' }, 503, { 'Retry-After': '1' });
      id = status.id;
    }
    const before = await api.memberStatus(id);
    try {
      await memberStub(env, settings.clusters.get(cluster)!, cluster, id).reset('reset through the edge admin route');
    } catch {
      // Expected: the reset cuts the call that asked for it.
    }
    return json({ reset: id, role: before.role, term: before.term });
  }
  return json({ error: 'not_found_route', message: `no route for ${request.method} ${rest}` }, 404);
}

async function refuseAdmin(request: Request, env: EdgeEnv): Promise<Response | null> {
  const token = env.ADMIN_TOKEN?.trim() ?? '';
  if (token === '') {
    return json(
      { error: 'admin_token_not_configured', message: 'set ADMIN_TOKEN (wrangler secret put ADMIN_TOKEN) to use admin routes' },
      503,
    );
  }
  const auth = await checkPeerAuth(request.headers.get('Authorization'), token);
  if (auth.ok) return null;
  return json({ error: 'unauthorized', message: 'admin requests need Authorization: Bearer <ADMIN_TOKEN>' }, 401, {
    'WWW-Authenticate': 'Bearer',
  });
}

/** Each member's own view, asked in parallel; a member that does not answer within a second is reported as such. */
async function membersReport(api: EdgeClusterApi, cluster: string, settings: EdgeSettings): Promise<unknown> {
  const ids = api.members();
  const answers = await Promise.all(
    ids.map(async (id) => {
      try {
        const s = await withTimeout(api.memberStatus(id), 1000);
        return {
          id,
          location: settings.clusters.get(cluster)!.locations.get(id) ?? null,
          role: s.role,
          term: s.term,
          leader: s.leader?.id ?? null,
          commitIndex: s.commitIndex,
          lastLogIndex: s.lastLogIndex,
        };
      } catch (err) {
        return {
          id,
          location: settings.clusters.get(cluster)!.locations.get(id) ?? null,
          error: err instanceof Error ? err.message : String(err),
        };
      }
    }),
  );
  let leader: { id: string; term: number } | null = null;
  for (const a of answers) if ('role' in a && a.role === 'leader' && (leader === null || a.term > leader.term)) leader = a;
  return { cluster, leader: leader?.id ?? null, members: answers };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** In this topology a member's address is fixed by its name: fill it in, and refuse any other. */
async function memberAddBody(request: Request, cluster: string): Promise<Request | Response> {
  const text = await request.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Request(request, { body: text }); // the admin route reports the bad JSON
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return new Request(request, { body: text });
  const fields = body as Record<string, unknown>;
  if (typeof fields.id !== 'string') return new Request(request, { body: text });
  const address = memberUrl(cluster, fields.id);
  if (fields.url !== undefined && fields.url !== address) {
    return json(
      { error: 'bad_request', message: `in the edge topology a member's address is fixed by its name: omit "url" (or send ${address})` },
      400,
    );
  }
  return new Request(request, { body: JSON.stringify({ ...fields, url: address }) });
}

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: ExecutionContext): Promise<Response> {
    const parsed = edgeConfig(env);
    if (!parsed.ok) return json({ error: 'internal', message: `invalid edge configuration: ${parsed.errors.join('; ')}` }, 500);
    const settings = parsed.settings;
    const url = new URL(request.url);
    const { cluster, rest, prefixed } = splitClusterPath(url.pathname, settings.defaultCluster);
    if (!settings.clusters.has(cluster)) {
      const served = [...settings.clusters.keys()].join(', ');
      return json(
        { error: 'unknown_cluster', message: `this deployment serves the clusters ${served}; not ${JSON.stringify(cluster)}` },
        404,
      );
    }
    const own = await edgeRoute(request, env, settings, cluster, rest);
    if (own !== null) return own;
    let forwarded = request;
    if (prefixed) {
      url.pathname = rest;
      forwarded = new Request(url, request);
    }
    if (request.method === 'POST' && rest === '/cluster/members') {
      const rewritten = await memberAddBody(forwarded, cluster);
      if (rewritten instanceof Response) return rewritten;
      forwarded = rewritten;
    }
    const requestEnv: RequestEnv = { ...env, EDGE_CLUSTER_OF_REQUEST: cluster, EDGE_SETTINGS_OF_REQUEST: settings };
    return app.fetch(forwarded, requestEnv, ctx);
  },
} satisfies ExportedHandler<EdgeEnv>;
