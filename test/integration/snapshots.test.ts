// Log compaction and InstallSnapshot (§7) on a real 3-node cluster with tiny
// thresholds: a follower that was down while the log moved past it catches
// up through a snapshot and then holds the same state as the leader, and a
// restart of the whole cluster keeps every acknowledged write.
// Ports 18850-18852. Every wait is a bounded poll; no timing is asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftKvClient } from '../../client/client';
import { startCluster, type Cluster, type StatusReport } from '../../launcher/start-cluster';

const snapshotEvery = 50;
const logRetain = 10;
const writers = 8;
const writesPerWriter = 40;
const keysPerWriter = 6;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | string;
  for (;;) {
    try {
      const v = await probe();
      if (ok(v)) return v;
      last = v;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

describe('snapshots on a 3-node cluster (SNAPSHOT_EVERY=50, LOG_RETAIN=10)', () => {
  let cluster: Cluster;
  /** The last acknowledged value of every key written (each key has one writer, so "last" is well defined). */
  const acked = new Map<string, string>();

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 3,
      basePort: 18_850,
      electionTimeoutMs: 300,
      heartbeatIntervalMs: 50,
      requestTimeoutMs: 2000,
      // info: the core logs "installing a snapshot" at that level.
      logLevel: 'info',
      snapshotEvery,
      logRetain,
    });
    await cluster.waitForLeader();
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  const urls = (): string[] => cluster.members.map((m) => m.url);

  /** Writer w sets its own keys in turn; every acknowledged value is recorded. */
  async function write(round: string): Promise<void> {
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const c = new RaftKvClient({ nodes: urls(), timeoutMs: 15_000 });
        for (let i = 0; i < writesPerWriter; i++) {
          const key = `w${w}-k${i % keysPerWriter}`;
          const value = `${round}-${w}-${i}`;
          const r = await c.set(key, value);
          if (!r.ok) throw new Error(`${key}=${value}: ${r.error.message}`);
          acked.set(key, value);
        }
      }),
    );
  }

  /** Every acknowledged write, read linearizably through whoever leads. */
  async function expectAllAcked(c: RaftKvClient): Promise<void> {
    const wrong: string[] = [];
    for (const [key, value] of acked) {
      const r = await c.get(key);
      if (!r.ok || r.value !== value) wrong.push(`${key}: want ${value}, got ${JSON.stringify(r)}`);
    }
    expect(wrong).toEqual([]);
  }

  it(
    'a follower that missed hundreds of entries catches up through a snapshot and then serves the same state',
    { timeout: 180_000 },
    async () => {
      const leader = await cluster.waitForLeader();
      const follower = cluster.members.find((m) => m.id !== leader.id)!;
      await write('a'); // some history before the follower goes
      const commit = (await cluster.status(leader.id)).commitIndex;
      const caught = await until(
        'the follower has the first round',
        () => cluster.status(follower.id),
        (s) => s.appliedIndex >= commit,
        15_000,
      );
      await cluster.kill(follower.id);
      // The follower's log ends about here (a heartbeat may have brought it a few entries more).
      const behind = caught.lastLogIndex;

      await write('b');
      await write('c');
      const leaderNow = await cluster.waitForLeader();
      const ls = await cluster.status(leaderNow.id);
      // The log the follower would need has been compacted away on the leader.
      expect(ls.firstLogIndex).toBeGreaterThan(behind + 1);

      const restartedAt = Date.now();
      await cluster.restart(follower.id);
      const target = (await cluster.status(leaderNow.id)).commitIndex;
      const fs = await until(
        'the follower caught up',
        () => cluster.status(follower.id),
        (s) => s.appliedIndex >= target,
        30_000,
      ).catch(async (err: unknown) => {
        for (const m of cluster.members)
          console.log(m.id, JSON.stringify(await cluster.status(m.id).catch(String)), '\n', cluster.logs(m.id).slice(-40).join('\n'));
        throw err;
      });
      console.log(
        `follower ${follower.id} caught up to ${target} in ${Date.now() - restartedAt} ms after its restart began; snapshotIndex ${fs.snapshotIndex}`,
      );
      // It got there through a snapshot past the point where it stopped, not by replaying the log.
      expect(fs.snapshotIndex).toBeGreaterThan(behind);
      expect(cluster.logs(follower.id).some((l) => l.includes('installing a snapshot'))).toBe(true);
      // The leader hears of the install and goes back to sending entries.
      const peerState = async (): Promise<string | undefined> =>
        (await cluster.status(leaderNow.id)).peers.find((p) => p.id === follower.id)?.state;
      await until("the leader's view of the follower", peerState, (s) => s === 'replicate', 10_000);

      // Reads are served by the leader, so make the caught-up follower lead: restart whichever node
      // leads until an election picks it (each election among the other two is a coin toss).
      const reader = new RaftKvClient({ nodes: [follower.url], timeoutMs: 15_000 });
      for (let tries = 0; ; tries++) {
        const now = await cluster.waitForLeader(20_000);
        if (now.id === follower.id) break;
        if (tries === 10) throw new Error(`${follower.id} never became leader`);
        await cluster.restart(now.id);
      }
      await expectAllAcked(reader);
      const st: StatusReport = await cluster.status(follower.id);
      expect(st.role).toBe('leader');
    },
  );

  it('a restart of the whole cluster keeps every acknowledged write', { timeout: 180_000 }, async () => {
    await write('d');
    const before = await Promise.all(cluster.members.map((m) => cluster.status(m.id)));
    // Every node compacted: what survives the restart is snapshot plus log tail.
    for (const s of before) expect(s.snapshotIndex).toBeGreaterThan(0);

    await Promise.all(cluster.members.map((m) => cluster.kill(m.id)));
    await Promise.all(cluster.members.map((m) => cluster.restart(m.id)));
    await cluster.waitForLeader(30_000);
    const c = new RaftKvClient({ nodes: urls(), timeoutMs: 15_000 });
    await expectAllAcked(c);

    const after = await Promise.all(cluster.members.map((m) => cluster.status(m.id)));
    for (const [i, s] of after.entries()) expect(s.firstLogIndex).toBeGreaterThanOrEqual(before[i]!.firstLogIndex);
    // And the cluster takes writes again.
    expect(await c.set('after-restart', 'yes')).toEqual({ ok: true });
    expect(await c.get('after-restart')).toEqual({ ok: true, value: 'yes' });
  });
});
