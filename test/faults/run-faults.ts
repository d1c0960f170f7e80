// One fault-injection run, start to finish: cluster up, clients and nemesis
// for `timeSec`, heal, liveness and final reads, cluster down, safety checks,
// artifacts on failure. Used by the CLI (run.ts) and by the vitest test.
// One seed drives every random choice (schedule, clients, node picks); the
// timing of the real processes is the only thing a replay cannot repeat.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Prng } from '../sim/prng';
import { checkSafety, finalPhase } from './check';
import { FaultCluster } from './cluster';
import { Nemesis } from './nemesis';
import { repoRoot } from './node-runner';
import { countSnapshotInstalls, scanLogs, writeArtifacts } from './report';
import { Workload } from './workload';

export interface FaultRunOptions {
  timeSec: number;
  nodes: number;
  seed: number;
  clients: number;
  keys: number;
  nodeBasePort: number;
  proxyBasePort: number;
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  /** Every node's SNAPSHOT_EVERY and LOG_RETAIN: small, so that faults meet compaction and InstallSnapshot. */
  snapshotEvery: number;
  logRetain: number;
  opDeadlineMs: number;
  attemptTimeoutMs: number;
  thinkMaxMs: number;
  /** Liveness budget after healing (leader, first write, each final read). */
  recoveryBudgetMs: number;
  /** Keep the run folder even when the run passes. */
  keep: boolean;
  /** Self-test: killed nodes may restart with their data wiped (see Nemesis). */
  amnesia: boolean;
  /** The membership nemesis (membership.ts): add, promote, remove, replace alongside the faults. */
  membership: boolean;
  runsDir: string;
}

export const defaultOptions: Omit<FaultRunOptions, 'seed'> = {
  timeSec: 60,
  nodes: 3,
  clients: 5,
  keys: 4,
  nodeBasePort: 19500,
  proxyBasePort: 19600,
  electionTimeoutMs: 300,
  heartbeatIntervalMs: 60,
  requestTimeoutMs: 1000,
  snapshotEvery: 20,
  logRetain: 5,
  opDeadlineMs: 2500,
  attemptTimeoutMs: 1500,
  thinkMaxMs: 40,
  recoveryBudgetMs: 10_000,
  keep: false,
  amnesia: false,
  membership: true,
  runsDir: join(repoRoot, 'test/faults/runs'),
};

export interface FaultRunResult {
  ok: boolean;
  seed: number;
  /** Kept folder (failure or --keep), else null. */
  runDir: string | null;
  failures: string[];
  summary: string;
  replay: string;
  /** Snapshots installed by followers during the run (from the node logs), by node. */
  snapshotsInstalled: Map<string, number>;
}

export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** Every cluster still running, for the exit and signal handlers. */
const live = new Set<FaultCluster>();
const killLive = (): void => {
  for (const c of live) c.killNow();
};
process.on('exit', killLive);

/** SIGKILL every node of every run in progress (synchronous, for signal handlers). */
export function killEverything(): void {
  killLive();
}

