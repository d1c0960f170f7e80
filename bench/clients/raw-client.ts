// The cheapest load-generator client (--client raw): HTTP/1.1 spoken by hand
// over one persistent node:net socket per node it talks to. node:http spends
// most of its CPU per request in generality the benchmark does not need
// (header objects, streams, the agent's socket pool), and the load generator
// shares the machine's cores with the nodes, so every microsecond it
// spends is one the cluster cannot show. The policy (redirects, retries,
// serials) is RetryingClient's (load-client.ts); this file is only the
// transport: one request in flight per socket (the load is closed-loop), no
// pipelining, responses parsed by http-response.ts.
import { connect, type Socket } from 'node:net';
import { parseResponse } from './http-response';
import { BadAnswerError, RetryingClient, type Answer } from './load-client';

export class RawHttpClient extends RetryingClient {
  private readonly connections = new Map<string, RawConnection>();

  protected override send(
    base: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<Answer> {
    let conn = this.connections.get(base);
    if (conn === undefined) {
      conn = new RawConnection(new URL(base));
      this.connections.set(base, conn);
    }
    return conn.request(method, path, headers, body, timeoutMs);
  }

  /** Closes every socket; a later request reconnects. */
  close(): void {
    for (const conn of this.connections.values()) conn.close();
  }
}

interface Pending {
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const codeError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/** One node's connection: connected on the first request, and again on the first request after it is lost. */
export class RawConnection {
  private socket: Socket | null = null;
  /** Bytes of the current response received so far, when it came in several pieces. */
  private received: Buffer | null = null;
  private pending: Pending | null = null;
  private readonly host: string;
  private readonly hostname: string;
  private readonly port: number;

  constructor(url: URL) {
    if (url.protocol !== 'http:') throw new Error(`raw client: only http:// URLs, got ${url.href}`);
    this.host = url.host;
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 80);
  }

  request(method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Answer> {
    if (this.pending !== null) throw new Error('raw client: one request at a time per connection');
    let text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
    for (const name in headers) text += `${name}: ${headers[name]}\r\n`;
    text += body === undefined ? '\r\n' : `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = this.socket ?? this.connect();
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => this.drop(codeError('timeout', 'ETIMEDOUT')), Math.max(1, timeoutMs));
      this.pending = { resolve, reject, timer };
      socket.write(text);
    });
  }

  close(): void {
    this.drop(codeError('connection closed by the client', 'ECONNABORTED'));
  }

  private connect(): Socket {
    const socket = connect({ host: this.hostname, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.onData(chunk);
    });
    socket.on('error', (err) => {
      if (socket === this.socket) this.drop(err);
    });
    socket.on('close', () => {
      if (socket === this.socket) this.drop(codeError('connection closed before the answer', 'ECONNRESET'));
    });
    this.socket = socket;
    this.received = null;
    return socket;
  }

  private onData(chunk: Buffer): void {
    let buf = this.received === null ? chunk : Buffer.concat([this.received, chunk]);
    for (;;) {
      const r = parseResponse(buf);
      if (r.type === 'incomplete') {
        this.received = buf;
        return;
      }
      if (r.type === 'error') {
        // The byte stream can no longer be trusted: fail the request and start afresh.
        this.drop(new BadAnswerError(r.reason));
        return;
      }
      if (r.status >= 100 && r.status < 200) {
        // An interim answer (100 Continue and the like) precedes the real one, maybe in the same chunk.
        buf = buf.subarray(r.end);
        if (buf.length === 0) {
          this.received = null;
          return;
        }
        continue;
      }
      const pending = this.pending;
      // Bytes beyond the answer, or an answer nobody asked for, mean the stream is out of step: start afresh.
      if (r.close || pending === null || r.end < buf.length) this.drop(null);
      this.received = null;
      if (pending === null) return;
      this.pending = null;
      clearTimeout(pending.timer);
      pending.resolve({ status: r.status, location: r.location, body: r.body.toString('utf8') });
      return;
    }
  }

  /** Forgets the socket (the next request reconnects) and fails the request in flight with err, if any. */
  private drop(err: Error | null): void {
    const socket = this.socket;
    this.socket = null;
    this.received = null;
    socket?.destroy();
    const pending = this.pending;
    if (pending === null || err === null) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.reject(err);
  }
}
