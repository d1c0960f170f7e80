// Shared calls into the node (worker/front/coalesce.ts) with V8's TurboFan on.
// A request waiting for another's call must resume in its own context once
// TurboFan has optimized the request path; in the pinned workerd it did not
// while the waiter's promise came from `new Promise` (docs/turbofan-context.md).
// --invocation-count-for-turbofan=300 only makes TurboFan take the hot
// functions within the first seconds of load instead of after minutes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../launcher/start-cluster';
import { runLoad } from '../../bench/load';
import type { StatusReport } from '../../worker/node-api';

const v8Flags = ['--max-semi-space-size=1', '--no-parallel-scavenge', '--invocation-count-for-turbofan=300'];

describe('shared calls with TurboFan on', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 1,
      basePort: 18_760,
      electionTimeoutMs: 150,
      heartbeatIntervalMs: 30,
      requestTimeoutMs: 2000,
      logLevel: 'warn',
      v8Flags,
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers every request of a 64-client load, and the requests shared calls', async () => {
    const leader = await cluster.waitForLeader();
    const load = (mix: { write: number; read: number }) =>
      runLoad({ urls: [leader.url], concurrency: 64, durationMs: 3000, mix, keys: 200, valueSize: 100, client: 'raw' });
    const writes = await load({ write: 1, read: 0 });
    const reads = await load({ write: 0, read: 1 });
    const status = (await (await fetch(`${leader.url}/status`, { signal: AbortSignal.timeout(5000) })).json()) as StatusReport;
    console.log(
      `writes ${writes.ops} (${JSON.stringify(writes.errorKinds)}), reads ${reads.ops} (${JSON.stringify(reads.errorKinds)}); calls: ${JSON.stringify(status.coalesced)}`,
    );
    expect(writes.errorKinds).toEqual({});
    expect(reads.errorKinds).toEqual({});
    expect(status.coalesced!.writes.batches).toBeLessThan(status.coalesced!.writes.requests);
    expect(status.coalesced!.reads.batches).toBeLessThan(status.coalesced!.reads.requests);
    expect(cluster.logs(leader.id).filter((l) => l.includes('different request'))).toEqual([]);
  });
});
