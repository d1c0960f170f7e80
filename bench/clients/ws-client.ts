// The load generator's client socket (--client ws; docs/client-sockets.md):
// one WebSocket per client and node, GET /v1/socket, straight into the
// node's Durable Object, with requests and answers as frames. The policy
// (redirects, retries with the same session and serial, registration) is
// RetryingClient's (load-client.ts), as for http and raw: this file only
// turns its HTTP-shaped exchanges into frames and back. An answer carries
// the HTTP status and body of the same request, so nothing else changes.
// Built on the `ws` package: Node 20 has no WebSocket of its own.
import WebSocket from 'ws';
import { BadAnswerError, RetryingClient, type Answer } from './load-client';

/** The route of client sockets (worker/api/client-socket.ts). */
const socketPath = '/v1/socket';

export class WsLoadClient extends RetryingClient {
  private readonly connections = new Map<string, WsConnection>();

  protected override async send(
    base: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<Answer> {
    let conn = this.connections.get(base);
    if (conn === undefined) {
      conn = new WsConnection(base);
      this.connections.set(base, conn);
    }
    const answer = await conn.request(frameRequest(method, path, headers, body), timeoutMs);
    // A follower: from now on this client goes to the leader, so the socket is
    // closed, as the client library does (client/client-socket.ts). An idle
    // socket costs the node memory for as long as it stays open.
    if (answer.location !== undefined && conn.idle && this.connections.get(base) === conn) {
      this.connections.delete(base);
      conn.close();
    }
    return answer;
  }

  /** Closes every socket; a later request reconnects. */
  close(): void {
    for (const conn of this.connections.values()) conn.close();
  }
}

/** The frame request for an exchange of the policy: PUT/GET /kv/<key>, POST /sessions. */
export function frameRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | undefined,
): Record<string, unknown> {
  if (method === 'POST' && path === '/sessions') return { op: 'register' };
  if (!path.startsWith('/kv/')) throw new Error(`ws client: no frame for ${method} ${path}`);
  const key = decodeURIComponent(path.slice(4));
  if (method === 'GET') return { op: 'get', key };
  if (method !== 'PUT') throw new Error(`ws client: no frame for ${method} ${path}`);
  const session = headers['Client-Id'] === undefined ? {} : { clientId: headers['Client-Id'], serial: Number(headers['Request-Serial']) };
  return { op: 'put', key, value: body ?? '', ...session };
}

interface Pending {
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const codeError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/** One node's socket: opened on the first request, and again on the first request after it is lost. */
export class WsConnection {
  private socket: WebSocket | null = null;
  private opened: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly url: string;

  constructor(base: string) {
    const u = new URL(base);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`ws client: only http(s) node URLs, got ${base}`);
    this.url = `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}${socketPath}`;
  }

  async request(req: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
    const socket = this.socket ?? this.connect();
    const id = this.nextId++;
    const answer = new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(codeError('timeout', 'ETIMEDOUT'));
        },
        Math.max(1, timeoutMs),
      );
      this.pending.set(id, { resolve, reject, timer });
    });
    if (socket.readyState !== WebSocket.OPEN) await this.opened?.catch(() => {});
    // The socket may have failed to open: its close already failed this request.
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id, ...req }));
    return answer;
  }

  /** No request waits for its answer on this socket. */
  get idle(): boolean {
    return this.pending.size === 0;
  }

  close(): void {
    this.drop(codeError('connection closed by the client', 'ECONNABORTED'));
  }

  private connect(): WebSocket {
    const socket = new WebSocket(this.url, { perMessageDeflate: false });
    this.socket = socket;
    this.opened = new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (socket === this.socket) this.onFrame(isBinary ? null : (data as Buffer).toString('utf8'));
    });
    socket.on('error', (err) => {
      if (socket === this.socket) this.drop(err);
    });
    socket.on('close', () => {
      if (socket === this.socket) this.drop(codeError('socket closed before the answer', 'ECONNRESET'));
    });
    return socket;
  }

  private onFrame(text: string | null): void {
    let answers: unknown;
    try {
      answers = text === null ? null : JSON.parse(text);
    } catch {
      answers = null;
    }
    if (!Array.isArray(answers)) {
      this.drop(new BadAnswerError('a socket frame that is not an array of answers'));
      return;
    }
    for (const a of answers as { id?: unknown; status?: unknown; body?: unknown }[]) {
      if (typeof a.id !== 'number') {
        // The node refused a whole frame (a bug of this client): nothing sent on this socket can be trusted.
        this.drop(new BadAnswerError(`the node refused a frame: ${JSON.stringify(a.body)}`));
        return;
      }
      const p = this.pending.get(a.id);
      if (p === undefined) continue; // timed out meanwhile
      this.pending.delete(a.id);
      clearTimeout(p.timer);
      const body = a.body as { leader?: unknown } | undefined;
      const location = typeof body?.leader === 'string' ? body.leader : undefined;
      p.resolve({ status: typeof a.status === 'number' ? a.status : 0, location, body: JSON.stringify(a.body) });
    }
  }

  /** Forgets the socket (the next request reconnects) and fails every request in flight with err. */
  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = null;
    this.opened = null;
    if (socket !== null) {
      socket.removeAllListeners('message');
      socket.on('error', () => {}); // a late error of a socket we gave up on
      socket.terminate();
    }
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
