// The retry loop every RaftKvClient operation runs in (client.ts): one
// attempt at a time, over the node's client socket when there is one
// (client-socket.ts) or HTTP (client-http.ts), following redirects to the
// leader and moving on to the next node after a failure, with backoff, until
// a definite answer, the deadline, or the retry budget. It keeps the leader
// the client believes in.
import { attempt, normalizeNodeUrl, type HttpRequest } from './client-http';
import { backoffDelayMs, sleep, type BackoffPolicy } from './client-backoff';
import { nonNegative, positive } from './client-answers';
import type { SocketTransport } from './client-socket';
import type { ClientError, ClientErrorType, Failure, RequestOptions } from './client-types';

/** Consecutive redirects followed at once before they count as a failed attempt (leader changing hands). */
const maxRedirectHops = 3;
/** A hard bound on attempts per operation, whatever the deadline. */
const maxAttempts = 1000;
/** A retry is not started with less time than this left before the deadline. */
const minRetryMs = 10;

export interface Operation<T> {
  /** For messages: `set "k"`. */
  name: string;
  write: boolean;
  serial?: number;
  /** Writes: the session the serial belongs to. */
  clientId?: string;
  request: HttpRequest;
  /** Read a definite answer: a result, a final failure, or undefined if it is not a valid answer. */
  interpret(status: number, body: unknown): T | Failure | undefined;
}

export interface RetrySettings {
  nodes: readonly string[];
  timeoutMs: number;
  attemptTimeoutMs: number;
  retries: number;
  backoff: BackoffPolicy;
  fetchFn: typeof fetch;
  random: () => number;
  sockets: SocketTransport | null;
}

export class RetryLoop {
  /** The node believed to lead: the last that answered as leader, or the one a redirect named. */
  knownLeader: string | null = null;
  /** Where to start when no leader is known; advances so a dead first node is not always tried first. */
  private cursor = 0;

  constructor(private readonly s: RetrySettings) {}

  private nextNode(current: string): string {
    const i = this.s.nodes.indexOf(current);
    if (i >= 0) return this.s.nodes[(i + 1) % this.s.nodes.length] ?? current;
    const next = this.s.nodes[this.cursor % this.s.nodes.length] ?? current;
    this.cursor++;
    return next;
  }

  /** The retry loop shared by all operations. Bounded by the deadline, `retries` and `maxAttempts`. */
  async run<T extends { ok: true }>(options: RequestOptions, op: Operation<T>): Promise<T | Failure> {
    const timeoutMs = positive('timeoutMs', options.timeoutMs ?? this.s.timeoutMs);
    const retries = nonNegative('retries', options.retries ?? this.s.retries);
    const pinned = options.followRedirects === false;
    const started = Date.now();
    const deadline = started + timeoutMs;
    let target =
      options.node !== undefined
        ? normalizeNodeUrl(options.node)
        : (this.knownLeader ?? this.s.nodes[this.cursor % this.s.nodes.length] ?? '');
    let failures = 0;
    let hops = 0;
    let attempts = 0;
    // Did any attempt of this write possibly reach a node that could apply it?
    let reached = false;
    let timedOut = false;
    let lastMessage = 'no attempt was made';
    let lastCode: string | undefined;
    const fail = (type: ClientErrorType, message: string, extra: Partial<ClientError> = {}): Failure => ({
      ok: false,
      error: {
        type,
        message,
        outcomeUnknown: op.write && reached,
        ...(op.serial !== undefined ? { serial: op.serial } : {}),
        ...(op.clientId !== undefined ? { clientId: op.clientId } : {}),
        ...extra,
      },
    });

    while (attempts < maxAttempts) {
      const remainingMs = deadline - Date.now();
      // A retry with only a sliver of time left could only time out, which
      // would say less than the failure before it (a refused connection, say).
      if (remainingMs <= 0 || (attempts > 0 && remainingMs < minRetryMs)) break;
      attempts++;
      const attemptMs = Math.min(this.s.attemptTimeoutMs, remainingMs);
      const a =
        (this.s.sockets === null ? null : await this.s.sockets.attempt(target, op.request, attemptMs)) ??
        (await attempt(this.s.fetchFn, target, op.request, attemptMs));
      let retryAt: string | null = null;
      switch (a.kind) {
        case 'answer': {
          const result = op.interpret(a.status, a.body);
          if (result === undefined) {
            reached ||= op.write;
            lastMessage = `${target}: unexpected answer ${a.status} to ${op.name}`;
            break;
          }
          if (result.ok) {
            this.knownLeader = target;
            return result;
          }
          // A definite refusal. serial_reused proves this serial holds another command, so ours was never applied.
          const err = result.error;
          const unknown = op.write && reached && err.code !== 'serial_reused';
          const serial = op.serial !== undefined ? { serial: op.serial } : {};
          const session = op.clientId !== undefined ? { clientId: op.clientId } : {};
          return { ok: false, error: { ...err, ...serial, ...session, outcomeUnknown: unknown, message: `${op.name}: ${err.message}` } };
        }
        case 'redirect':
          lastCode = 'not_leader';
          if (pinned) {
            const who = a.leader === null ? 'no leader is known' : `the leader is ${a.leader}`;
            return fail('not_leader', `${target} is not the leader; ${who}`, { code: 'not_leader', leader: a.leader });
          }
          if (a.leader !== null && hops < maxRedirectHops) {
            hops++;
            this.knownLeader = a.leader;
            target = a.leader;
            continue;
          }
          lastMessage =
            a.leader === null
              ? `${target} is not the leader and names no usable leader`
              : `redirected ${hops + 1} times in a row (leader changing?)`;
          retryAt = a.leader;
          break;
        case 'no_leader':
          lastCode = 'no_leader';
          lastMessage = `${target}: no leader elected`;
          break;
        case 'timeout':
          lastCode = 'timeout';
          timedOut = true;
          reached ||= op.write;
          lastMessage = a.message;
          break;
        case 'failed':
          lastCode = undefined;
          reached ||= op.write && a.reached;
          lastMessage = a.message;
          break;
      }
      // This attempt failed: forget a leader that did not answer, back off, move on.
      hops = 0;
      if (this.knownLeader === target) this.knownLeader = null;
      failures++;
      if (failures > retries) break;
      if (!pinned) target = retryAt ?? this.nextNode(target);
      const waitMs = Math.min(backoffDelayMs(failures, this.s.backoff, this.s.random), deadline - Date.now());
      if (waitMs > 0) await sleep(waitMs);
    }

    const elapsedMs = Date.now() - started;
    const summary = `${op.name} failed after ${attempts} attempt${attempts === 1 ? '' : 's'} in ${elapsedMs} ms: ${lastMessage}`;
    const extra: Partial<ClientError> = lastCode !== undefined ? { code: lastCode } : {};
    return fail(timedOut ? 'timeout' : 'unavailable', summary, extra);
  }
}
