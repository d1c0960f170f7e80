// Measures what the README reports about the local cluster: start-up time,
// memory (RSS of the workerd processes, plus node processes in process mode),
// and the time to elect a new leader after the leader is SIGKILLed.
//
//   npx tsx launcher/measure.ts [--mode inprocess|process] [--runs 5]
//       [--nodes 3] [--base-port 18790] [--election-timeout-ms 400] [--heartbeat-interval-ms 80]
import { parseFlagMap, parseIntIn, parsePort, UsageError } from '../common/args';
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
} as const;

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
