// RaftKvClient: the library programs use to talk to a raft-kv cluster.
//
// Leader discovery. The client remembers the last node that answered as
// leader and sends there first. A follower answers 307 naming the leader; the
// client re-sends to it (same scheme only). On a connection error, a 503
// no_leader, a 504 or its own per-attempt timeout it tries the next node,
// backing off 20 ms doubling to 500 ms with jitter, until the operation's
// deadline (`timeoutMs`, default 10 s) or `retries` runs out.
//
// Exactly-once writes (thesis §6.3; docs/sessions.md). The client registers
// a session (POST /sessions) before its first write and sends the id it gets
// as `Client-Id`, with `Request-Serial` counting from 1 in that session; given
// a `clientId` (a session registered earlier, say by a previous run) it
// continues that one from `firstSerial` instead. All retries of one write, on
// any node, reuse its session and serial. The server refuses a reused serial
// with a different command (`serial_reused`), a serial too old to judge
// (`stale_serial`), and any request of a session it has evicted
// (`session_expired`, never applied); after `session_expired` the next write
// registers a new session. The server takes no Client-Id it did not hand out,
// so neither does the client. At most 64 writes of a session are in flight at
// once, so that none falls out of the server's window (serial-window.ts).
//
// Transport. Each attempt is one HTTP request, or with the `socket` option a
// frame on the node's client socket (client-socket.ts; docs/client-sockets.md),
// whose answer is read as the same HTTP answer, so everything above holds for both.
//
// Web-standard APIs only (fetch, URL, AbortController, crypto.randomUUID), so
// this file also runs inside a Worker.
import { attempt, errorCode, isRecord, normalizeNodeUrl } from './client-http';
import { adminRefusal, checkMemberId, interpretOk, kvPath, nonNegative, parseClusterView, positive, refusal } from './client-answers';
import { SocketTransport, type WebSocketConstructor } from './client-socket';
import { RetryLoop, type Operation } from './client-retry';
import { SerialWindow, SESSION_WINDOW } from './serial-window';
import { defaultBackoff } from './client-backoff';
import { checkClientId, checkKey, checkSerial, checkValue, parseNodeStatus } from './client-checks';
import type {
  CasResult,
  ClusterMember,
  ClusterStatus,
  Failure,
  GetResult,
  MemberChangeResult,
  MemberRef,
  MembersResult,
  NodeStatusResult,
  RaftKvClientOptions,
  RequestOptions,
  TransferResult,
  WriteResult,
} from './client-types';

export type * from './client-types';
export { normalizeNodeUrl } from './client-http';

export class RaftKvClient {
  readonly nodes: readonly string[];
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly adminToken: string | null;
  private serialCounter: number;
  /** The session in use (given, or registered by this client), or null until the next write registers one. */
  private registered: string | null;
  /** A registration in flight, shared by the writes that wait for it. */
  private registering: Promise<{ ok: true; clientId: string } | Failure> | null = null;
  /** Key-value requests as frames on one socket per node (client-socket.ts), or null: HTTP only. */
  private readonly sockets: SocketTransport | null;
  private readonly loop: RetryLoop;
  /** The current session's writes in flight (serial-window.ts). */
  private window = new SerialWindow();

  constructor(options: RaftKvClientOptions) {
    if (options.nodes.length === 0) throw new RangeError('nodes: at least one node URL is required');
    this.nodes = [...new Set(options.nodes.map(normalizeNodeUrl))];
    this.registered = options.clientId ?? null;
    if (this.registered !== null) checkClientId(this.registered);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
    this.attemptTimeoutMs = positive('attemptTimeoutMs', options.attemptTimeoutMs ?? Math.max(1000, this.timeoutMs / 3));
    const retries = nonNegative('retries', options.retries ?? Number.POSITIVE_INFINITY);
    const backoff = {
      initialMs: positive('backoff.initialMs', options.backoff?.initialMs ?? defaultBackoff.initialMs),
      maxMs: positive('backoff.maxMs', options.backoff?.maxMs ?? defaultBackoff.maxMs),
    };
    this.serialCounter = options.firstSerial ?? 1;
    checkSerial(this.serialCounter);
    // Bound: a Worker's fetch must be called with the global as `this`.
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.adminToken = options.adminToken ?? null;
    this.sockets = socketTransport(options);
    this.loop = new RetryLoop({
      nodes: this.nodes,
      timeoutMs: this.timeoutMs,
      attemptTimeoutMs: this.attemptTimeoutMs,
      retries,
      backoff,
      fetchFn: this.fetchFn,
      random: options.random ?? Math.random,
      sockets: this.sockets,
    });
  }

