// A timed cluster start: the longevity run compares a restart on its data with fresh starts.
import { setTimeout as sleep } from 'node:timers/promises';
import { RaftKvClient } from '../../client/client';
import { startCluster, type Cluster } from '../../launcher/start-cluster';
import { waitForAgreedLeader } from '../../launcher/status';
import { keyName } from '../load';
import type { LongevityOptions } from './options';

export interface StartTiming {
  label: string;
  /** From the launcher's call to every node answering /status. */
  upMs: number;
  /** From the launcher's call to a leader a majority agrees on. */
  leaderMs: number;
  /** From the launcher's call to the first successful linearizable read. */
  firstReadMs: number;
}

/** Starts the cluster on `dataDir` and times it up to the first successful read. */
export async function timedStart(
  label: string,
  o: LongevityOptions,
  basePort: number,
  dataDir: string,
  secret: string,
): Promise<{ cluster: Cluster; timing: StartTiming }> {
  const t0 = performance.now();
  const cluster = await startCluster({
    nodes: 3,
    basePort,
    dataDir,
    secret,
    mode: 'process',
    logLevel: 'warn',
    snapshotEvery: o.snapshotEvery,
    logRetain: o.logRetain,
  });
  const upMs = performance.now() - t0;
  await waitForAgreedLeader(cluster.members, cluster.members.length, 60_000, 10);
  const leaderMs = performance.now() - t0;
  const reader = new RaftKvClient({
    nodes: cluster.members.map((m) => m.url),
    timeoutMs: 2000,
    attemptTimeoutMs: 500,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  const deadline = t0 + 60_000;
  for (;;) {
    const r = await reader.get(keyName(0));
    if (r.ok) break;
    if (performance.now() > deadline) {
      await cluster.stop();
      throw new Error(`${label}: no read succeeded within 60 s of the start`);
    }
    await sleep(2);
  }
  return { cluster, timing: { label, upMs, leaderMs, firstReadMs: performance.now() - t0 } };
}

export function formatStart(t: StartTiming): string {
  return `${t.label}: nodes up ${Math.round(t.upMs)} ms, leader ${Math.round(t.leaderMs)} ms, first read ${Math.round(t.firstReadMs)} ms`;
}
