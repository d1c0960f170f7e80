// The edge topology's configuration and addressing (docs/deploy-cloudflare.md).
// One Worker script and one Durable Object namespace hold whole clusters: the
// member `id` of cluster `name` is the object named "<name>/<id>", created
// where its location hint says. Members never need a URL to reach each other
// (they call each other's stubs), but the core's Member carries one, so each
// gets a fixed address under the reserved `.invalid` domain (RFC 2606) that
// names the cluster and the member and can never be fetched by mistake.
import type { ConfigVars } from '../env';
import type { EdgeMemberObject } from './member-object';

export interface EdgeEnv extends Omit<ConfigVars, 'NODE_ID' | 'NODE_URL' | 'PEERS' | 'JOIN' | 'CLUSTER_SECRET'> {
  /** Every member of every cluster: the object "<cluster>/<member id>". */
  RAFT_MEMBER: DurableObjectNamespace<EdgeMemberObject>;
  /** The initial members of each cluster, "n1,n2,n3"; others join through the admin API. */
  EDGE_MEMBERS?: string;
  /** Location hints: positional ("wnam,enam,weur", one per EDGE_MEMBERS item) or per member ("n4=apac"). */
  EDGE_LOCATIONS?: string;
  /** The clusters this deployment serves, "main,tenant-a"; a request naming another is refused. */
  EDGE_CLUSTERS?: string;
  /** The cluster of requests without a /c/<cluster> prefix (default: the first of EDGE_CLUSTERS). */
  EDGE_DEFAULT_CLUSTER?: string;
  // EDGE_MEMBERS_<CLUSTER> and EDGE_LOCATIONS_<CLUSTER> (the name in upper case, "-" as "_")
  // override the two for one cluster, so clusters of different sizes share a deployment.
}

export interface ClusterLayout {
  members: string[];
  /** Member id -> location hint, for the members that have one. */
  locations: Map<string, DurableObjectLocationHint>;
}

export interface EdgeSettings {
  clusters: Map<string, ClusterLayout>;
  defaultCluster: string;
}

export type EdgeConfigResult = { ok: true; settings: EdgeSettings } | { ok: false; errors: string[] };

/** The regions Cloudflare accepts as a location hint (Durable Objects, "Data location"). */
export const locationHints = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'] as const;

/** A cluster name is one DNS label, so it fits the member address and a URL path segment as is. */
const clusterNamePattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** The node's own rule for member ids (node/config.ts, api/admin-routes.ts). */
const memberIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

export function isClusterName(name: string): boolean {
  return clusterNamePattern.test(name);
}

export function isMemberId(id: string): boolean {
  return memberIdPattern.test(id);
}

/** The object that is member `id` of cluster `cluster`. */
export function objectName(cluster: string, id: string): string {
  return `${cluster}/${id}`;
}

/** The inverse of objectName, or null for a name that is not a member's. */
export function parseObjectName(name: string): { cluster: string; id: string } | null {
  const slash = name.indexOf('/');
  if (slash < 0) return null;
  const cluster = name.slice(0, slash);
  const id = name.slice(slash + 1);
  return isClusterName(cluster) && isMemberId(id) ? { cluster, id } : null;
}

/** The member's address in the core's Member: unique per member, never fetched. */
export function memberUrl(cluster: string, id: string): string {
  return `http://edge.invalid/c/${cluster}/m/${encodeURIComponent(id)}`;
}

const cache = new WeakMap<object, EdgeConfigResult>();

/** Parsed once per isolate (vars do not change while it lives). */
export function edgeConfig(env: EdgeEnv): EdgeConfigResult {
  let found = cache.get(env.RAFT_MEMBER);
  if (found === undefined) {
    found = parseEdgeConfig(env);
    cache.set(env.RAFT_MEMBER, found);
  }
  return found;
}

export function parseEdgeConfig(env: Omit<EdgeEnv, 'RAFT_MEMBER'>): EdgeConfigResult {
  const errors: string[] = [];
  const vars = env as Record<string, unknown>;
  const names = list(env.EDGE_CLUSTERS);
  if (names.length === 0) names.push('main');
  const clusters = new Map<string, ClusterLayout>();
  for (const name of names) {
    if (!isClusterName(name)) {
      errors.push(`EDGE_CLUSTERS item "${name}" must be lowercase letters, digits and "-"`);
      continue;
    }
    const suffix = name.toUpperCase().replace(/-/g, '_');
    const own = (base: string): [string, string | undefined] => {
      const v = vars[`${base}_${suffix}`];
      return typeof v === 'string' ? [`${base}_${suffix}`, v] : [base, vars[base] as string | undefined];
    };
    clusters.set(name, parseLayout(own('EDGE_MEMBERS'), own('EDGE_LOCATIONS'), errors));
  }
  const defaultCluster = env.EDGE_DEFAULT_CLUSTER?.trim() || names[0]!;
  if (!names.includes(defaultCluster)) errors.push(`EDGE_DEFAULT_CLUSTER "${defaultCluster}" is not one of EDGE_CLUSTERS`);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, settings: { clusters, defaultCluster } };
}

function parseLayout(
  [membersVar, membersRaw]: [string, string | undefined],
  [hintsVar, hintsRaw]: [string, string | undefined],
  errors: string[],
): ClusterLayout {
  const members = list(membersRaw);
  if (members.length === 0) errors.push(`${membersVar} is required: the initial members of each cluster, like "n1,n2,n3"`);
  for (const id of members) if (!isMemberId(id)) errors.push(`${membersVar} item "${id}" must be 1-64 letters, digits, "_", "." or "-"`);
  if (new Set(members).size !== members.length) errors.push(`${membersVar} names a member twice`);
  const locations = new Map<string, DurableObjectLocationHint>();
  list(hintsRaw).forEach((item, i) => {
    const eq = item.indexOf('=');
    const id = eq < 0 ? members[i] : item.slice(0, eq).trim();
    const hint = (eq < 0 ? item : item.slice(eq + 1)).trim().toLowerCase();
    if (id === undefined) return void errors.push(`${hintsVar} has more positional items than ${membersVar} has members`);
    // A positional item's member was already reported if its id is bad.
    if (!isMemberId(id)) return eq < 0 ? undefined : void errors.push(`${hintsVar} item "${item}" names an invalid member id`);
    if (!(locationHints as readonly string[]).includes(hint)) {
      return void errors.push(`${hintsVar} item "${item}": the hint must be one of ${locationHints.join(', ')}`);
    }
    locations.set(id, hint as DurableObjectLocationHint);
  });
  return { members, locations };
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The stub of member `id` of `cluster`; its location hint takes effect when this call creates the object. */
export function memberStub(env: EdgeEnv, layout: ClusterLayout, cluster: string, id: string): DurableObjectStub<EdgeMemberObject> {
  const ns = env.RAFT_MEMBER;
  const hint = layout.locations.get(id);
  return ns.get(ns.idFromName(objectName(cluster, id)), hint === undefined ? undefined : { locationHint: hint });
}
