// A node that falls quiet after a burst of writes runs one full garbage
// collection itself (worker/adapters/idle-collect.ts), which needs the
// launcher's `--expose-gc` in workerd's V8 flags. Each node's /metrics counts
// those collections: at least one per node after the burst, none more while it stays idle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parse from 'parse-prometheus-text-format';
import { startCluster, type Cluster } from '../../launcher/start-cluster';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    basePort: 19_910,
    electionTimeoutMs: 300,
    heartbeatIntervalMs: 50,
    requestTimeoutMs: 2000,
    logLevel: 'warn',
  });
  await cluster.waitForLeader(20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

async function collections(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const family = parse(await res.text()).find((f) => f.name === 'raftkv_idle_collections_total');
  if (family === undefined) throw new Error(`${url}/metrics has no raftkv_idle_collections_total`);
  return Number((family.metrics[0] as { value: string }).value);
}

const counts = () => Promise.all(cluster.members.map((m) => collections(m.url)));

describe('collection after a burst', () => {
  it('each node collects when the writes stop, and not again while idle', async () => {
    const leader = await cluster.waitForLeader();
    expect(await counts()).toEqual([0, 0, 0]);
    // 4,000 writes: every node stores and applies each (8,000 units of work, over the 5,000 that make a collection worthwhile).
    let done = 0;
    const writer = async () => {
      for (let i = 0; done < 4000; i++) {
        // fetch follows a redirect to a new leader; a 503 (no leader for a moment) is retried.
        const res = await fetch(`${leader.url}/kv/idle-${i % 100}`, { method: 'PUT', body: `v${i}` });
        if (res.ok) done++;
        else await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all(Array.from({ length: 32 }, writer));
    // A collection follows the first quiet window after the burst (one to two seconds).
    const deadline = Date.now() + 10_000;
    let seen = await counts();
    while (seen.some((n) => n === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await counts();
    }
    expect(seen.every((n) => n >= 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await counts()).toEqual(seen);
  }, 60_000);
});
