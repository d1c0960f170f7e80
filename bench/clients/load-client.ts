// What the load generator's lean clients share: the LoadClient interface and
// the policy around one HTTP exchange, which each client kind implements with
// its own transport (send). The policy mirrors RaftKvClient's with none of its
// generality: PUT/GET /kv/:key, Client-Id and Request-Serial on writes, follow
// 307 to the leader, retry 503/504 and connection errors on the next node with
// the same serial, all within one per-operation deadline. The Client-Id is a
// session registered (POST /sessions) before the first write and again after
// `session_expired`: the API takes no other (docs/sessions.md). A server with
// no POST /sessions (older commits, for A/Bs) gets a client-named id instead.
import { LoadSession } from './load-session';

export interface LoadClient {
  set(key: string, value: string): Promise<OpResult>;
  get(key: string): Promise<OpResult>;
}

export type OpResult = { ok: true } | { ok: false; error: { type: string; code?: string } };

/** One HTTP answer, as the policy needs it. */
export interface Answer {
  status: number;
  location: string | undefined;
  body: string;
}

/** An answer the transport could not read (bad framing): retrying would not help, so the op fails at once. */
export class BadAnswerError extends Error {
  constructor(readonly reason: string) {
    super(`unreadable HTTP answer: ${reason}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export abstract class RetryingClient implements LoadClient {
  private leader: string;
  private next = 0;
  private readonly session: LoadSession;

  /** `session`: a registered session to write in (tests); by default one is registered on the first write. */
  constructor(
    protected readonly nodes: string[],
    private readonly timeoutMs = 5000,
    session: string | null = null,
  ) {
    this.leader = nodes[0] ?? '';
    this.session = new LoadSession(async () => {
      let id: string | undefined;
      const r = await this.run('POST', '/sessions', {}, undefined, (a) => {
        // A server from before registered sessions (an A/B against an old commit) takes any id it is given.
        if (a.status === 404) id = `bench-${crypto.randomUUID()}`;
        else if (a.status === 200) id = sessionId(a.body);
        else return false;
        return true;
      });
      return r.ok ? { ok: true, id } : r;
    }, session);
  }

  /** One exchange with the node at base (`http://host:port`); rejects on connection errors and timeouts. */
  protected abstract send(
    base: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<Answer>;

  async set(key: string, value: string): Promise<OpResult> {
    const s = await this.session.next();
    if (!('clientId' in s)) return s;
    const headers = { 'Client-Id': s.clientId, 'Request-Serial': String(s.serial) };
    return this.session.settled(
      s.clientId,
      await this.run('PUT', `/kv/${encodeURIComponent(key)}`, headers, value, (a) => a.status === 200),
    );
  }

  get(key: string): Promise<OpResult> {
    return this.run('GET', `/kv/${encodeURIComponent(key)}`, {}, undefined, (a) => a.status === 200 || a.status === 404);
  }

  private async run(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    done: (a: Answer) => boolean,
  ): Promise<OpResult> {
    const deadline = performance.now() + this.timeoutMs;
    let last: OpResult = { ok: false, error: { type: 'timeout' } };
    for (let attempt = 0; attempt < 200 && performance.now() < deadline; attempt++) {
      let a: Answer;
      try {
        a = await this.send(this.leader, method, path, headers, body, deadline - performance.now());
      } catch (err) {
        if (err instanceof BadAnswerError) return { ok: false, error: { type: 'protocol', code: err.reason } };
        last = { ok: false, error: { type: 'unavailable', code: (err as NodeJS.ErrnoException).code } };
        this.moveOn();
        await sleep(5);
        continue;
      }
      if (done(a)) return { ok: true };
      if (a.status === 307 && a.location) {
        const u = new URL(a.location);
        this.leader = `${u.protocol}//${u.host}`;
        continue;
      }
      if (a.status === 503 || a.status === 504) {
        last = { ok: false, error: { type: a.status === 504 ? 'timeout' : 'unavailable', code: errorCode(a.body) } };
        if (a.status === 503) this.moveOn();
        await sleep(5);
        continue;
      }
      return { ok: false, error: { type: 'refused', code: errorCode(a.body) ?? String(a.status) } };
    }
    return last;
  }

  private moveOn(): void {
    this.next = (this.next + 1) % this.nodes.length;
    this.leader = this.nodes[this.next] ?? this.leader;
  }
}

/** The `clientId` of a POST /sessions answer, if the body has one. */
function sessionId(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { clientId?: unknown };
    return typeof parsed.clientId === 'string' ? parsed.clientId : undefined;
  } catch {
    return undefined;
  }
}

/** The `error` field of a JSON error body (api/errors.ts), if there is one. */
function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}
