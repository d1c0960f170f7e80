// One HTTP attempt against one node, classified by what it tells us about
// whether the node could have acted on it. Built on node:http with a fresh
// connection per attempt (no pooling) so that "the connection was refused"
// reliably means "nothing was sent", and every other failure after the
// connection opened means "it may have been applied".
import { request } from 'node:http';

export type Attempt =
  | { kind: 'answer'; status: number; body: unknown; location: string | null }
  /** The connection was never established: the node never saw the request. */
  | { kind: 'notSent'; reason: string }
  /** Sent (or maybe sent) but no answer: the node may have acted on it. */
  | { kind: 'noAnswer'; reason: string };

export interface AttemptRequest {
  baseUrl: string;
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export function attempt(req: AttemptRequest): Promise<Attempt> {
  return new Promise((resolve) => {
    const url = new URL(req.path, req.baseUrl);
    let connected = false;
    let settled = false;
    const done = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const headers: Record<string, string> = { ...req.headers, connection: 'close' };
    if (body) headers['content-length'] = String(body.length);
    const r = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => done({ kind: 'noAnswer', reason: `response broke: ${e.message}` }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            // keep the raw text: the caller reports it as an unexpected answer
          }
          const loc = res.headers.location;
          done({ kind: 'answer', status: res.statusCode ?? 0, body: parsed, location: typeof loc === 'string' ? loc : null });
        });
      },
    );
    r.on('socket', (s) => {
      if (!s.connecting) connected = true;
      else s.once('connect', () => (connected = true));
    });
    r.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) done({ kind: 'notSent', reason: e.code ?? e.message });
      else done({ kind: 'noAnswer', reason: e.code ?? e.message });
    });
    const timer = setTimeout(() => {
      const wasConnected = connected;
      r.destroy();
      done(
        wasConnected
          ? { kind: 'noAnswer', reason: `no answer in ${req.timeoutMs} ms` }
          : { kind: 'notSent', reason: `no connection in ${req.timeoutMs} ms` },
      );
    }, req.timeoutMs);
    if (body) r.end(body);
    else r.end();
  });
}

/** A field of a JSON object body, or undefined. */
export function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}
