// A lean load-generator client on node:http with keep-alive (--client http).
//
// Node's fetch costs about three times the CPU of node:http per request
// (measured here: ~0.8-1.0 ms vs ~0.3 ms per request, client and a trivial
// server together, on this 2-core machine), and the load generator shares the
// two cores with the nodes. This client speaks the same API as RaftKvClient
// does (PUT/GET /kv/:key, Client-Id and Request-Serial on writes, follows 307
// to the leader, retries 503/504 and connection errors on the next node with
// the same serial) but with none of its generality. It sends no
// Accept-Encoding, so answers are not gzipped.
import { Agent, request } from 'node:http';

export interface LoadClient {
  set(key: string, value: string): Promise<OpResult>;
  get(key: string): Promise<OpResult>;
}

export type OpResult = { ok: true } | { ok: false; error: { type: string; code?: string } };

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LeanHttpClient implements LoadClient {
  private leader: string;
  private serial = 1;
  private next = 0;

  constructor(
    private readonly nodes: string[],
    private readonly clientId: string,
    private readonly agent: Agent,
    private readonly timeoutMs = 5000,
  ) {
    this.leader = nodes[0] ?? '';
  }

  set(key: string, value: string): Promise<OpResult> {
    const serial = this.serial++;
    const headers = { 'content-type': 'text/plain; charset=utf-8', 'client-id': this.clientId, 'request-serial': String(serial) };
    return this.run('PUT', `/kv/${encodeURIComponent(key)}`, headers, value, (a) => a.status === 200);
  }

  get(key: string): Promise<OpResult> {
    return this.run('GET', `/kv/${encodeURIComponent(key)}`, {}, undefined, (a) => a.status === 200 || a.status === 404);
  }

  private async run(method: string, path: string, headers: Record<string, string>, body: string | undefined, done: (a: Answer) => boolean): Promise<OpResult> {
    const deadline = performance.now() + this.timeoutMs;
    let last: OpResult = { ok: false, error: { type: 'timeout' } };
    for (let attempt = 0; attempt < 200 && performance.now() < deadline; attempt++) {
      let a: Answer;
      try {
        a = await this.send(this.leader, method, path, headers, body, deadline - performance.now());
      } catch (err) {
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

  private send(base: string, method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Answer> {
    const url = new URL(base);
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method, path, headers, agent: this.agent, timeout: Math.max(1, timeoutMs) },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }
}

function errorCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    return typeof parsed.error === 'string' ? parsed.error : undefined;
  } catch {
    return undefined;
  }
}

/** One keep-alive agent per load run, shared by its clients (one socket per concurrent request). */
export function leanAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1024 });
}
