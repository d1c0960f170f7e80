// Knobs of the Raft core, with defaults and validation.
import type { Member, NodeId } from './types';

export interface RaftConfig {
  /** This node. */
  self: Member;
  /**
   * The other members (not including self): the first configuration, all
   * voters, used until the log or a snapshot holds one (thesis §4.1).
   */
  peers: Member[];
  /**
   * Joining a running cluster: start with no configuration at all, so never
   * campaign, and wait for a leader to send one that names this node.
   */
  join?: boolean;
  /** Election timeout base t: followers wait a random time in [t, 2t) (§5.2). */
  electionTimeoutMs: number;
  /** How often a leader sends heartbeats; must be well below electionTimeoutMs. */
  heartbeatIntervalMs: number;
  /** Largest number of entries in one AppendEntries. */
  maxEntriesPerMessage: number;
  /** Largest total payload (bytes of entry data) in one AppendEntries. */
  maxBytesPerMessage: number;
  /** AppendEntries with entries allowed in flight per follower (pipelining). */
  maxInflight: number;
  /** Pre-vote (thesis §9.6). */
  preVote: boolean;
  /** Check-quorum: a leader that hears from no majority for an election timeout steps down (thesis §6.2). */
  checkQuorum: boolean;
  /**
   * Applied entries whose payload (kind and data) stays in memory: at most this
   * many of the latest, and at most `payloadWindowBytes` of their data. Older
   * ones are read back from storage when a lagging follower needs them. Terms
   * stay in memory for the whole log.
   */
  payloadWindowEntries: number;
  payloadWindowBytes: number;
  /**
   * Largest number of committed entries (and bytes of their data) handed out
   * in one Ready, so replaying a long log never holds all of it at once. The
   * rest follow in later Readies (Ready.moreCommitted). At least one always goes.
   */
  maxCommittedEntriesPerReady: number;
  maxCommittedBytesPerReady: number;
}

export const defaultConfig = {
  electionTimeoutMs: 400,
  heartbeatIntervalMs: 80,
  maxEntriesPerMessage: 512,
  maxBytesPerMessage: 512 * 1024,
  maxInflight: 8,
  preVote: true,
  checkQuorum: true,
  payloadWindowEntries: 1024,
  payloadWindowBytes: 1024 * 1024,
  maxCommittedEntriesPerReady: 1024,
  maxCommittedBytesPerReady: 1024 * 1024,
} as const;

export type RaftConfigInput = Pick<RaftConfig, 'self' | 'peers'> & Partial<Omit<RaftConfig, 'self' | 'peers'>>;

export type ConfigResult = { ok: true; config: RaftConfig } | { ok: false; errors: string[] };

export function validateConfig(input: RaftConfigInput): ConfigResult {
  const config: RaftConfig = { ...defaultConfig, ...input };
  const errors: string[] = [];
  const ids = new Set<NodeId>();
  for (const m of [config.self, ...config.peers]) {
    if (!m.id) errors.push('a member has an empty id');
    if (ids.has(m.id)) errors.push(`duplicate member id "${m.id}"`);
    ids.add(m.id);
    if (!isHttpUrl(m.url)) errors.push(`member "${m.id}" has an invalid URL "${m.url}"`);
  }
  const positive: (keyof RaftConfig)[] = [
    'electionTimeoutMs',
    'heartbeatIntervalMs',
    'maxEntriesPerMessage',
    'maxBytesPerMessage',
    'maxInflight',
    'payloadWindowEntries',
    'payloadWindowBytes',
    'maxCommittedEntriesPerReady',
    'maxCommittedBytesPerReady',
  ];
  for (const k of positive) {
    const v = config[k];
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- v is whatever the caller passed; String() names any of it
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) errors.push(`${k} must be a positive number, got ${String(v)}`);
  }
  if (config.heartbeatIntervalMs * 2 > config.electionTimeoutMs) {
    errors.push(
      `heartbeatIntervalMs (${config.heartbeatIntervalMs}) must be at most half of electionTimeoutMs (${config.electionTimeoutMs})`,
    );
  }
  return errors.length ? { ok: false, errors } : { ok: true, config };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
