// Measures what the README reports about the local cluster: start-up time,
// memory (RSS of the workerd processes, plus node processes in process mode),
// and the time to elect a new leader after the leader is SIGKILLed; or, with
// --transfer, how long a leadership transfer (thesis §3.10) of a healthy
// cluster takes and when the first write on the new leader is acknowledged.
//
//   npx tsx launcher/measure.ts [--mode inprocess|process] [--runs 5] [--transfer]
//       [--nodes 3] [--base-port 18790] [--election-timeout-ms 400] [--heartbeat-interval-ms 80]
import { parseFlagMap, parseIntIn, parsePort, UsageError } from '../common/args';
import { RaftKvClient } from '../client/client';
import { commandLine, rssKiB } from './procfs';
import { agreedLeader, collectStatuses } from './status';
import type { Cluster, Member } from './start-cluster';

const known = {
  mode: 'string',
  runs: 'string',
  nodes: 'string',
  'base-port': 'string',
  'election-timeout-ms': 'string',
  'heartbeat-interval-ms': 'string',
  transfer: 'boolean',
} as const;

/**
 * Transfers leadership `runs` times on a healthy cluster, each time to another
 * voter, through the admin API. Per transfer: the time until the old leader
 * answers that the target took over, and until the first write sent straight to
 * the new leader is acknowledged (writes are refused during a transfer).
 */
async function measureTransfers(cluster: Cluster, runs: number): Promise<void> {
  const urls = cluster.members.map((m) => m.url);
  const admin = new RaftKvClient({ nodes: urls, adminToken: cluster.secret, timeoutMs: 10_000 });
  const writer = new RaftKvClient({ nodes: urls, timeoutMs: 10_000 });
  const warm = await writer.set('measure-warm', 'up');
  if (!warm.ok) throw new Error(`first write failed: ${JSON.stringify(warm.error)}`);
  const handovers: number[] = [];
  const resumed: number[] = [];
  for (let i = 0; i < runs; i++) {
    const leader = await cluster.waitForLeader();
    const others = cluster.members.filter((m) => m.id !== leader.id);
    const target = others[i % others.length]!;
    const t0 = performance.now();
    const r = await admin.transferLeadership(target.id, { node: leader.url });
    const t1 = performance.now();
    if (!r.ok) throw new Error(`transfer ${i + 1} to ${target.id} failed: ${r.error.message}`);
    const w = await writer.set('measure-after', String(i), { node: target.url, followRedirects: false });
    const t2 = performance.now();
    if (!w.ok) throw new Error(`first write on the new leader ${target.id} failed: ${w.error.message}`);
    handovers.push(t1 - t0);
    resumed.push(t2 - t0);
    console.log(
      `run ${i + 1}: ${leader.id} -> ${target.id}: handed over after ${(t1 - t0).toFixed(1)} ms, write acknowledged after ${(t2 - t0).toFixed(1)} ms`,
    );
    await new Promise((res) => setTimeout(res, 300));
  }
  console.log(`leadership transfer: ${summary(handovers)}`);
  console.log(`first write on the new leader acknowledged: ${summary(resumed)}`);
}

function summary(values: number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)]!;
  return `median ${median.toFixed(0)} ms, min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)} (n=${s.length})`;
}

/** Polls every 10 ms until a majority agrees on a leader other than `not`. */
async function nextLeader(cluster: Cluster, not: string, timeoutMs: number): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = agreedLeader(await collectStatuses(cluster.members, 300), cluster.members.length);
    if (leader && leader.id !== not) return leader;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no new leader within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  const f = parseFlagMap(process.argv.slice(2), known);
  const mode = f.get('mode') ?? 'inprocess';
  if (mode !== 'inprocess' && mode !== 'process') throw new UsageError('--mode must be inprocess or process');
  const runs = parseIntIn('--runs', f.get('runs') ?? '5', 1, 100);
  const nodes = parseIntIn('--nodes', f.get('nodes') ?? '3', 1, 15);
  const basePort = parsePort('--base-port', f.get('base-port') ?? '18790');
  const electionTimeoutMs = parseIntIn('--election-timeout-ms', f.get('election-timeout-ms') ?? '400', 1, 60_000);
  const heartbeatIntervalMs = parseIntIn('--heartbeat-interval-ms', f.get('heartbeat-interval-ms') ?? '80', 1, 60_000);
  const transfer = f.has('transfer');
  if (transfer && nodes < 2) throw new UsageError('--transfer needs at least 2 nodes');

  const { startCluster } = await import('./start-cluster');
  const t0 = performance.now();
  const cluster = await startCluster({ mode, nodes, basePort, electionTimeoutMs, heartbeatIntervalMs, logLevel: 'warn' });
  const stop = async (): Promise<void> => {
    await cluster.stop();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const upMs = performance.now() - t0;
    const first = await cluster.waitForLeader();
    const leaderMs = performance.now() - t0;
    console.log(`mode ${mode}, ${nodes} nodes, election timeout ${electionTimeoutMs} ms, heartbeat ${heartbeatIntervalMs} ms`);
    console.log(`start-up: all nodes serving after ${upMs.toFixed(0)} ms, first leader (${first.id}) after ${leaderMs.toFixed(0)} ms`);

    const pids = cluster.members.flatMap((m) => cluster.pids(m.id));
    const workerd = pids.filter((p) => commandLine(p).includes('workerd'));
    const mib = (list: number[]): string => (list.reduce((s, p) => s + rssKiB(p), 0) / 1024).toFixed(0);
    console.log(
      `memory: workerd RSS ${mib(workerd)} MiB over ${workerd.length} processes` +
        (mode === 'process' ? `; whole node process groups ${mib(pids)} MiB` : ''),
    );

    if (transfer) {
      await measureTransfers(cluster, runs);
      return;
    }
    const failovers: number[] = [];
    for (let i = 0; i < runs; i++) {
      const leader = await cluster.waitForLeader();
      const put = await fetch(`${leader.url}/kv/measure-${i}`, { method: 'PUT', body: String(i), signal: AbortSignal.timeout(5000) });
      if (put.status !== 200) throw new Error(`PUT answered ${put.status}`);
      const killedAt = performance.now();
      await cluster.kill(leader.id);
      const next = await nextLeader(cluster, leader.id, 30_000);
      const ms = performance.now() - killedAt;
      failovers.push(ms);
      const got = await fetch(`${next.url}/kv/measure-${i}`, { signal: AbortSignal.timeout(5000) });
      const body = (await got.json()) as { value?: string };
      console.log(
        `run ${i + 1}: killed ${leader.id}, new leader ${next.id} after ${ms.toFixed(0)} ms; acknowledged value ${body.value === String(i) ? 'kept' : 'LOST'}`,
      );
      await cluster.restart(leader.id);
    }
    console.log(`leader failover after SIGKILL: ${summary(failovers)}`);
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`measure: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
