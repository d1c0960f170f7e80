// One node's configuration as the launcher sees it, and its translation into
// the string vars the Worker reads (the same under Miniflare and wrangler dev).

export interface Member {
  id: string;
  url: string;
}

export interface NodeSettings {
  id: string;
  /** Interface to listen on. */
  host: string;
  port: number;
  /** Advertised URL (what peers and clients are told). */
  url: string;
  peers: Member[];
  /** Joining a running cluster through this member's URL (JOIN): no peers, no configuration until the leader sends one. */
  join?: string;
  /**
   * PEER_ROUTES: `key=url` pairs, key a member id or a member's configured URL;
   * this node sends its peer traffic for that member to `url` instead.
   */
  peerRoutes?: string;
  /** The admin API's token (ADMIN_TOKEN); the cluster secret when undefined. */
  adminToken?: string;
  secret: string;
  /** This node's own data folder (its Durable Object storage lives under it). */
  dataDir: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  requestTimeoutMs?: number;
  slowdown?: number;
  logLevel?: string;
  /** Peer messages over WebSockets (PEER_STREAMS); the node's default when undefined. */
  peerStreams?: boolean;
  /** V8 flags for the node's workerd (launcher/workerd-v8-flags.ts); default defaultV8Flags, [] for none. */
  v8Flags?: string[];
  /** Applied entries between log compactions (SNAPSHOT_EVERY); the node's default when undefined. */
  snapshotEvery?: number;
  /** Entries kept behind a compaction (LOG_RETAIN); the node's default when undefined. */
  logRetain?: number;
}

/** The ranges the launchers accept for --snapshot-every and --log-retain. */
export const snapshotEveryRange = [1, 1_000_000_000] as const;
export const logRetainRange = [0, 1_000_000_000] as const;

export const logLevels = ['debug', 'info', 'warn', 'error'] as const;

/** "n2=http://127.0.0.1:8788,n3=http://127.0.0.1:8789" */
export function formatPeers(peers: Member[]): string {
  return peers.map((p) => `${p.id}=${p.url}`).join(',');
}

/** Parses the PEERS format; throws an Error whose message says what is wrong. */
export function parsePeers(text: string): Member[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const peers: Member[] = [];
  for (const part of trimmed.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`peer "${part}" is not of the form id=url`);
    const id = part.slice(0, eq).trim();
    const url = part.slice(eq + 1).trim();
    if (!isHttpUrl(url)) throw new Error(`peer "${id}" has an invalid URL "${url}"`);
    if (peers.some((p) => p.id === id)) throw new Error(`peer id "${id}" appears twice`);
    const twin = peers.find((p) => p.url === stripSlash(url));
    if (twin) throw new Error(`peers "${twin.id}" and "${id}" share the URL ${url}`);
    peers.push({ id, url: stripSlash(url) });
  }
  return peers;
}

export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The Worker's configuration vars (all strings, as wrangler --var would pass them). */
export function nodeVars(s: NodeSettings): Record<string, string> {
  const vars: Record<string, string> = {
    NODE_ID: s.id,
    NODE_URL: s.url,
    PEERS: formatPeers(s.peers),
    CLUSTER_SECRET: s.secret,
  };
  if (s.join !== undefined) vars.JOIN = s.join;
  if (s.peerRoutes !== undefined) vars.PEER_ROUTES = s.peerRoutes;
  if (s.adminToken !== undefined) vars.ADMIN_TOKEN = s.adminToken;
  if (s.electionTimeoutMs !== undefined) vars.ELECTION_TIMEOUT_MS = String(s.electionTimeoutMs);
  if (s.heartbeatIntervalMs !== undefined) vars.HEARTBEAT_INTERVAL_MS = String(s.heartbeatIntervalMs);
  if (s.requestTimeoutMs !== undefined) vars.REQUEST_TIMEOUT_MS = String(s.requestTimeoutMs);
  if (s.slowdown !== undefined) vars.SLOWDOWN = String(s.slowdown);
  if (s.logLevel !== undefined) vars.LOG_LEVEL = s.logLevel;
  if (s.peerStreams !== undefined) vars.PEER_STREAMS = s.peerStreams ? 'on' : 'off';
  if (s.snapshotEvery !== undefined) vars.SNAPSHOT_EVERY = String(s.snapshotEvery);
  if (s.logRetain !== undefined) vars.LOG_RETAIN = String(s.logRetain);
  return vars;
}
