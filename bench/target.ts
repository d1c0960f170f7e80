// What the benchmark runs against: a cluster it starts (Miniflare instances,
// node processes, or wrangler dev processes) or nodes that already run. Either
// way it offers the members, the OS processes behind each node (for CPU and
// memory), and, for a started cluster, crash and restart of one node.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorker } from '../launcher/bundle';
import { startCluster, type Cluster, type Member } from '../launcher/start-cluster';
import { generateSecret } from '../launcher/secret';
import { normalizeNodeUrl } from '../client/client';
import { pidListeningOn } from '../launcher/procfs';
import { allFree, findFreeBase, portsNeeded } from './ports';
import type { BenchOptions, Mode } from './options';
import { watchTree, type Watched } from './procstat';
import { wranglerNodes, type WranglerNode } from './wrangler-cluster';

export interface BenchTarget {
  mode: Mode | 'external';
  members: Member[];
  /** Every OS process serving the nodes, labelled by node ("n1 workerd"). */
  processes(): Watched[];
  /** Null for external nodes: they cannot be crashed or restarted from here. */
  control: NodeControl | null;
  /** Milliseconds from spawn until start() returned (every node answers /status); null for external nodes. */
  spawnMs: number | null;
  /** Milliseconds esbuild took to bundle the Worker before the clock started (Miniflare modes). */
  bundleMs: number | null;
  stop(): Promise<void>;
}

export interface NodeControl {
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
}

/** Starts a cluster as the options say; the clock starts just before the first process is spawned. */
export async function startTarget(o: BenchOptions, onLine?: (nodeId: string, line: string) => void): Promise<BenchTarget> {
  const wrangler = o.mode === 'wrangler';
  let basePort = o.basePort;
  if (!o.basePortExplicit) basePort = await findFreeBase(o.basePort, o.clusterSize, wrangler);
  else if (!(await allFree(portsNeeded(basePort, o.clusterSize, wrangler)))) {
    throw new Error(`some of the ports ${portsNeeded(basePort, o.clusterSize, wrangler).join(', ')} are taken; pick another --base-port`);
  }
  const dataDir = freshDataDir(o.dataDir);
  const removeData = (): void => rmSync(dataDir, { recursive: true, force: true });
  try {
    const target = wrangler ? await startWrangler(o, basePort, dataDir, onLine) : await startMiniflare(o, basePort, dataDir, onLine);
    return { ...target, stop: () => target.stop().finally(removeData) };
  } catch (err) {
    removeData();
    throw err;
  }
}

/** A new empty folder for this cluster's data, under `parent` or the system temp folder. */
function freshDataDir(parent: string | null): string {
  const base = parent ?? tmpdir();
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, 'raft-kv-bench-'));
}

async function startMiniflare(
  o: BenchOptions,
  basePort: number,
  dataDir: string,
  onLine?: (nodeId: string, line: string) => void,
): Promise<BenchTarget> {
  // Bundle first so start-up time is that of the nodes, not of esbuild (which runs once per process).
  const bundle = await bundleWorker();
  const t0 = performance.now();
  const cluster = await startCluster({
    nodes: o.clusterSize,
    basePort,
    dataDir,
    mode: o.mode === 'process' ? 'process' : 'inprocess',
    electionTimeoutMs: o.electionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    logLevel: o.logLevel,
    v8Flags: o.v8Flags,
    onLog: onLine,
  });
  const spawnMs = performance.now() - t0;
  return {
    mode: o.mode,
    members: cluster.members,
    processes: () => launcherProcesses(cluster),
    control: { kill: (id) => cluster.kill(id), restart: (id) => cluster.restart(id) },
    spawnMs,
    bundleMs: bundle.buildMs,
    stop: () => cluster.stop(),
  };
}

function launcherProcesses(cluster: Cluster): Watched[] {
  const out: Watched[] = [];
  for (const m of cluster.members) {
    for (const pid of cluster.pids(m.id)) out.push(...watchTree(m.id, pid).filter((w) => !out.some((o) => o.pid === w.pid)));
  }
  return out;
}

async function startWrangler(
  o: BenchOptions,
  basePort: number,
  dataDir: string,
  onLine?: (nodeId: string, line: string) => void,
): Promise<BenchTarget> {
  const nodes = wranglerNodes({
    size: o.clusterSize,
    basePort,
    dataDir,
    secret: generateSecret(),
    electionTimeoutMs: o.electionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    logLevel: o.logLevel,
    onLine,
  });
  const byId = new Map<string, WranglerNode>(nodes.map((n) => [n.settings.member.id, n]));
  const node = (id: string): WranglerNode => {
    const n = byId.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  };
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  };
  const exitHook = (): void => {
    for (const n of nodes) if (n.pgid !== null) trySignal(-n.pgid, 'SIGKILL');
  };
  process.on('exit', exitHook);
  const t0 = performance.now();
  const started = await Promise.allSettled(nodes.map((n) => n.start()));
  const spawnMs = performance.now() - t0;
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    process.off('exit', exitHook);
    throw failed.reason;
  }
  return {
    mode: 'wrangler',
    members: nodes.map((n) => n.settings.member),
    processes: () => nodes.flatMap((n) => n.pids().map((pid) => watchTree(n.settings.member.id, pid)[0]!)),
    control: {
      kill: (id) => node(id).kill(),
      restart: async (id) => {
        await node(id).kill();
        await node(id).start();
      },
    },
    spawnMs,
    bundleMs: null,
    stop: async () => {
      await stop();
      process.off('exit', exitHook);
    },
  };
}

function trySignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** Running nodes given by URL. Local ones are matched to their processes by listening port. */
export function externalTarget(urls: string[]): BenchTarget {
  const members: Member[] = urls.map((u, i) => ({ id: `n${i + 1}`, url: normalizeNodeUrl(u) }));
  return {
    mode: 'external',
    members,
    processes: () => {
      const all = readdirSync('/proc')
        .filter((n) => /^\d+$/.test(n))
        .map(Number);
      const out: Watched[] = [];
      for (const m of members) {
        const url = new URL(m.url);
        if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') continue;
        const pid = pidListeningOn(Number(url.port || 80), all);
        if (pid !== null) out.push(...watchTree(m.id, pid));
      }
      return out;
    },
    control: null,
    spawnMs: null,
    bundleMs: null,
    stop: async () => {},
  };
}
