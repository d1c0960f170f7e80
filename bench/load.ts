// Closed-loop load: N workers, each with its own client, each running one
// operation at a time for a fixed time. Latency is measured around each
// client call with performance.now(), so it includes leader discovery and any
// retries the client makes, as a user of the client would see it.
import { RaftKvClient } from '../client/client';
import { LeanHttpClient, leanAgent } from './clients/http-client';
import { RawHttpClient } from './clients/raw-client';
import { WsLoadClient } from './clients/ws-client';
import type { LoadClient } from './clients/load-client';
import type { ClientKind, Mix } from './options';
import { SampleBuffer, summarize, type LatencySummary } from './stats';

export interface LoadSpec {
  urls: string[];
  concurrency: number;
  durationMs: number;
  mix: Mix;
  keys: number;
  valueSize: number;
  /** Per-operation deadline of the client (all retries included). */
  opTimeoutMs?: number;
  client?: ClientKind;
  /** Makes the clients instead of `client` (the etcd comparison drives etcd with the same loop). */
  makeClients?: (count: number, opTimeoutMs: number) => { clients: LoadClient[]; close: () => void };
}

export interface LoadResult {
  concurrency: number;
  durationMs: number;
  ops: number;
  opsPerSec: number;
  errors: number;
  /** Error type -> count (client error type and code). */
  errorKinds: Record<string, number>;
  latency: LatencySummary;
  /** Per operation kind. */
  byOp: Record<string, LatencySummary>;
  /** Successful operations in each whole second, to see stalls. */
  perSecond: number[];
  /** Latency percentiles of the operations that finished in each whole second (null: none did); bench/charts.ts plots them. */
  latencyPerSecond: { p50Ms: number | null; p99Ms: number | null }[];
}

/** A value of the given length; the worker and serial vary the front so values differ. */
export function makeValue(size: number, worker: number, n: number): string {
  const head = `${worker}:${n}:`;
  return head.length >= size ? head.slice(0, size) : head + 'x'.repeat(size - head.length);
}

/** A small fast PRNG per worker (xorshift32), so key choice costs nothing and runs repeat. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

export function keyName(i: number): string {
  return `bench-${i}`;
}

export function makeClients(
  urls: string[],
  count: number,
  opTimeoutMs: number,
  _tag: string, // named the clients' ids before they registered sessions; kept so callers stay as they are
  kind: ClientKind = 'client',
): { clients: LoadClient[]; close: () => void } {
  // Each client registers its own session on its first write (docs/sessions.md).
  if (kind === 'http') {
    const agent = leanAgent();
    return {
      clients: Array.from({ length: count }, () => new LeanHttpClient(urls, agent, opTimeoutMs)),
      close: () => agent.destroy(),
    };
  }
  if (kind === 'raw' || kind === 'ws') {
    const clients = Array.from({ length: count }, () =>
      kind === 'raw' ? new RawHttpClient(urls, opTimeoutMs) : new WsLoadClient(urls, opTimeoutMs),
    );
    return { clients, close: () => clients.forEach((c) => c.close()) };
  }
  return {
    clients: Array.from({ length: count }, () => new RaftKvClient({ nodes: urls, timeoutMs: opTimeoutMs })),
    close: () => {},
  };
}

let clientGeneration = 0;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const opTimeoutMs = spec.opTimeoutMs ?? 5000;
  const { clients, close } = spec.makeClients
    ? spec.makeClients(spec.concurrency, opTimeoutMs)
    : makeClients(spec.urls, spec.concurrency, opTimeoutMs, `${Date.now().toString(36)}-${clientGeneration++}`, spec.client);
  const all = new SampleBuffer();
  const byOp = { write: new SampleBuffer(), read: new SampleBuffer() };
  const errorKinds: Record<string, number> = {};
  const secondCount = Math.max(1, Math.ceil(spec.durationMs / 1000));
  const perSecond = new Array<number>(secondCount).fill(0);
  const secondSamples = Array.from({ length: secondCount }, () => new SampleBuffer());
  let errors = 0;
  const start = performance.now();
  const end = start + spec.durationMs;

  const worker = async (w: number): Promise<void> => {
    const client = clients[w]!;
    const random = rng(0x9e3779b9 ^ (w * 7919 + 1));
    let n = 0;
    while (performance.now() < end) {
      const key = keyName(Math.floor(random() * spec.keys));
      const isWrite = random() < spec.mix.write;
      const t0 = performance.now();
      const result = isWrite ? await client.set(key, makeValue(spec.valueSize, w, n++)) : await client.get(key);
      const t1 = performance.now();
      if (t1 > end) break; // a late finisher would stretch the window
      if (result.ok) {
        const ms = t1 - t0;
        all.push(ms);
        (isWrite ? byOp.write : byOp.read).push(ms);
        const sec = Math.floor((t1 - start) / 1000);
        if (sec < secondCount) {
          perSecond[sec]!++;
          secondSamples[sec]!.push(ms);
        }
      } else {
        errors++;
        const kind = result.error.code ? `${result.error.type}:${result.error.code}` : result.error.type;
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(clients.map((_, w) => worker(w)));
  close();
  const elapsed = Math.max(spec.durationMs, 1);
  const ops = all.length;
  const result: LoadResult = {
    concurrency: spec.concurrency,
    durationMs: elapsed,
    ops,
    opsPerSec: (ops * 1000) / elapsed,
    errors,
    errorKinds,
    latency: summarize(all.values()),
    byOp: {},
    perSecond,
    latencyPerSecond: secondSamples.map((b) => {
      if (b.length === 0) return { p50Ms: null, p99Ms: null };
      const l = summarize(b.values());
      return { p50Ms: l.p50Ms, p99Ms: l.p99Ms };
    }),
  };
  if (byOp.write.length > 0 && byOp.read.length > 0) {
    result.byOp.write = summarize(byOp.write.values());
    result.byOp.read = summarize(byOp.read.values());
  }
  return result;
}

/** Writes every key once, so reads find values (and the leader is found and warmed). */
export async function prefill(urls: string[], keys: number, valueSize: number, concurrency = 16): Promise<number> {
  const { clients, close } = makeClients(urls, Math.min(concurrency, keys), 10_000, `prefill-${Date.now().toString(36)}`, 'http');
  let next = 0;
  let failures = 0;
  await Promise.all(
    clients.map(async (c, w) => {
      for (let i = next++; i < keys; i = next++) {
        const r = await c.set(keyName(i), makeValue(valueSize, w, i));
        if (!r.ok) failures++;
      }
    }),
  );
  close();
  return failures;
}
