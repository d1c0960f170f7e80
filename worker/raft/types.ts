// Core value types of the Raft algorithm. Everything here is plain data:
// it crosses the wire as JSON and is persisted as rows.

/** A node's identity. Stable across restarts; unique in the cluster. */
export type NodeId = string;
export type Term = number;
/** Log positions start at 1; index 0 is the empty prefix (term 0). */
export type Index = number;

/** A cluster member: its id and the URL its peers and clients reach it at. */
export interface Member {
  id: NodeId;
  url: string;
}

/**
 * - `command`: an opaque, state-machine-defined command (the core never reads `data`).
 * - `noop`: appended by each new leader at the start of its term (§5.4.2, thesis §6.4).
 * - `config`: reserved for membership changes (next work); carries a serialized configuration.
 */
export type EntryKind = 'command' | 'noop' | 'config';

export interface Entry {
  index: Index;
  term: Term;
  kind: EntryKind;
  /** Opaque payload; empty for `noop`. */
  data: string;
}

/** State that must be durable before any message that depends on it is sent. */
export interface HardState {
  term: Term;
  /** Whom this node voted for in `term`, or null. */
  vote: NodeId | null;
  /** Highest index known committed. Persisting it is an optimisation, not a safety need. */
  commit: Index;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

/** Volatile facts about the node, exposed for status pages and redirects. */
export interface SoftState {
  role: Role;
  leader: Member | null;
}

export function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
