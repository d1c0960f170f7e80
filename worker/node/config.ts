// Turns the node's configuration vars (all strings) into a checked RaftConfig
// plus the settings the Durable Object itself needs. A bad configuration is an
// expected outcome (a typo in a launcher), so it comes back as a list of
// readable errors, each naming the var that is wrong; the node then refuses
// every request with that list instead of running half-configured.
import { validateConfig } from '../raft/config';
import type { RaftConfig } from '../raft/config';
import type { LogLevel } from '../raft/logger';
import type { Member } from '../raft/types';
import type { ConfigVars } from '../env';
import { parsePeerRoutes, type PeerRoutes } from '../adapters/peer-routes';

export interface NodeSettings {
  /** Timeouts in here are already multiplied by the slowdown factor. */
  raft: RaftConfig;
  clusterSecret: string;
  /** The admin API's token (ADMIN_TOKEN); null: the cluster secret serves (api/admin-routes.ts). */
  adminToken: string | null;
  /**
   * JOIN: the URL of a member of the running cluster this node joins. The node
   * starts with no configuration (RaftConfig.join) and waits for one naming it.
   */
  join: string | null;
  /** PEER_ROUTES: URLs this node uses for some peers instead of the configured ones (adapters/peer-routes.ts). */
  peerRoutes: PeerRoutes;
  /** How long write() and read() wait before answering `timeout` (scaled). */
  requestTimeoutMs: number;
  /** How long one POST to a peer may take before it is abandoned (scaled). */
  peerRequestTimeoutMs: number;
  slowdown: number;
  logLevel: LogLevel;
  /** Whether concurrent requests of the Worker share calls into the node (worker/front/coalesce.ts). */
  coalesceRequests: boolean;
  /** Whether peer messages go over a WebSocket per peer when one opens (adapters/peer-streams.ts). */
  peerStreams: boolean;
  /** Compact the log after this many applied entries (§7). */
  snapshotEvery: number;
  /** Applied entries kept in the log at a compaction, so slightly slow followers catch up without a snapshot. */
  logRetain: number;
}

export type NodeConfigResult = { ok: true; settings: NodeSettings } | { ok: false; errors: string[] };

export const configDefaults = {
  ELECTION_TIMEOUT_MS: 400,
  HEARTBEAT_INTERVAL_MS: 80,
  REQUEST_TIMEOUT_MS: 3000,
  SLOWDOWN: 1,
  LOG_LEVEL: 'info',
  COALESCE_REQUESTS: 'off',
  PEER_STREAMS: 'on',
  SNAPSHOT_EVERY: 10_000,
  LOG_RETAIN: 5_000,
} as const;

export function parseNodeConfig(vars: ConfigVars): NodeConfigResult {
  const errors: string[] = [];
  const id = requiredText(vars, 'NODE_ID', errors);
  if (id !== null && /[=,\s]/.test(id)) errors.push(`NODE_ID "${id}" must not contain "=", "," or spaces`);
  const url = requiredText(vars, 'NODE_URL', errors);
  const secret = requiredText(vars, 'CLUSTER_SECRET', errors);
  const peers = parsePeers(vars.PEERS ?? '', errors);
  const adminToken = vars.ADMIN_TOKEN?.trim() || null;
  if (adminToken !== null && adminToken.length < 8) errors.push('ADMIN_TOKEN must be at least 8 characters when set');
  const join = parseJoin(vars.JOIN, errors);
  if (join !== null && peers.length > 0) errors.push('JOIN and PEERS exclude each other: a joining node learns its peers from the cluster');
  const peerRoutes = parsePeerRoutes(vars.PEER_ROUTES ?? '', errors);
  const numbersBefore = errors.length;
  const electionMs = positiveNumber(vars, 'ELECTION_TIMEOUT_MS', configDefaults.ELECTION_TIMEOUT_MS, errors);
  const heartbeatMs = positiveNumber(vars, 'HEARTBEAT_INTERVAL_MS', configDefaults.HEARTBEAT_INTERVAL_MS, errors);
  const requestMs = positiveNumber(vars, 'REQUEST_TIMEOUT_MS', configDefaults.REQUEST_TIMEOUT_MS, errors);
  const slowdown = positiveNumber(vars, 'SLOWDOWN', configDefaults.SLOWDOWN, errors);
  if (errors.length === numbersBefore && heartbeatMs * 2 > electionMs) {
    // The core checks this too, but in its own field names; say it in the vars' names.
    errors.push(`HEARTBEAT_INTERVAL_MS (${heartbeatMs}) must be at most half of ELECTION_TIMEOUT_MS (${electionMs})`);
  }
  const numbersOk = errors.length === numbersBefore;
  const logLevel = parseLogLevel(vars.LOG_LEVEL, errors);
  const coalesceRequests = parseOnOff(vars, 'COALESCE_REQUESTS', configDefaults.COALESCE_REQUESTS, errors);
  const peerStreams = parseOnOff(vars, 'PEER_STREAMS', configDefaults.PEER_STREAMS, errors);
  const snapshotEvery = wholeNumber(vars, 'SNAPSHOT_EVERY', configDefaults.SNAPSHOT_EVERY, 1, errors);
  const logRetain = wholeNumber(vars, 'LOG_RETAIN', configDefaults.LOG_RETAIN, 0, errors);

  // Check the members even when other vars are wrong, so one run reports everything.
  const self: Member | null = id !== null && url !== null ? { id, url: trimSlashes(url) } : null;
  const members = self ? [self, ...peers] : peers;
  errors.push(...sharedUrls(members));
  const first = members[0];
  if (first === undefined) return { ok: false, errors };
  const checked = validateConfig({
    self: first,
    peers: members.slice(1),
    // Defaults are known-good, so timings already reported add no second error.
    electionTimeoutMs: numbersOk ? electionMs * slowdown : configDefaults.ELECTION_TIMEOUT_MS,
    heartbeatIntervalMs: numbersOk ? heartbeatMs * slowdown : configDefaults.HEARTBEAT_INTERVAL_MS,
    join: join !== null,
  });
  if (!checked.ok) errors.push(...checked.errors.map((e) => `${e} (check NODE_ID, NODE_URL and PEERS)`));
  if (!checked.ok || errors.length || self === null || secret === null) return { ok: false, errors };
  return {
    ok: true,
    settings: {
      raft: checked.config,
      clusterSecret: secret,
      adminToken,
      join,
      peerRoutes,
      requestTimeoutMs: requestMs * slowdown,
      // A reply later than an election timeout is useless to the sender; give up on it.
      peerRequestTimeoutMs: electionMs * slowdown,
      slowdown,
      logLevel,
      coalesceRequests,
      peerStreams,
      snapshotEvery,
      logRetain,
    },
  };
}

