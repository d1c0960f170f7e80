// The client library's socket transport (docs/client-sockets.md): one
// WebSocket per node (GET /v1/socket), accepted by the node's Durable Object,
// carrying the key-value requests as frames, many in flight, those issued in
// the same turn in one frame. An answer is the HTTP status and body of the
// same request, so it becomes the same `Attempt` as an HTTP answer and the
// retry loop (client.ts) treats both alike: a redirect, no leader, a timeout,
// or a socket lost with the request in flight (outcome unknown, retried in
// its session as after a lost HTTP answer).
// A node that refuses the socket, or a socket that cannot be opened, sends
// the request over HTTP instead; the socket is tried again after
// `retryAfterMs`, and each change is told to the `debug` hook.
import { leaderFromHints, type Attempt, type HttpRequest } from './client-http';
import { errorCode, isRecord } from './client-http';

/** The route of client sockets (worker/api/client-socket.ts). */
export const socketPath = '/v1/socket';
/** The node's limits (worker/api/client-socket.ts): requests per frame, requests in flight per socket. */
const maxFrameRequests = 256;
const maxInFlight = 1024;
/** Frames are kept well under the node's 1 MiB: a request's value is at most 64 KiB, escaped at most 6x. */
const maxFrameChars = 256 * 1024;

/** The WebSocket constructor of the platform (a browser's, a Worker's, Node 22's, or the `ws` package's). */
export type WebSocketConstructor = new (url: string) => WebSocket;

export interface SocketOptions {
  webSocket: WebSocketConstructor;
  /** After a socket could not be opened, HTTP only to that node for this long. */
  retryAfterMs: number;
  debug: (message: string) => void;
}

interface Waiting {
  resolve: (a: Attempt) => void;
  timer: ReturnType<typeof setTimeout>;
  path: string;
}

/** Each node's socket, opened on its first request and again after it closes. */
export class SocketTransport {
  private readonly sockets = new Map<string, NodeSocket>();
  /** Nodes whose socket failed to open: when to try again. */
  private readonly refusedUntil = new Map<string, number>();

  constructor(private readonly options: SocketOptions) {}

  /** The attempt over `base`'s socket, or null when this request goes over HTTP (not a key-value request, or no socket). */
  async attempt(base: string, req: HttpRequest, timeoutMs: number): Promise<Attempt | null> {
    const frame = frameOf(req);
    if (frame === null) return null;
    const until = this.refusedUntil.get(base);
    if (until !== undefined) {
      if (Date.now() < until) return null;
      this.refusedUntil.delete(base);
      this.options.debug(`${base}: trying the client socket again`);
    }
    let socket = this.sockets.get(base);
    if (socket === undefined || socket.closed) {
      socket = new NodeSocket(base, this.options.webSocket);
      this.sockets.set(base, socket);
    }
    const opened = await socket.opened(timeoutMs);
    if (opened !== null) {
      // Nothing was sent: HTTP carries this request, and the socket waits out its backoff.
      this.sockets.delete(base);
      this.refusedUntil.set(base, Date.now() + this.options.retryAfterMs);
      this.options.debug(
        `${base}: client socket unavailable (${opened}); using HTTP, trying the socket again in ${this.options.retryAfterMs} ms`,
      );
      return null;
    }
    if (socket.inFlight >= maxInFlight) return null;
    const a = await socket.send(frame, req.path, timeoutMs);
    if (a.kind === 'redirect' && socket.inFlight === 0 && this.sockets.get(base) === socket) {
      // A follower: the client goes to the leader from now on, so this socket
      // would sit idle; it is opened again if a request comes back here.
      this.sockets.delete(base);
      socket.close();
      this.options.debug(`${base}: not the leader; its client socket closed`);
    }
    return a;
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

/** The frame request for a key-value HTTP request, or null for any other (status, admin: HTTP only). */
export function frameOf(req: HttpRequest): Record<string, unknown> | null {
  if (req.method === 'POST' && req.path === '/sessions') return { op: 'register' };
  const m = /^\/kv\/([^/]+)(\/cas)?$/.exec(req.path);
  if (m === null) return null;
  const key = decodeURIComponent(m[1]!);
  const h = req.headers ?? {};
  const session = h['Client-Id'] === undefined ? {} : { clientId: h['Client-Id'], serial: Number(h['Request-Serial']) };
  if (m[2] !== undefined) {
    if (req.method !== 'POST') return null;
    const body = JSON.parse(req.body ?? '{}') as { expected: string | null; value: string };
    return { op: 'cas', key, expected: body.expected, value: body.value, ...session };
  }
  if (req.method === 'GET') return { op: 'get', key };
  if (req.method === 'PUT') return { op: 'put', key, value: req.body ?? '', ...session };
  if (req.method === 'DELETE') return { op: 'delete', key, ...session };
  return null;
}

/** One socket to one node. */
class NodeSocket {
  private readonly ws: WebSocket;
  private readonly waiting = new Map<number, Waiting>();
  private outbox: string[] = [];
  private nextId = 1;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  private readonly openWaiters: ((problem: string | null) => void)[] = [];

  constructor(
    private readonly base: string,
    WebSocketImpl: WebSocketConstructor,
  ) {
    this.ws = new WebSocketImpl(`${base.replace(/^http/, 'ws')}${socketPath}`);
    this.ws.addEventListener('open', () => {
      this.state = 'open';
      for (const w of this.openWaiters.splice(0)) w(null);
    });
    this.ws.addEventListener('message', (ev: MessageEvent) => this.onFrame(ev.data));
    this.ws.addEventListener('close', (ev: CloseEvent) => this.onClose(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`));
    this.ws.addEventListener('error', () => this.onClose('error'));
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  /** Null once open; otherwise why it could not be opened within `timeoutMs`. */
  opened(timeoutMs: number): Promise<string | null> {
    if (this.state === 'open') return Promise.resolve(null);
    if (this.state === 'closed') return Promise.resolve('closed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.close();
        resolve(`not open within ${timeoutMs} ms`);
      }, timeoutMs);
      this.openWaiters.push((problem) => {
        clearTimeout(timer);
        resolve(problem);
      });
    });
  }

  send(frame: Record<string, unknown>, path: string, timeoutMs: number): Promise<Attempt> {
    if (this.state !== 'open') return Promise.resolve({ kind: 'failed', reached: false, message: `${this.base}: client socket closed` });
    const id = this.nextId++;
    return new Promise<Attempt>((resolve) => {
      const timer = setTimeout(() => {
        // The request may still be applied: unknown, as after an HTTP timeout.
        this.waiting.delete(id);
        resolve({ kind: 'timeout', message: `${this.base}: no answer on the client socket within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer, path });
      this.queue(JSON.stringify({ id, ...frame }));
    });
  }