  /** Closes the client's sockets (a later request opens them again). HTTP needs no closing. */
  close(): void {
    this.sockets?.close();
  }

  /** The node this client currently believes is the leader, or null. */
  get leader(): string | null {
    return this.loop.knownLeader;
  }

  /** The session writes use: the given `clientId` or the one registered (null before the first write or after `session_expired`). */
  get clientId(): string | null {
    return this.registered;
  }

  /** The serial the next write will use unless given one. */
  get nextSerial(): number {
    return this.serialCounter;
  }

  /** Linearizable read. An absent key is `{ ok: true, value: null }`. */
  get(key: string, options: RequestOptions = {}): Promise<GetResult> {
    checkKey(key);
    return this.run<{ ok: true; value: string | null }>(options, {
      name: `get ${JSON.stringify(key)}`,
      write: false,
      request: { method: 'GET', path: kvPath(key) },
      interpret: (status, body) => {
        if (status === 200 && isRecord(body) && typeof body.value === 'string') return { ok: true, value: body.value };
        if (status === 404 && errorCode(body) === 'not_found') return { ok: true, value: null };
        return refusal(status, body, false);
      },
    });
  }

  set(key: string, value: string, options: RequestOptions = {}): Promise<WriteResult> {
    checkKey(key);
    checkValue('value', value);
    return this.write<{ ok: true }>(options, `set ${JSON.stringify(key)}`, (session) => ({
      request: {
        method: 'PUT',
        path: kvPath(key),
        headers: { ...session, 'Content-Type': 'text/plain; charset=utf-8' },
        body: value,
      },
      interpret: (status, body) => interpretOk(status, body),
    }));
  }

  /** Deleting an absent key succeeds too. */
  delete(key: string, options: RequestOptions = {}): Promise<WriteResult> {
    checkKey(key);
    return this.write<{ ok: true }>(options, `delete ${JSON.stringify(key)}`, (session) => ({
      request: { method: 'DELETE', path: kvPath(key), headers: session },
      interpret: (status, body) => interpretOk(status, body),
    }));
  }

  /** Compare-and-set: write `value` only if the key holds `expected` (null: only if absent). */
  cas(key: string, expected: string | null, value: string, options: RequestOptions = {}): Promise<CasResult> {
    checkKey(key);
    if (expected !== null) checkValue('expected', expected);
    checkValue('value', value);
    type Done = { ok: true; swapped: true } | { ok: true; swapped: false; current: string | null };
    return this.write<Done>(options, `cas ${JSON.stringify(key)}`, (session) => ({
      request: {
        method: 'POST',
        path: `${kvPath(key)}/cas`,
        headers: { ...session, 'Content-Type': 'application/json' },
        body: JSON.stringify({ expected, value }),
      },
      interpret: (status, body) => {
        if (status === 200 && isRecord(body) && body.ok === true) return { ok: true, swapped: true };
        if (status === 409 && errorCode(body) === 'cas_mismatch' && isRecord(body)) {
          const current = body.current;
          if (current === null || typeof current === 'string') return { ok: true, swapped: false, current };
        }
        return refusal(status, body, true);
      },
    }));
  }

  /** Every configured node's `/status`, in parallel; unreachable nodes are marked, not fatal. */
  async status(options: { timeoutMs?: number } = {}): Promise<ClusterStatus> {
    const timeoutMs = positive('timeoutMs', options.timeoutMs ?? Math.min(this.attemptTimeoutMs, this.timeoutMs));
    const nodes = await Promise.all(
      this.nodes.map(async (url): Promise<NodeStatusResult> => {
        const a = await attempt(this.fetchFn, url, { method: 'GET', path: '/status' }, timeoutMs);
        if (a.kind === 'answer' && a.status === 200) {
          const status = parseNodeStatus(a.body);
          if (status !== null) return { url, reachable: true, status };
          return { url, reachable: false, error: `${url}: malformed status answer` };
        }
        if (a.kind === 'timeout' || a.kind === 'failed') return { url, reachable: false, error: a.message };
        return { url, reachable: false, error: `${url}: unexpected status answer (${a.kind})` };
      }),
    );
    let leader: MemberRef | null = null;
    let leaderTerm = -1;
    for (const n of nodes) {
      if (n.reachable && n.status.leader !== null && n.status.term > leaderTerm) {
        leader = n.status.leader;
        leaderTerm = n.status.term;
      }
    }
    return { nodes, leader };
  }

