// Every refusal the HTTP API can give, and the one place that maps each to a
// status, headers and JSON body. Routes build a `Refusal`; they never pick
// status codes themselves, so the wire contract lives in this file.
import type { Context } from 'hono';
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
  | { error: 'internal'; message: string };

/** Seconds a client should wait before retrying when no leader is known (an election takes about that long). */
const RETRY_AFTER_SECONDS = '1';

export function refuse(c: Context, r: Refusal): Response {
  switch (r.error) {
    case 'bad_request':
      return c.json({ error: r.error, message: r.message }, 400);
    case 'payload_too_large':
      return c.json({ error: r.error, message: r.message }, 413);
    case 'not_found':
      return c.json({ error: r.error, key: r.key }, 404);
    case 'not_leader':
      return c.json({ error: r.error, leader: r.leader.url }, 307, {
        Location: leaderLocation(r.leader.url, c.req.url),
      });
    case 'no_leader':
      return c.json({ error: r.error }, 503, { 'Retry-After': RETRY_AFTER_SECONDS });
    case 'timeout':
      return c.json({ error: r.error }, 504);
    case 'cas_mismatch':
      return c.json({ error: r.error, current: r.current }, 409);
    case 'serial_reused':
    case 'stale_serial':
    case 'session_expired':
      return c.json({ error: r.error, message: r.message }, 409);
    case 'not_found_route':
      return c.json({ error: r.error, message: r.message }, 404);
    case 'method_not_allowed':
      return c.json({ error: r.error, message: `${c.req.method} is not allowed here; allowed: ${r.allow.join(', ')}` }, 405, {
        Allow: r.allow.join(', '),
      });
    case 'unauthorized':
      return c.json({ error: r.error, message: r.message }, 401, { 'WWW-Authenticate': 'Bearer' });
    case 'upgrade_required':
      return c.json({ error: r.error, message: r.message }, 426, { Upgrade: 'websocket' });
    case 'cluster_secret_not_configured':
      return c.json({ error: r.error, message: r.message }, 503);
    case 'membership_refused':
      return c.json({ error: r.error, message: r.message }, 409);
    case 'internal':
      return c.json({ error: r.error, message: r.message }, 500);
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