export async function runFaults(
  o: FaultRunOptions,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<FaultRunResult> {
  if (o.nodes < 3 || o.nodes > 9) throw new Error(`--nodes must be 3..9, got ${o.nodes}`);
  const replay = `npm run faults -- --seed ${o.seed} --time ${o.timeSec} --nodes ${o.nodes} --clients ${o.clients} --keys ${o.keys} --snapshot-every ${o.snapshotEvery} --log-retain ${o.logRetain}${o.membership ? '' : ' --membership off'}${o.amnesia ? ' --unsafe-amnesia' : ''}`;
  // Two spare slots: room for a joining node while the voters are one more than at start.
  const slots = o.membership && !o.amnesia ? o.nodes + 2 : o.nodes;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(o.runsDir, `${stamp}-seed${o.seed}`);
  mkdirSync(runDir, { recursive: true });
  const origin = performance.now();
  const now = (): number => performance.now() - origin;
  const root = new Prng(o.seed);
  const nemesisRng = root.fork();
  const clientRng = root.fork();
  const checkRng = root.fork();
  log(
    `faults: SEED=${o.seed} nodes=${o.nodes} time=${o.timeSec}s clients=${o.clients} keys=${o.keys} snapshot-every=${o.snapshotEvery} log-retain=${o.logRetain} membership=${slots > o.nodes ? `on (${slots} slots)` : 'off'} folder=${runDir}`,
  );

  const cluster = new FaultCluster({
    nodes: o.nodes,
    slots,
    nodeBasePort: o.nodeBasePort,
    proxyBasePort: o.proxyBasePort,
    runDir,
    secret: `faults-${randomBytes(12).toString('hex')}`,
    electionTimeoutMs: o.electionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    requestTimeoutMs: o.requestTimeoutMs,
    logLevel: 'info',
    snapshotEvery: o.snapshotEvery,
    logRetain: o.logRetain,
    startTimeoutMs: 60_000,
    now,
  });
  live.add(cluster);
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i + 1}`);
  const workload = new Workload(
    {
      clients: o.clients,
      keys,
      runTag: `f${o.seed}-${stamp.slice(11, 19)}`,
      nodes: cluster.urls(),
      proxyTargets: cluster.network.proxyTargets(),
      opDeadlineMs: o.opDeadlineMs,
      attemptTimeoutMs: o.attemptTimeoutMs,
      thinkMaxMs: o.thinkMaxMs,
      now,
    },
    clientRng,
  );
  const nemesis = new Nemesis(cluster, nemesisRng, {
    minGapMs: 1000,
    maxGapMs: 4000,
    maxActive: o.nodes >= 5 ? 3 : 2,
    amnesia: o.amnesia,
    membership: slots > o.nodes ? { minVoters: o.nodes, maxMembers: slots } : null,
    now,
  });
  const failures: string[] = [];
  const notes: string[] = [];
  let faultSeconds = 0;
  try {
    await cluster.start();
    log(`faults: ${o.nodes} nodes up after ${Math.round(now())} ms`);
    const first = await cluster.waitForLeader(20_000);
    if (first === null) throw new Error('no leader elected within 20 s of start-up');
    log(`faults: leader ${first}; clients and nemesis start`);
    const faultsFrom = now();
    workload.start();
    try {
      await nemesis.run(faultsFrom + o.timeSec * 1000, () => cluster.crashes.length > 0);
    } finally {
      faultSeconds = (now() - faultsFrom) / 1000;
      await workload.stop();
    }
    log(`faults: healed at t=${(now() / 1000).toFixed(1)}s; checking liveness and reading every key`);
    const final = await finalPhase(cluster, workload, keys, checkRng, now, o.recoveryBudgetMs);
    failures.push(...final.failures);
    notes.push(...final.notes);
  } catch (err) {
    failures.push(`run aborted: ${(err as Error).message}`);
  } finally {
    await cluster.stop().catch((err: unknown) => failures.push(`stopping the cluster: ${(err as Error).message}`));
    live.delete(cluster);
  }

  if (nemesis.members?.error) failures.push(`the membership nemesis stopped: ${nemesis.members.error}`);
  for (const c of cluster.crashes)
    failures.push(`node ${c.node} exited on its own at t=${(c.atMs / 1000).toFixed(1)}s (code ${c.code}, signal ${c.signal})`);
  if (workload.anomalies.length > 0)
    failures.push(`${workload.anomalies.length} answers outside the API contract, first: ${workload.anomalies[0]}`);
  const scan = scanLogs(cluster.logFiles());
  const installed = countSnapshotInstalls(cluster.logFiles());
  const installs = [...installed.values()].reduce((a, b) => a + b, 0);
  if (scan.errors.length > 0)
    failures.push(`node logs report errors (${scan.errors.length}${scan.errors.length >= 20 ? '+' : ''}):\n  ${scan.errors.join('\n  ')}`);
  for (const [why, count] of scan.known) notes.push(`known log error ×${count}: ${why}`);
  const safety = checkSafety(workload.history);
  failures.push(...safety.failures);
  notes.push(...safety.notes);
  const violation = safety.violation;

  const s = workload.stats;
  const started = nemesis.events.filter((e) => e.action === 'start').length;
  const m = nemesis.members?.counts;
  const t = nemesis.transfers;
  const changes =
    m === undefined
      ? ''
      : `changes done=${m.done.add + m.done.promote + m.done.remove + m.done.cleanup} (add ${m.done.add}, promote ${m.done.promote}, ` +
        `remove ${m.done.remove + m.done.cleanup}, replaced ${m.replaced}; refused ${m.refused}, unknown ${m.unknown}) `;
  const ok = failures.length === 0;
  const summary =
    `faults: ${ok ? 'PASS' : 'FAIL'} seed=${o.seed} nodes=${o.nodes} faults=${started} in ${faultSeconds.toFixed(0)}s ` +
    `ops=${s.ok + s.failed + s.unknown} (ok ${s.ok}, failed ${s.failed}, unknown ${s.unknown}) ` +
    changes +
    `transfers=${t.done}/${t.asked} ` +
    `snapshots installed=${installs}${
      installs > 0
        ? ` (${[...installed]
            .filter(([, n]) => n > 0)
            .map(([id, n]) => `${id} ${n}`)
            .join(', ')})`
        : ''
    }` +
    (ok ? '' : ` failures=${failures.length}`);
  for (const n of notes) log(`faults: ${n}`);
  let kept: string | null = null;
  if (!ok || o.keep) {
    writeArtifacts(runDir, {
      history: workload.history,
      nemesis: nemesis.events,
      crashes: cluster.crashes,
      anomalies: workload.anomalies,
      failures,
      notes,
      violation,
      options: { ...o },
    });
    kept = runDir;
  } else {
    rmSync(runDir, { recursive: true, force: true });
  }
  if (!ok) {
    for (const f of failures) log(`faults: FAILURE ${f}`);
    log(`faults: history, nemesis schedule and node logs in ${runDir}`);
    log(`faults: replay with: ${replay}`);
  }
  log(summary);
  return { ok, seed: o.seed, runDir: kept, failures, summary, replay, snapshotsInstalled: installed };
}
