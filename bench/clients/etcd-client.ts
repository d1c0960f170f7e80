// The load generator's client for etcd (`npm run bench -- --compare etcd`):
// etcd's HTTP/JSON gateway of the v3 API (POST /v3/kv/put, /v3/kv/range with
// base64 keys and values), spoken over the same hand-written HTTP/1.1
// connection as `--client raw` (raw-client.ts), so both clusters get a load
// generator of the same cost. A range without `serializable` is a
// linearizable read in etcd, as a GET is in raft-kv.
import { RawConnection } from './raw-client';
import type { LoadClient, OpResult } from './load-client';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The JSON bodies etcd's gateway takes (exported for the unit test). */
export function etcdPutBody(key: string, value: string): string {
  return JSON.stringify({ key: b64(key), value: b64(value) });
}

export function etcdRangeBody(key: string): string {
  return JSON.stringify({ key: b64(key) });
}

const jsonHeaders = { 'Content-Type': 'application/json' };

/**
 * One closed-loop client. It talks to `urls[0]` first (the caller puts the
 * leader there, as raft-kv's clients end up at the leader) and moves to the
 * next member on a connection error or a 5xx, within one deadline per operation.
 */
export class EtcdClient implements LoadClient {
  private readonly connections: RawConnection[];
  private at = 0;

  constructor(
    urls: string[],
    private readonly timeoutMs = 5000,
  ) {
    this.connections = urls.map((u) => new RawConnection(new URL(u)));
  }

  set(key: string, value: string): Promise<OpResult> {
    return this.run('/v3/kv/put', etcdPutBody(key, value));
  }

  get(key: string): Promise<OpResult> {
    return this.run('/v3/kv/range', etcdRangeBody(key));
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  private async run(path: string, body: string): Promise<OpResult> {
    const deadline = performance.now() + this.timeoutMs;
    let last: OpResult = { ok: false, error: { type: 'timeout' } };
    while (performance.now() < deadline) {
      const conn = this.connections[this.at]!;
      try {
        const a = await conn.request('POST', path, jsonHeaders, body, deadline - performance.now());
        if (a.status === 200) return { ok: true };
        last = { ok: false, error: { type: a.status >= 500 ? 'unavailable' : 'refused', code: String(a.status) } };
        if (a.status < 500) return last;
      } catch (err) {
        last = { ok: false, error: { type: 'unavailable', code: (err as NodeJS.ErrnoException).code } };
      }
      this.at = (this.at + 1) % this.connections.length;
      await sleep(5);
    }
    return last;
  }
}
