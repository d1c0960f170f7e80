// The public types of the raft-kv client library: options, per-request
// options and the tagged results. Expected outcomes (not found, cas mismatch,
// timeout, no leader) are results, never exceptions; the library throws only
// for bad arguments and bugs.
// The /status types come from the node itself (type-only imports: nothing of
// worker/ is bundled into the library).
import type { StatusReport } from '../worker/node-api';
import type { PeerStatus } from '../worker/raft/node';
import type { Member, Role } from '../worker/raft/types';
import type { WebSocketConstructor } from './client-socket';

export type { Role };

export interface RaftKvClientOptions {
  /** Node base URLs (`http://127.0.0.1:8787`); a bare port means 127.0.0.1:PORT. At least one. */
  nodes: string[];
  /**
   * A session registered earlier (`session-<n>`, as POST /sessions answers,
   * e.g. by a previous run of the program) to continue, with `firstSerial`.
   * Default: none; the client registers a session before its first write
   * (docs/sessions.md). Either way, after `session_expired` it registers anew.
   */
  clientId?: string;
  /** Total deadline of one operation, all retries included. Default 10000. */
  timeoutMs?: number;
  /** Deadline of one HTTP attempt. Default max(1000, timeoutMs / 3), never past the total deadline. */
  attemptTimeoutMs?: number;
  /**
   * How many times a failed attempt (connection error, no leader, timeout) is
   * retried. Default: unlimited within `timeoutMs`. Following a redirect to
   * the leader is not a retry.
   */
  retries?: number;
  /** The first `Request-Serial` in the given `clientId` session. Default 1. Sessions the client registers count from 1. */
  firstSerial?: number;
  /** Exponential backoff between failed attempts: `initialMs` doubling up to `maxMs`, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Injected `fetch` (tests, service bindings). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Random source in [0, 1) for backoff jitter. Default `Math.random`. */
  random?: () => number;
  /**
   * Sent as `Authorization: Bearer` on membership changes and transfers: the
   * cluster's ADMIN_TOKEN, or its cluster secret when it has none. Without it
   * those calls fail with `unauthorized`; `members()` needs none.
   */
  adminToken?: string;
  /**
   * Send key-value requests (get, set, delete, cas, session registration) as
   * frames on one WebSocket per node into the node itself (GET /v1/socket,
   * docs/client-sockets.md) instead of one HTTP request each. `true` uses the
   * platform's WebSocket; `{ webSocket }` a given constructor (Node 20 has
   * none: pass the \`ws\` package's). When a node refuses the socket the
   * client uses HTTP and tries the socket again after `retryAfterMs`
   * (default 30000). Default: off. Call `close()` when done.
   */
  socket?: boolean | { webSocket?: WebSocketConstructor; retryAfterMs?: number };
  /** Told about transport changes (a socket refused, HTTP used instead, the socket tried again). Default: nothing. */
  debug?: (message: string) => void;
}

export interface RequestOptions {
  /**
   * `Request-Serial` of this write (a positive integer). Default: the next
   * serial of this client. Pass the same serial again only to retry the same
   * write. A serial at or above the counter moves the counter past it.
   */
  serial?: number;
  /**
   * The session of this write: to retry a failed write, pass its
   * `error.clientId` with its `error.serial`, so that the retry is judged in
   * the session the first attempt used even if the client has moved on to a
   * new one. Default: the client's current session.
   */
  clientId?: string;
  /** Send the first attempt to this node instead of the remembered leader. */
  node?: string;
  /**
   * Default true. When false the client stays on its first node (`node`, or
   * the remembered leader): a not-leader answer is returned as a
   * `not_leader` error naming the leader, and other nodes are never tried.
   */
  followRedirects?: boolean;
  /** Overrides the client's `timeoutMs` for this operation. */
  timeoutMs?: number;
  /** Overrides the client's `retries` for this operation. */
  retries?: number;
}

export type ClientErrorType =
  /** Some attempt ran out of time (our deadline or the node's 504). */
  | 'timeout'
  /** No node answered usefully: connection errors, no leader elected, broken answers. */
  | 'unavailable'
  /**
   * The node refused the session: `serial_reused`, `stale_serial` or
   * `session_expired` (see `code`). After `session_expired` the next write
   * registers a new session; the refused attempt was not applied, earlier
   * attempts of the same write may have been (`outcomeUnknown`).
   */
  | 'session'
  /** Only with `followRedirects: false`: the node is not the leader. */
  | 'not_leader'
  /** The node refused the input (400/413) although the client checked it. */
  | 'bad_request'
  /** Admin calls: the cluster refused the change (`code` membership_refused; `message` says why). */
  | 'refused'
  /** Admin calls: no admin token, or the wrong one (401). */
  | 'unauthorized';

export interface ClientError {
  type: ClientErrorType;
  /** One readable line. */
  message: string;
  /**
   * True when a write may have been applied although no success was seen
   * (an attempt reached a node and its answer was lost or was a timeout).
   * Retrying with the same serial (`RequestOptions.serial`) is safe: the
   * server applies a write at most once per Client-Id and serial.
   */
  outcomeUnknown: boolean;
  /** The server's error code, when a node gave one (`serial_reused`, `no_leader`...). */
  code?: string;
  /** `not_leader` only: the leader the node named, or null if it knows none. */
  leader?: string | null;
  /** Writes only: the serial the write used, for a retry. */
  serial?: number;
  /** Writes only: the session (`Client-Id`) the write used, for a retry. */
  clientId?: string;
}

export interface Failure {
  ok: false;
  error: ClientError;
}

export type GetResult = { ok: true; value: string | null } | Failure;
export type WriteResult = { ok: true } | Failure;
/** `current` is the value found when the swap did not happen (null: absent). */
export type CasResult = { ok: true; swapped: true } | { ok: true; swapped: false; current: string | null } | Failure;

/** A node's GET /status answer, as the node defines it (worker/node-api.ts). */
export type NodeStatus = StatusReport;
export type MemberRef = Member;
export type { PeerStatus };

export type NodeStatusResult = { url: string; reachable: true; status: NodeStatus } | { url: string; reachable: false; error: string };

export interface ClusterStatus {
  nodes: NodeStatusResult[];
  /** The leader of the highest term any reachable node reports, or null. */
  leader: MemberRef | null;
}

/** One member as GET /cluster reports it; `matchIndex` is the leader's knowledge, null when unknown. */
export interface ClusterMember {
  id: string;
  url: string;
  role: 'voter' | 'learner';
  matchIndex: number | null;
}

export type MembersResult = { ok: true; leader: MemberRef | null; members: ClusterMember[]; configIndex: number } | Failure;

/** A membership change done: `configIndex` is the index of its config entry (null when the node did not say). */
export type MemberChangeResult = { ok: true; configIndex: number | null } | Failure;
export type TransferResult = { ok: true; leader: string } | Failure;