  /** The configuration (GET /cluster, answered by the leader): members, roles, how far each has replicated. */
  members(options: RequestOptions = {}): Promise<MembersResult> {
    type Done = { ok: true; leader: MemberRef | null; members: ClusterMember[]; configIndex: number };
    return this.run<Done>(options, {
      name: 'members',
      write: false,
      request: { method: 'GET', path: '/cluster' },
      interpret: (status, body) => (status === 200 ? parseClusterView(body) : refusal(status, body, false)),
    });
  }

  /**
   * Add a member (a learner unless `role` is voter); done once its config entry
   * is applied on the leader. Start the node first, with `npm run node -- --join`.
   */
  addMember(id: string, url: string, options: RequestOptions & { role?: 'voter' | 'learner' } = {}): Promise<MemberChangeResult> {
    checkMemberId(id);
    const role = options.role ?? 'learner';
    if (role !== 'voter' && role !== 'learner') throw new RangeError(`role must be voter or learner, got ${String(role)}`);
    return this.admin(options, `add ${id}`, 'POST', '/cluster/members', JSON.stringify({ id, url: normalizeNodeUrl(url), role }));
  }

  /** Make a learner a voter; refused until it has caught up with the leader's log. */
  promote(id: string, options: RequestOptions = {}): Promise<MemberChangeResult> {
    checkMemberId(id);
    return this.admin(options, `promote ${id}`, 'POST', `/cluster/members/${encodeURIComponent(id)}/promote`);
  }

  /** Remove a voter or learner (the leader too: it hands over once the change commits). */
  removeMember(id: string, options: RequestOptions = {}): Promise<MemberChangeResult> {
    checkMemberId(id);
    return this.admin(options, `remove ${id}`, 'DELETE', `/cluster/members/${encodeURIComponent(id)}`);
  }

  /** Hand leadership to voter `id` (thesis §3.10); done once the old leader stepped down for it. */
  async transferLeadership(id: string, options: RequestOptions = {}): Promise<TransferResult> {
    checkMemberId(id);
    const r = await this.admin(options, `transfer to ${id}`, 'POST', '/cluster/leader', JSON.stringify({ id }));
    if (!r.ok) return r;
    this.loop.knownLeader = null; // it moved on purpose; find it again
    return { ok: true, leader: id };
  }

