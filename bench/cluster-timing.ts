// Timings of a cluster's life: start-up (spawn -> leader -> first write
// acknowledged) and failover (leader killed -> new leader elected -> first
// write acknowledged by it).
import { RaftKvClient } from '../client/client';
import type { Member } from '../launcher/start-cluster';
import { collectStatuses, fetchStatus, waitForAgreedLeader } from '../launcher/status';
import type { BenchTarget, NodeControl } from './target';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client that retries quickly, so the times measured are the cluster's, not the client's backoff. */
function eagerClient(urls: string[]): RaftKvClient {
  return new RaftKvClient({
    nodes: urls,
    timeoutMs: 2000,
    attemptTimeoutMs: 500,
    backoff: { initialMs: 5, maxMs: 20 },
  });
}

/** Keeps writing until one write is acknowledged; resolves with the time it was (performance.now()). */
async function firstWrite(
  client: RaftKvClient,
  key: string,
  deadlineMs: number,
  accept: () => boolean = () => true,
): Promise<number | null> {
  while (performance.now() < deadlineMs) {
    const r = await client.set(key, String(Date.now()));
    if (r.ok && accept()) return performance.now();
    if (!r.ok) await sleep(2);
  }
  return null;
}

export interface StartupTiming {
  /** Spawn -> every node answers /status (the launcher returned). */
  spawnMs: number;
  /** Spawn -> a majority agrees on a leader. */
  leaderMs: number;
  /** Spawn -> the first write acknowledged. */
  firstWriteMs: number;
  bundleMs: number | null;
}

/** Call right after the target started; its spawnMs is the start of the clock. */
export async function measureStartup(target: BenchTarget, afterStart: number): Promise<StartupTiming> {
  const base = (target.spawnMs ?? 0) - afterStart; // performance.now() + base = ms since spawn
  const leader = await waitForAgreedLeader(target.members, target.members.length, 30_000, 10);
  const leaderAt = performance.now();
  void leader;
  const client = eagerClient(target.members.map((m) => m.url));
  const wrote = await firstWrite(client, 'bench-startup', performance.now() + 30_000);
  if (wrote === null) throw new Error('no write was acknowledged within 30 s of start-up');
  return { spawnMs: target.spawnMs ?? 0, leaderMs: leaderAt + base, firstWriteMs: wrote + base, bundleMs: target.bundleMs };
}

export interface FailoverTrial {
  killed: string;
  newLeader: string | null;
  /** Kill -> a surviving node reports itself leader in a newer term. */
  electedMs: number | null;
  /** Kill -> the first write acknowledged (by a node other than the killed one). */
  firstWriteMs: number | null;
  /** Restart of the killed node -> it caught up with the leader's commit index. */
  rejoinMs: number | null;
}

/** Polls the survivors until one leads in a term above `term`; resolves with that moment. */
async function watchElection(survivors: Member[], term: number, deadlineMs: number): Promise<{ at: number; id: string } | null> {
  while (performance.now() < deadlineMs) {
    const statuses = await collectStatuses(survivors, 200);
    const winner = statuses.find((s) => s.role === 'leader' && s.term > term);
    if (winner) return { at: performance.now(), id: winner.id };
    await sleep(5);
  }
  return null;
}

export async function failoverTrial(members: Member[], control: NodeControl): Promise<FailoverTrial> {
  const urls = members.map((m) => m.url);
  const leader = await waitForAgreedLeader(members, members.length, 30_000, 20);
  const before = await fetchStatus(leader.url, 2000);
  const client = eagerClient(urls);
  // A warm client that knows the leader, as a long-running application would.
  const warm = await firstWrite(client, 'bench-failover', performance.now() + 10_000);
  if (warm === null) throw new Error('failover: the cluster took no write before the kill');
  const survivors = members.filter((m) => m.id !== leader.id);

  const t0 = performance.now();
  const killing = control.kill(leader.id); // the SIGKILL goes out before the first await inside
  const deadline = t0 + 15_000;
  const [elected, wrote] = await Promise.all([
    watchElection(survivors, before.term, deadline),
    firstWrite(client, 'bench-failover', deadline, () => client.leader !== leader.url),
  ]);
  await killing;

  const r0 = performance.now();
  await control.restart(leader.id);
  const rejoined = await waitCaughtUp(members, leader, performance.now() + 30_000);
  return {
    killed: leader.id,
    newLeader: elected?.id ?? null,
    electedMs: elected ? elected.at - t0 : null,
    firstWriteMs: wrote !== null ? wrote - t0 : null,
    rejoinMs: rejoined !== null ? rejoined - r0 : null,
  };
}

/** Waits until `node` has applied everything the current leader had committed when we asked. */
async function waitCaughtUp(members: Member[], node: Member, deadlineMs: number): Promise<number | null> {
  while (performance.now() < deadlineMs) {
    try {
      const leader = await waitForAgreedLeader(members, members.length, Math.max(100, deadlineMs - performance.now()), 20);
      const lead = await fetchStatus(leader.url, 1000);
      const mine = await fetchStatus(node.url, 1000);
      if (mine.appliedIndex >= lead.commitIndex) return performance.now();
    } catch {
      // not yet
    }
    await sleep(20);
  }
  return null;
}

/** The agreed leader now, or null (for labelling processes). */
export async function currentLeader(members: Member[]): Promise<Member | null> {
  try {
    return await waitForAgreedLeader(members, members.length, 5000, 20);
  } catch {
    return null;
  }
}
