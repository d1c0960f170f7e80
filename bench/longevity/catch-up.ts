// --catch-up: a follower stopped during the writes and timed, once they are over,
// to the leader's applied index (past the leader's log: through a snapshot).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, StatusReport } from '../../launcher/start-cluster';
import { statusOrNull } from './sampling';

export interface CatchUp {
  node: string;
  /** Writes acknowledged when it was stopped, and its log then. */
  stoppedAtWrites: number;
  lastLogIndexWhenStopped: number | null;
  /** The leader's log when the follower started again (a first index past the follower's last: only a snapshot helps). */
  leaderFirstLogIndex: number;
  leaderAppliedIndex: number;
  /** From the start call to its applied index equal to the leader's (the leader idle by then), and what it showed then. */
  matchedMs: number | null;
  snapshotIndex: number | null;
  appliedIndex: number | null;
}

/** Stops a follower, and later starts it again and times it to the leader's applied index (the writes over). */
export function catchUpTest(
  cluster: Cluster,
  log: (line: string) => void,
): {
  stop: (writes: number) => Promise<void>;
  finish: () => Promise<CatchUp>;
} {
  let node: string | null = null;
  let stoppedAtWrites = 0;
  let lastLogIndexWhenStopped: number | null = null;
  return {
    stop: async (writes) => {
      const leader = await cluster.waitForLeader(10_000);
      node = cluster.members.find((m) => m.id !== leader.id)!.id;
      lastLogIndexWhenStopped = (await statusOrNull(cluster.members.find((m) => m.id === node)!.url))?.lastLogIndex ?? null;
      stoppedAtWrites = writes;
      await cluster.kill(node);
      log(`longevity: stopped follower ${node} (SIGKILL) after ${writes} writes, its log at ${lastLogIndexWhenStopped ?? '?'}`);
    },
    finish: async () => {
      if (node === null) throw new Error('catch-up: no follower was stopped');
      const id = node;
      const url = cluster.members.find((m) => m.id === id)!.url;
      const leader = await cluster.waitForLeader(10_000);
      const ls = await cluster.status(leader.id);
      const t0 = performance.now();
      await cluster.restart(id);
      let matchedMs: number | null = null;
      let last: StatusReport | null = null;
      while (performance.now() - t0 < 60_000) {
        last = await statusOrNull(url);
        if (last !== null && last.appliedIndex >= ls.appliedIndex) {
          matchedMs = performance.now() - t0;
          break;
        }
        await sleep(20);
      }
      const r: CatchUp = {
        node: id,
        stoppedAtWrites,
        lastLogIndexWhenStopped,
        leaderFirstLogIndex: ls.firstLogIndex,
        leaderAppliedIndex: ls.appliedIndex,
        matchedMs,
        snapshotIndex: last?.snapshotIndex ?? null,
        appliedIndex: last?.appliedIndex ?? null,
      };
      log(`longevity: ${formatCatchUp(r)}`);
      return r;
    },
  };
}

export function formatCatchUp(c: CatchUp): string {
  const matched = c.matchedMs === null ? 'did not reach it within 60 s' : `matched it in ${(c.matchedMs / 1000).toFixed(2)} s`;
  return `catch-up: ${c.node} stopped after ${c.stoppedAtWrites} writes (its log at ${c.lastLogIndexWhenStopped ?? '?'}); started again with the leader at applied ${c.leaderAppliedIndex}, log from ${c.leaderFirstLogIndex}; ${matched}; then snapshotIndex ${c.snapshotIndex ?? '?'}, applied ${c.appliedIndex ?? '?'}`;
}