  /**
   * A membership change or transfer. Counted as a write: after a timeout the
   * change may have happened, and a retry may then be refused (already a member).
   */
  private admin(
    options: RequestOptions,
    name: string,
    method: 'POST' | 'DELETE',
    path: string,
    body?: string,
  ): Promise<MemberChangeResult> {
    const headers: Record<string, string> = {};
    if (this.adminToken !== null) headers.Authorization = `Bearer ${this.adminToken}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return this.run<{ ok: true; configIndex: number | null }>(options, {
      name,
      write: true,
      request: body === undefined ? { method, path, headers } : { method, path, headers, body },
      interpret: (status, answer) => {
        if (status === 200 && isRecord(answer) && answer.ok === true) {
          return { ok: true, configIndex: typeof answer.configIndex === 'number' ? answer.configIndex : null };
        }
        return adminRefusal(status, answer) ?? refusal(status, answer, false);
      },
    });
  }

  /**
   * One write in its session: register first if needed, then run it with the
   * session's next serial (or the given one). After `session_expired` the
   * session is dropped so that the next write registers a new one.
   */
  private write<T extends { ok: true }>(
    options: RequestOptions,
    name: string,
    build: (session: Record<string, string>) => Pick<Operation<T>, 'request' | 'interpret'>,
  ): Promise<T | Failure> {
    // Bad arguments throw at the call, before any await.
    if (options.serial !== undefined) checkSerial(options.serial);
    if (options.clientId !== undefined) {
      checkClientId(options.clientId);
      if (options.serial === undefined) throw new RangeError('a write with an explicit clientId needs its serial too');
    }
    return this.writeInSession(options, name, build);
  }

  private async writeInSession<T extends { ok: true }>(
    options: RequestOptions,
    name: string,
    build: (session: Record<string, string>) => Pick<Operation<T>, 'request' | 'interpret'>,
  ): Promise<T | Failure> {
    let clientId = options.clientId;
    if (clientId === undefined) {
      const session = await this.session(options);
      if (!session.ok) {
        const err = session.error;
        return { ok: false, error: { ...err, message: `${name}: could not register a session: ${err.message}`, outcomeUnknown: false } };
      }
      clientId = session.clientId;
    }
    // An explicit clientId that is not the current session retries an old write: the counter is not its.
    const own = clientId === this.clientId;
    const serial = own ? this.takeSerial(options) : (options.serial ?? 1);
    // The session's writes in flight stay within the server's window (serial-window.ts).
    const window = own ? this.window : null;
    window?.take(serial);
    try {
      const timeoutMs = positive('timeoutMs', options.timeoutMs ?? this.timeoutMs);
      const deadline = Date.now() + timeoutMs;
      if (window !== null && !(await window.wait(serial, deadline))) {
        return {
          ok: false,
          error: {
            type: 'timeout',
            message: `${name}: still waiting for earlier writes of session ${clientId} (at most ${SESSION_WINDOW} in flight) at the deadline`,
            outcomeUnknown: false,
            serial,
            clientId,
          },
        };
      }
      const result = await this.run<T>(
        { ...options, timeoutMs: Math.max(1, deadline - Date.now()) },
        {
          name,
          write: true,
          serial,
          clientId,
          ...build({ 'Client-Id': clientId, 'Request-Serial': String(serial) }),
        },
      );
      if (!result.ok && result.error.code === 'session_expired' && this.registered === clientId) this.registered = null;
      return result;
    } finally {
      window?.finish(serial);
    }
  }

  private session(options: RequestOptions): Promise<{ ok: true; clientId: string } | Failure> {
    const current = this.clientId;
    if (current !== null) return Promise.resolve({ ok: true, clientId: current });
    // Registering is the client's own step, not the caller's request: it goes
    // through the leader even when the write itself is pinned to one node.
    this.registering ??= this.register({ ...options, followRedirects: true }).finally(() => {
      this.registering = null;
    });
    return this.registering;
  }

  /** Registering is not a write the client must not repeat: a duplicate session only takes a slot until evicted. */
  private async register(options: RequestOptions): Promise<{ ok: true; clientId: string } | Failure> {
    const r = await this.run<{ ok: true; clientId: string }>(options, {
      name: 'register a session',
      write: false,
      request: { method: 'POST', path: '/sessions' },
      interpret: (status, body) => {
        if (status === 200 && isRecord(body) && typeof body.clientId === 'string') return { ok: true, clientId: body.clientId };
        return refusal(status, body, false);
      },
    });
    if (r.ok) {
      this.registered = r.clientId;
      this.serialCounter = 1; // serials count from 1 in each session
      this.window = new SerialWindow();
    }
    return r;
  }

  private takeSerial(options: RequestOptions): number {
    if (options.serial === undefined) return this.serialCounter++;
    // Keep the counter ahead of any serial used explicitly, so a later default serial is fresh.
    if (options.serial >= this.serialCounter) this.serialCounter = options.serial + 1;
    return options.serial;
  }

  private run<T extends { ok: true }>(options: RequestOptions, op: Operation<T>): Promise<T | Failure> {
    return this.loop.run(options, op);
  }
}

function socketTransport(options: RaftKvClientOptions): SocketTransport | null {
  const o = options.socket;
  if (o === undefined || o === false) return null;
  const webSocket = (o === true ? undefined : o.webSocket) ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (webSocket === undefined) throw new TypeError('socket: this platform has no WebSocket; pass one as socket.webSocket');
  const retryAfterMs = positive('socket.retryAfterMs', (o === true ? undefined : o.retryAfterMs) ?? 30_000);
  return new SocketTransport({ webSocket, retryAfterMs, debug: options.debug ?? (() => {}) });
}
