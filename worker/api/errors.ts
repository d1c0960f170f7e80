// Every refusal the HTTP API can give, and the one place that maps each to a
// status, headers and JSON body. Routes build a `Refusal`; they never pick
// status codes themselves, so the wire contract lives in this file.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { NotLeader, TimedOut } from '../node-api';
import type { KvError } from '../kv/commands';
import type { Member } from '../raft/types';
import { unreachable } from '../raft/types';

export type Refusal =
  | { error: 'bad_request'; message: string }
  | { error: 'payload_too_large'; message: string }
  | { error: 'not_found'; key: string }
  | { error: 'not_leader'; leader: Member }
  | { error: 'no_leader' }
  | { error: 'timeout' }
  | { error: 'cas_mismatch'; current: string | null }
  | { error: KvError['error']; message: string }
  | { error: 'not_found_route'; message: string }
  | { error: 'method_not_allowed'; allow: string[] }
  | { error: 'unauthorized'; message: string }
  | { error: 'upgrade_required'; message: string }
  | { error: 'cluster_secret_not_configured'; message: string }
  | { error: 'membership_refused'; message: string }
  /** Client sockets only (docs/client-sockets.md): more requests in flight on one socket than it allows. */
  | { error: 'too_many_in_flight'; message: string }
  | { error: 'internal'; message: string };

/** Seconds a client should wait before retrying when no leader is known (an election takes about that long). */
const RETRY_AFTER_SECONDS = '1';

export function refuse(c: Context, r: Refusal): Response {
  const a = refusalAnswer(r, c.req.method, c.req.url);
  return c.json(a.body, a.status as ContentfulStatusCode, a.headers);
}

/** A refusal as status, JSON body and headers, with no HTTP context (the client socket answers these too). */
export interface RefusalAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/**
 * `method` and `url` are the request's: they name the method in a 405 and the
 * leader's Location in a 307 (none without a URL, as on a client socket).
 */
export function refusalAnswer(r: Refusal, method: string, url?: string): RefusalAnswer {
  switch (r.error) {
    case 'bad_request':
      return { status: 400, body: { error: r.error, message: r.message } };
    case 'payload_too_large':
      return { status: 413, body: { error: r.error, message: r.message } };
    case 'not_found':
      return { status: 404, body: { error: r.error, key: r.key } };
    case 'not_leader':
      return {
        status: 307,
        body: { error: r.error, leader: r.leader.url },
        ...(url === undefined ? {} : { headers: { Location: leaderLocation(r.leader.url, url) } }),
      };
    case 'no_leader':
      return { status: 503, body: { error: r.error }, headers: { 'Retry-After': RETRY_AFTER_SECONDS } };
    case 'timeout':
      return { status: 504, body: { error: r.error } };
    case 'cas_mismatch':
      return { status: 409, body: { error: r.error, current: r.current } };
    case 'serial_reused':
    case 'stale_serial':
    case 'session_expired':
      return { status: 409, body: { error: r.error, message: r.message } };
    case 'not_found_route':
      return { status: 404, body: { error: r.error, message: r.message } };
    case 'method_not_allowed':
      return {
        status: 405,
        body: { error: r.error, message: `${method} is not allowed here; allowed: ${r.allow.join(', ')}` },
        headers: { Allow: r.allow.join(', ') },
      };
    case 'unauthorized':
      return { status: 401, body: { error: r.error, message: r.message }, headers: { 'WWW-Authenticate': 'Bearer' } };
    case 'upgrade_required':
      return { status: 426, body: { error: r.error, message: r.message }, headers: { Upgrade: 'websocket' } };
    case 'cluster_secret_not_configured':
      return { status: 503, body: { error: r.error, message: r.message } };
    case 'membership_refused':
      return { status: 409, body: { error: r.error, message: r.message } };
    case 'too_many_in_flight':
      return { status: 429, body: { error: r.error, message: r.message } };
    case 'internal':
      return { status: 500, body: { error: r.error, message: r.message } };
    default:
      return unreachable(r);
  }
}

/** A node outcome that is not `ok`, as a refusal. */
export function outcomeRefusal(outcome: NotLeader | TimedOut): Refusal {
  switch (outcome.type) {
    case 'notLeader':
      return outcome.leader ? { error: 'not_leader', leader: outcome.leader } : { error: 'no_leader' };
    case 'timeout':
      return { error: 'timeout' };
    default:
      return unreachable(outcome);
  }
}

/**
 * The seed's server answered in plain text and never redirected: its client
 * prints the body, and tries another port by hand.
 */
export function refuseSeed(c: Context, outcome: NotLeader | TimedOut): Response {
  switch (outcome.type) {
    case 'notLeader':
      return c.text('This Raft node is not the leader', 400);
    case 'timeout':
      return c.text('Request timed out; retry with the same requestSerial', 503);
    default:
      return unreachable(outcome);
  }
}

/**
 * The leader's URL with this request's path and query, so a client can
 * re-send the same request there. The raw pathname keeps the client's
 * percent-encoding, so the key reaches the leader unchanged.
 */
export function leaderLocation(leaderUrl: string, requestUrl: string): string {
  const req = new URL(requestUrl);
  return leaderUrl.replace(/\/+$/, '') + req.pathname + req.search;
}
