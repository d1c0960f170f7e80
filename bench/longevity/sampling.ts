// What the longevity run samples while it writes: each node's data folder and
// workerd RSS (polled between samples, so a peak between two is not missed) and
// its indexes from /status.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rssKiB } from '../../launcher/procfs';
import type { Cluster, StatusReport } from '../../launcher/start-cluster';
import { fetchStatus } from '../../launcher/status';
import { shortName, statusKiB } from '../procstat';

/** One node as sampled: sizes from the file system and /proc, indexes from its /status. */
export interface NodeSample {
  id: string;
  role: string | null;
  term: number | null;
  dataMiB: number;
  /** Largest data folder and mean workerd RSS over the block's periodic samples (this one included). */
  dataMaxMiB: number;
  rssMiB: number;
  rssMeanMiB: number;
  /** Of rssMiB: anonymous memory (heaps, caches) rather than mapped files (workerd's binary). */
  rssAnonMiB: number;
  snapshotIndex: number | null;
  firstLogIndex: number | null;
  lastLogIndex: number | null;
  appliedIndex: number | null;
}

export interface Sample {
  /** Writes acknowledged when the sample was taken. */
  writes: number;
  /** Seconds this block of writes took, and its throughput. */
  blockS: number;
  writesPerSec: number;
  errors: number;
  /** Periodic samples of folders and RSS within the block. */
  polls: number;
  nodes: NodeSample[];
}

/** Total size in bytes of the files under dir (SQLite database, WAL and shared memory files included). */
export function folderBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      total += st.isDirectory() ? folderBytes(p) : st.size;
    } catch {
      // removed while we looked (SQLite's temporary files come and go)
    }
  }
  return total;
}

const mib = (bytes: number): number => bytes / (1024 * 1024);

function workerdPid(cluster: Cluster, id: string): number | undefined {
  return cluster.pids(id).find((p) => shortName(p) === 'workerd');
}

export function workerdRssMiB(cluster: Cluster, id: string): number {
  const pid = workerdPid(cluster, id);
  return pid === undefined ? 0 : rssKiB(pid) / 1024;
}

function workerdRssAnonMiB(cluster: Cluster, id: string): number {
  const pid = workerdPid(cluster, id);
  return pid === undefined ? 0 : statusKiB(pid, 'RssAnon') / 1024;
}

/**
 * Data folders and RSS every `pollMs` during the writes: a folder may peak
 * between two block samples (a snapshot copy, a WAL before its checkpoint).
 * A stopped node (RSS 0) is left out of the RSS figures.
 */
export class Poller {
  private block = new Map<string, { dataMax: number; rssSum: number; rssN: number }>();
  readonly dataMax: Record<string, number> = {};
  readonly rssMax: Record<string, number> = {};
  polls = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ids: string[],
    private readonly measure: (id: string) => { dataMiB: number; rssMiB: number },
  ) {}

  start(pollMs: number): void {
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  poll(): Map<string, { dataMiB: number; rssMiB: number }> {
    const now = new Map<string, { dataMiB: number; rssMiB: number }>();
    for (const id of this.ids) {
      const m = this.measure(id);
      now.set(id, m);
      let b = this.block.get(id);
      if (b === undefined) this.block.set(id, (b = { dataMax: 0, rssSum: 0, rssN: 0 }));
      b.dataMax = Math.max(b.dataMax, m.dataMiB);
      this.dataMax[id] = Math.max(this.dataMax[id] ?? 0, m.dataMiB);
      if (m.rssMiB > 0) {
        b.rssSum += m.rssMiB;
        b.rssN++;
        this.rssMax[id] = Math.max(this.rssMax[id] ?? 0, m.rssMiB);
      }
    }
    this.polls++;
    return now;
  }

  /** Close the block: one more poll, then per node the block's largest folder and mean RSS. */
  endBlock(): { polls: number; nodes: Map<string, { dataMiB: number; rssMiB: number; dataMaxMiB: number; rssMeanMiB: number }> } {
    const now = this.poll();
    const out = new Map<string, { dataMiB: number; rssMiB: number; dataMaxMiB: number; rssMeanMiB: number }>();
    for (const id of this.ids) {
      const b = this.block.get(id)!;
      const m = now.get(id)!;
      out.set(id, { ...m, dataMaxMiB: b.dataMax, rssMeanMiB: b.rssN === 0 ? 0 : b.rssSum / b.rssN });
    }
    const polls = this.polls;
    this.block = new Map();
    this.polls = 0;
    return { polls, nodes: out };
  }
}

export function measureNode(cluster: Cluster, id: string): { dataMiB: number; rssMiB: number } {
  return { dataMiB: mib(folderBytes(join(cluster.dataDir, id))), rssMiB: workerdRssMiB(cluster, id) };
}

export async function statusOrNull(url: string): Promise<StatusReport | null> {
  try {
    return await fetchStatus(url, 2000);
  } catch {
    return null; // a busy or stopped node may not answer in time; the sizes still count
  }
}

export async function nodeSample(
  cluster: Cluster,
  sizes?: Map<string, { dataMiB: number; rssMiB: number; dataMaxMiB: number; rssMeanMiB: number }>,
): Promise<NodeSample[]> {
  return Promise.all(
    cluster.members.map(async (m) => {
      const measured = sizes?.get(m.id);
      const size = measured ?? { ...measureNode(cluster, m.id), dataMaxMiB: 0, rssMeanMiB: 0 };
      const s = await statusOrNull(m.url);
      return {
        id: m.id,
        role: s?.role ?? null,
        term: s?.term ?? null,
        dataMiB: size.dataMiB,
        dataMaxMiB: Math.max(size.dataMaxMiB, size.dataMiB),
        rssMiB: size.rssMiB,
        rssMeanMiB: measured === undefined ? size.rssMiB : size.rssMeanMiB,
        rssAnonMiB: workerdRssAnonMiB(cluster, m.id),
        snapshotIndex: s?.snapshotIndex ?? null,
        firstLogIndex: s?.firstLogIndex ?? null,
        lastLogIndex: s?.lastLogIndex ?? null,
        appliedIndex: s?.appliedIndex ?? null,
      };
    }),
  );
}

export function formatSample(s: Sample): string {
  const nodes = s.nodes
    .map(
      (n) =>
        `${n.id}${n.role === 'leader' ? ' (leader)' : ''} ${n.dataMiB.toFixed(1)} MiB data (max ${n.dataMaxMiB.toFixed(1)}), ${n.rssMiB.toFixed(0)} MiB RSS (${n.rssAnonMiB.toFixed(0)} anon), log ${n.firstLogIndex ?? '?'}..${n.lastLogIndex ?? '?'}`,
    )
    .join('; ');
  return `${s.writes} writes: ${Math.round(s.writesPerSec)} writes/s in the last ${s.blockS.toFixed(1)} s (${s.errors} errors so far); ${nodes}`;
}
