// A lean load-generator client on node:http with keep-alive (--client http).
//
// Node's fetch costs several times the CPU of node:http per request
// (docs/benchmarks.md), and the load generator shares the machine's cores
// with the nodes. The policy (redirects, retries, serials) is
// RetryingClient's (load-client.ts); this file is only the transport. It sends
// no Accept-Encoding, so answers are not gzipped.
import { Agent, request } from 'node:http';
import { RetryingClient, type Answer } from './load-client';

export type { LoadClient, OpResult } from './load-client';

export class LeanHttpClient extends RetryingClient {
  constructor(
    nodes: string[],
    private readonly agent: Agent,
    timeoutMs = 5000,
  ) {
    super(nodes, timeoutMs);
  }

  protected override send(
    base: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<Answer> {
    const url = new URL(base);
    const allHeaders = body === undefined ? headers : { 'content-type': 'text/plain; charset=utf-8', ...headers };
    return new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method, path, headers: allHeaders, agent: this.agent, timeout: Math.max(1, timeoutMs) },
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

/** One keep-alive agent per load run, shared by its clients (one socket per concurrent request). */
export function leanAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1024 });
}