/** One line for logs and error responses. */
export function describeConfigErrors(errors: string[]): string {
  return `invalid node configuration: ${errors.join('; ')}`;
}

/** PEERS is "id=url,id=url"; an empty or blank value means a single-node cluster. */
export function parsePeers(text: string, errors: string[]): Member[] {
  const peers: Member[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const id = eq < 0 ? '' : item.slice(0, eq).trim();
    const url = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (id === '' || url === '') {
      errors.push(`PEERS item "${item}" must look like id=http://host:port`);
      continue;
    }
    peers.push({ id, url: trimSlashes(url) });
  }
  return peers;
}

function requiredText(vars: ConfigVars, name: 'NODE_ID' | 'NODE_URL' | 'CLUSTER_SECRET', errors: string[]): string | null {
  const v = vars[name]?.trim() ?? '';
  if (v === '') {
    errors.push(`${name} is required and must not be empty`);
    return null;
  }
  return v;
}

type NumberVar = 'ELECTION_TIMEOUT_MS' | 'HEARTBEAT_INTERVAL_MS' | 'REQUEST_TIMEOUT_MS' | 'SLOWDOWN';

/** A whole number of at least `min` (entries, not milliseconds). */
function wholeNumber(vars: ConfigVars, name: 'SNAPSHOT_EVERY' | 'LOG_RETAIN', fallback: number, min: number, errors: string[]): number {
  const raw = vars[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < min) {
    errors.push(`${name} must be a whole number of at least ${min}, got "${raw}"`);
    return fallback;
  }
  return n;
}

function positiveNumber(vars: ConfigVars, name: NumberVar, fallback: number, errors: string[]): number {
  const raw = vars[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n <= 0) {
    errors.push(`${name} must be a positive number, got "${raw}"`);
    return fallback;
  }
  return n;
}

const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function parseLogLevel(raw: string | undefined, errors: string[]): LogLevel {
  const v = raw?.trim().toLowerCase() ?? '';
  if (v === '') return configDefaults.LOG_LEVEL;
  // An explicit list: raft/logger.ts isLogLevel() uses `in`, which also accepts "toString".
  const level = logLevels.find((l) => l === v);
  if (level !== undefined) return level;
  errors.push(`LOG_LEVEL must be one of debug, info, warn, error; got "${raw}"`);
  return configDefaults.LOG_LEVEL;
}

function parseOnOff(vars: ConfigVars, name: 'COALESCE_REQUESTS' | 'PEER_STREAMS', fallback: 'on' | 'off', errors: string[]): boolean {
  const v = vars[name]?.trim().toLowerCase() ?? '';
  if (v === 'on' || v === 'off') return v === 'on';
  if (v !== '') errors.push(`${name} must be "on" or "off", got "${vars[name]}"`);
  return fallback === 'on';
}

function parseJoin(raw: string | undefined, errors: string[]): string | null {
  const v = raw?.trim() ?? '';
  if (v === '') return null;
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return trimSlashes(v);
  } catch {
    // reported below
  }
  errors.push(`JOIN must be the http(s) URL of a cluster member, got "${raw}"`);
  return null;
}

/** Redirects append the request path to a member URL, so drop trailing slashes. */
function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}

function sharedUrls(members: Member[]): string[] {
  const seen = new Map<string, string>();
  const errors: string[] = [];
  for (const m of members) {
    const other = seen.get(m.url);
    if (other !== undefined) errors.push(`members "${other}" and "${m.id}" share the URL ${m.url}`);
    else seen.set(m.url, m.id);
  }
  return errors;
}
