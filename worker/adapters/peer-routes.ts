// PEER_ROUTES: where this node actually sends its peer traffic, when that is
// not the URL a member is known by in the configuration. A configuration
// entry carries one URL per member for every node, but a node behind a NAT,
// a tunnel, or a test's per-link proxy needs its own way to each peer. A route
// is `key=url`: the key is a member id or a member's configured URL. Keying by
// URL also covers members added later under ids nobody knew at start-up.
import type { Member, NodeId } from '../raft/types';

export interface PeerRoutes {
  byId: ReadonlyMap<NodeId, string>;
  byUrl: ReadonlyMap<string, string>;
}

export const noRoutes: PeerRoutes = { byId: new Map(), byUrl: new Map() };

/** "n2=http://10.0.0.2:8788,http://127.0.0.1:8789=http://127.0.0.1:19601"; errors name the bad item. */
export function parsePeerRoutes(text: string, errors: string[]): PeerRoutes {
  const byId = new Map<NodeId, string>();
  const byUrl = new Map<string, string>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    // Neither an id nor a member URL holds "=", so the first one ends the key.
    const eq = item.indexOf('=');
    const key = eq <= 0 ? '' : item.slice(0, eq).trim();
    const url = eq <= 0 ? '' : trimSlashes(item.slice(eq + 1).trim());
    if (key === '' || !isHttpUrl(url)) {
      errors.push(`PEER_ROUTES item "${item}" must look like id=http://host:port or http://member:port=http://host:port`);
      continue;
    }
    const table = key.includes('://') ? byUrl : byId;
    const k = key.includes('://') ? trimSlashes(key) : key;
    if (table.has(k)) {
      errors.push(`PEER_ROUTES names "${k}" twice`);
      continue;
    }
    table.set(k, url);
  }
  return { byId, byUrl };
}

/** The member as this node reaches it: a route for its id wins over one for its URL, which wins over the URL itself. */
export function routed(member: Member, routes: PeerRoutes): Member {
  const url = routes.byId.get(member.id) ?? routes.byUrl.get(member.url);
  return url === undefined ? member : { id: member.id, url };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