  close(): void {
    this.onClose('closed by the client');
    try {
      this.ws.close(1000, 'client closing');
    } catch {
      // not open yet, or already closed
    }
  }

  /** Requests of one turn go out together, in frames within the node's limits. */
  private queue(request: string): void {
    this.outbox.push(request);
    if (this.outbox.length > 1) return;
    queueMicrotask(() => {
      const out = this.outbox;
      this.outbox = [];
      let start = 0;
      let chars = 0;
      for (let i = 0; i <= out.length; i++) {
        const full = i - start === maxFrameRequests || (i < out.length && chars + out[i]!.length > maxFrameChars && i > start);
        if (i === out.length || full) {
          if (i > start) this.sendFrame(out.slice(start, i));
          start = i;
          chars = 0;
        }
        if (i < out.length) chars += out[i]!.length;
      }
    });
  }

  private sendFrame(requests: string[]): void {
    if (this.state !== 'open') return; // the close already failed these requests
    try {
      this.ws.send(requests.length === 1 ? requests[0]! : `[${requests.join(',')}]`);
    } catch (err) {
      this.onClose(`send failed: ${String(err)}`);
    }
  }

  private onFrame(data: unknown): void {
    let answers: unknown;
    try {
      answers = typeof data === 'string' ? JSON.parse(data) : null;
    } catch {
      answers = null;
    }
    if (!Array.isArray(answers)) {
      this.fail('sent a frame that is not an array of answers');
      return;
    }
    for (const a of answers as unknown[]) {
      if (!isRecord(a) || typeof a.id !== 'number' || typeof a.status !== 'number') {
        // A refused frame (or a broken answer): which requests it covers is unknown, so all are.
        this.fail(`refused a frame: ${JSON.stringify(isRecord(a) ? a.body : a)}`);
        return;
      }
      const w = this.waiting.get(a.id);
      if (w === undefined) continue; // timed out meanwhile
      this.waiting.delete(a.id);
      clearTimeout(w.timer);
      w.resolve(classifyAnswer(a.status, a.body, this.base, w.path));
    }
  }

  private fail(problem: string): void {
    this.onClose(problem);
    try {
      this.ws.close(1002, 'client could not read an answer');
    } catch {
      // already closed
    }
  }

  /** Every request in flight is answered as a lost answer: the node may have acted on it. */
  private onClose(why: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const w of this.openWaiters.splice(0)) w(why);
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      clearTimeout(w.timer);
      w.resolve({ kind: 'failed', reached: true, message: `${this.base}: client socket ${why} before the answer` });
    }
  }
}

/** An answer's status and body as an attempt, read as client-http.ts reads an HTTP answer. */
function classifyAnswer(status: number, body: unknown, base: string, path: string): Attempt {
  const code = errorCode(body);
  if (status === 307 || code === 'not_leader') {
    const hinted = isRecord(body) && typeof body.leader === 'string' ? body.leader : null;
    return { kind: 'redirect', leader: leaderFromHints(base, path, null, hinted) };
  }
  if (status === 503 && code === 'no_leader') return { kind: 'no_leader' };
  if (status === 504) return { kind: 'timeout', message: `${base}: the node timed out (504)` };
  if (status >= 500) return { kind: 'failed', reached: true, message: `${base}: unexpected answer ${status} on the client socket` };
  return { kind: 'answer', status, body };
}
