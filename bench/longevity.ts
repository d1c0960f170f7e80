// `npm run bench -- --longevity [options]`: does the cost of a node stay flat
// as its history grows (issue 16)? A fresh 3-node cluster of node processes
// (as `npm run node` runs them) takes N writes at C clients; every S writes it
// samples each node's data folder and workerd RSS and the throughput of that
// block. Then the whole cluster is stopped and started again on its data, and
// the time to a leader and to the first successful read is compared with the
// start of a fresh cluster (once before the writes, once after, on an empty
// folder).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseFlags, parseIntIn, parseOneOf, parsePort, UsageError } from '../common/args';
import { RaftKvClient } from '../client/client';
import { bundleWorker, repoRoot } from '../launcher/bundle';
import { logRetainRange, snapshotEveryRange } from '../launcher/node-config';
import { rssKiB } from '../launcher/procfs';
import { generateSecret } from '../launcher/secret';
import { startCluster, type Cluster, type StatusReport } from '../launcher/start-cluster';
import { fetchStatus, waitForAgreedLeader } from '../launcher/status';
import { keyName, makeClients, makeValue } from './load';
import type { ClientKind } from './options';
import { findFreeBase } from './ports';
import { shortName } from './procstat';
import { parseArgsOrExit } from './entry';

export interface LongevityOptions {
  writes: number;
  clients: number;
  valueSize: number;
  keys: number;
  sampleEvery: number;
  client: ClientKind;
  basePort: number;
  basePortExplicit: boolean;
  /** Parent of the cluster's data folder (default: the system temp folder). */
  dataDir: string | null;
  snapshotEvery: number | undefined;
  logRetain: number | undefined;
  keep: boolean;
  jsonPath: string | null;
  /** Milliseconds between samples of the data folders and RSS during the writes. */
  pollMs: number;
  /** Stop a follower at a quarter of the writes and start it again after them; time its catch-up. */
  catchUp: boolean;
  /** Write every key once, in order (a data set of --keys values), then read random keys back. */
  fill: boolean;
  /** Random reads after the writes (checked: each key is there with a value of the right length). */
  reads: number;
  /** Skip the full stop-and-start after the writes. */
  restart: boolean;
  /** With --fill: the first key written (a load split over several runs). */
  firstKey: number;
  /** Start on this cluster data folder (one --keep left) instead of a fresh one; it is kept. */
  resume: string | null;
}

export const longevityUsage = `npm run bench -- --longevity [options]

  --writes N           writes in total (default 1000000)
  --clients C          concurrent closed-loop clients (default 64)
  --value-size B       value length in bytes (default 100)
  --keys K             key space (default 10000)
  --sample-every S     writes per sample and throughput block (default 100000)
  --client K           raw (default), http or client (see npm run bench -- --help)
  --snapshot-every N   the nodes' SNAPSHOT_EVERY (default: the node's, 10000)
  --log-retain M       the nodes' LOG_RETAIN (default: the node's, 5000)
  --base-port P        first node port (default: the first free block from 18900)
  --data-dir DIR       parent of the cluster's data folder (default: the system temp folder)
  --poll-ms MS         sample data folders and RSS this often during the writes (default 1000)
  --catch-up           stop a follower after a quarter of the writes, start it again after them,
                       and time it to a snapshot install and the leader's applied index
  --fill               write each of --keys keys once, in order (--writes defaults to --keys),
                       then read random keys back: a data set of keys x value size
  --reads N            random reads after the writes, checked (default 0; 10000 with --fill)
  --first-key K        with --fill: start at key K (to load a data set over several runs)
  --resume DIR         start on a cluster data folder an earlier run kept (--keep) instead of
                       an empty one; its start is timed, and DIR is kept
  --no-restart         skip the full stop-and-start and the fresh start after the writes
  --keep               keep the data folder
  --json FILE          results file (default bench/results/longevity-<timestamp>.json)`;

export function parseLongevityOptions(argv: string[]): LongevityOptions | 'help' {
  const { values: v } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    longevity: { type: 'boolean' },
    writes: { type: 'string' },
    clients: { type: 'string' },
    'value-size': { type: 'string' },
    keys: { type: 'string' },
    'sample-every': { type: 'string' },
    client: { type: 'string' },
    'snapshot-every': { type: 'string' },
    'log-retain': { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean' },
    json: { type: 'string' },
    'poll-ms': { type: 'string' },
    'catch-up': { type: 'boolean' },
    fill: { type: 'boolean' },
    reads: { type: 'string' },
    'no-restart': { type: 'boolean' },
    'first-key': { type: 'string' },
    resume: { type: 'string' },
  });
  if (v.help) return 'help';
  const int = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number =>
    text === undefined ? fallback : parseIntIn(`--${flag}`, text, min, max);
  const fill = v.fill ?? false;
  const keys = int('keys', v.keys, 10_000, 1, 100_000_000);
  const firstKey = int('first-key', v['first-key'], 0, 0, keys - 1);
  const writes = int('writes', v.writes, fill ? keys - firstKey : 1_000_000, 1, 1_000_000_000);
  const o: LongevityOptions = {
    writes,
    clients: int('clients', v.clients, 64, 1, 1024),
    valueSize: int('value-size', v['value-size'], 100, 1, 65_536),
    keys,
    sampleEvery: int('sample-every', v['sample-every'], Math.min(100_000, writes), 1, 1_000_000_000),
    client: v.client === undefined ? 'raw' : parseOneOf('--client', v.client, ['client', 'http', 'raw'] as const),
    basePort: v['base-port'] === undefined ? 18_900 : parsePort('--base-port', v['base-port']),
    basePortExplicit: v['base-port'] !== undefined,
    dataDir: v['data-dir'] ?? null,
    snapshotEvery:
      v['snapshot-every'] === undefined ? undefined : parseIntIn('--snapshot-every', v['snapshot-every'], ...snapshotEveryRange),
    logRetain: v['log-retain'] === undefined ? undefined : parseIntIn('--log-retain', v['log-retain'], ...logRetainRange),
    keep: v.keep ?? false,
    jsonPath: v.json ?? null,
    pollMs: int('poll-ms', v['poll-ms'], 1000, 50, 60_000),
    catchUp: v['catch-up'] ?? false,
    fill,
    reads: int('reads', v.reads, fill ? 10_000 : 0, 0, 100_000_000),
    restart: !(v['no-restart'] ?? false),
    firstKey,
    resume: v.resume ?? null,
  };
  if (fill && firstKey + writes > keys)
    throw new UsageError(`--fill writes each key once: --first-key ${firstKey} + --writes ${writes} is more than --keys ${keys}`);
  if (!fill && v['first-key'] !== undefined) throw new UsageError('--first-key goes with --fill');
  if (o.resume === '') throw new UsageError('--resume needs a folder');
  if (o.catchUp && writes < 4) throw new UsageError('--catch-up needs at least 4 writes');
  if (o.dataDir === '') throw new UsageError('--data-dir needs a folder');
  if (o.jsonPath === '') throw new UsageError('--json needs a file name');
  if (o.sampleEvery > o.writes) throw new UsageError(`--sample-every ${o.sampleEvery} is more than --writes ${o.writes}`);
  return o;
}

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

export interface StartTiming {
  label: string;
  /** From the launcher's call to every node answering /status. */
  upMs: number;
  /** From the launcher's call to a leader a majority agrees on. */
  leaderMs: number;
  /** From the launcher's call to the first successful linearizable read. */
  firstReadMs: number;
}

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

export interface ReadCheck {
  reads: number;
  failed: number;
  readsPerSec: number;
  /** Reads whose value was read back and compared (key present, length and prefix right). */
  checked: number;
  wrong: number;
  rssMiB: Record<string, number>;
}

export interface LongevityReport {
  options: LongevityOptions;
  samples: Sample[];
  /** Per node, the largest data folder and RSS seen by any sample during the writes. */
  dataMaxMiB: Record<string, number>;
  rssMaxMiB: Record<string, number>;
  starts: StartTiming[];
  afterRestart: NodeSample[];
  catchUp: CatchUp | null;
  reads: ReadCheck | null;
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
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function workerdRssMiB(cluster: Cluster, id: string): number {
  const pid = cluster.pids(id).find((p) => shortName(p) === 'workerd');
  return pid === undefined ? 0 : rssKiB(pid) / 1024;
}

function workerdRssAnonMiB(cluster: Cluster, id: string): number {
  const pid = cluster.pids(id).find((p) => shortName(p) === 'workerd');
  if (pid === undefined) return 0;
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // gone
  }
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

function measureNode(cluster: Cluster, id: string): { dataMiB: number; rssMiB: number } {
  return { dataMiB: mib(folderBytes(join(cluster.dataDir, id))), rssMiB: workerdRssMiB(cluster, id) };
}

async function statusOrNull(url: string): Promise<StatusReport | null> {
  try {
    return await fetchStatus(url, 2000);
  } catch {
    return null; // a busy or stopped node may not answer in time; the sizes still count
  }
}

async function nodeSample(
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

/** Starts the cluster on `dataDir` and times it up to the first successful read. */
async function timedStart(
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

/** The key of write number n (from 0) of worker w: random (seeded per worker, so runs repeat), or in order with --fill. */
function keyChooser(o: LongevityOptions): (w: number) => (n: number) => string {
  if (o.fill) return () => (n) => keyName(n);
  return (w) => {
    let x = 0x9e3779b9 ^ (w * 7919 + 1);
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return keyName((x >>> 0) % o.keys);
    };
  };
}

/**
 * N writes at C closed-loop clients; calls onSample (awaited, writes keep
 * going meanwhile) every `sampleEvery` acknowledged writes and `at` hooks once
 * their count of writes is acknowledged.
 */
async function writeLoad(
  cluster: Cluster,
  o: LongevityOptions,
  onSample: (writes: number, errors: number) => void,
  at: { writes: number; run: () => Promise<void> }[] = [],
): Promise<void> {
  const urls = cluster.members.map((m) => m.url);
  const { clients, close } = makeClients(urls, o.clients, 10_000, `longevity-${Date.now().toString(36)}`, o.client);
  let issued = 0;
  let acked = 0;
  let errors = 0;
  const hooks: Promise<void>[] = [];
  const chooser = keyChooser(o);
  const worker = async (w: number): Promise<void> => {
    const client = clients[w]!;
    const pick = chooser(w);
    let n = 0;
    while (issued < o.writes) {
      const seq = issued++;
      const key = o.fill ? keyName(o.firstKey + seq) : pick(seq);
      let r = await client.set(key, makeValue(o.valueSize, w, n++));
      // With --fill every key must be written: retry the same one.
      while (!r.ok && o.fill) {
        errors++;
        if (errors > 1000 && errors > acked) break;
        r = await client.set(key, makeValue(o.valueSize, w, n++));
      }
      if (!r.ok) {
        errors++;
        if (!o.fill) issued--; // the total counts acknowledged writes: try another
        if (errors > 1000 && errors > acked)
          throw new Error(
            `more writes fail than succeed (${errors} errors); last: ${r.error.type}${r.error.code ? ` ${r.error.code}` : ''}`,
          );
        continue;
      }
      acked++;
      if (acked % o.sampleEvery === 0) onSample(acked, errors);
      for (const h of at) if (h.writes === acked) hooks.push(h.run());
    }
  };
  try {
    await Promise.all(clients.map((_, w) => worker(w)));
    await Promise.all(hooks);
  } finally {
    close();
  }
}

/** Stops a follower, and later starts it again and times it to the leader's applied index (the writes over). */
function catchUpTest(
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

/** Random reads after the writes: throughput with the load clients, then a sample read back in full and compared. */
async function readCheck(cluster: Cluster, o: LongevityOptions): Promise<ReadCheck> {
  const urls = cluster.members.map((m) => m.url);
  const { clients, close } = makeClients(urls, o.clients, 10_000, `longevity-read-${Date.now().toString(36)}`, o.client);
  let issued = 0;
  let failed = 0;
  // With --fill, the keys written by now (this run and those it resumes).
  const readable = o.fill ? o.firstKey + o.writes : o.keys;
  const t0 = performance.now();
  try {
    await Promise.all(
      clients.map(async (client, w) => {
        let x = 0x2545f491 ^ (w * 104_729 + 7);
        while (issued < o.reads) {
          issued++;
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          const r = await client.get(keyName((x >>> 0) % readable));
          if (!r.ok) failed++;
        }
      }),
    );
  } finally {
    close();
  }
  const readsPerSec = o.reads / ((performance.now() - t0) / 1000);
  // Read a sample back with values: each key written (with --fill all are), of the right length.
  const checker = new RaftKvClient({ nodes: urls, timeoutMs: 5000 });
  const checked = Math.min(o.reads, 500);
  let wrong = 0;
  for (let i = 0; i < checked; i++) {
    const k = Math.floor(Math.random() * readable);
    const r = await checker.get(keyName(k));
    if (!r.ok) failed++;
    else if (o.fill && (r.value === null || r.value.length !== o.valueSize || !/^\d+:\d+:/.test(r.value))) wrong++;
  }
  const rssMiB: Record<string, number> = {};
  for (const m of cluster.members) rssMiB[m.id] = workerdRssMiB(cluster, m.id);
  return { reads: o.reads, failed, readsPerSec, checked, wrong, rssMiB };
}

export async function runLongevity(o: LongevityOptions, log: (line: string) => void): Promise<LongevityReport> {
  await bundleWorker(); // once, so no start below includes esbuild
  const basePort = o.basePortExplicit ? o.basePort : await findFreeBase(o.basePort, 3, false);
  const parent = o.dataDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dataDir = o.resume ?? mkdtempSync(join(parent, 'raft-kv-longevity-'));
  const freshDir = mkdtempSync(join(parent, 'raft-kv-longevity-fresh-'));
  const secret = generateSecret();
  const report: LongevityReport = {
    options: o,
    samples: [],
    dataMaxMiB: {},
    rssMaxMiB: {},
    starts: [],
    afterRestart: [],
    catchUp: null,
    reads: null,
  };
  let cluster: Cluster | null = null;
  let poller: Poller | null = null;
  try {
    log(
      `longevity: ${o.writes} writes${o.fill ? ' (each key once)' : ''}, ${o.clients} clients, ${o.valueSize}-byte values, ${o.keys} keys; 3 node processes on ports ${basePort}-${basePort + 2}, data in ${dataDir}`,
    );
    const first = await timedStart(o.resume ? 'start on the kept data' : 'fresh cluster (before the writes)', o, basePort, dataDir, secret);
    cluster = first.cluster;
    report.starts.push(first.timing);
    log(`longevity: ${formatStart(first.timing)}`);

    const c = cluster;
    const p = new Poller(
      c.members.map((m) => m.id),
      (id) => measureNode(c, id),
    );
    poller = p;
    p.start(o.pollMs);
    const catchUp = o.catchUp ? catchUpTest(c, log) : null;
    let blockStart = performance.now();
    const pending: Promise<void>[] = [];
    await writeLoad(
      c,
      o,
      (writes, errors) => {
        const now = performance.now();
        const blockS = (now - blockStart) / 1000;
        blockStart = now;
        const { polls, nodes: sizes } = p.endBlock();
        pending.push(
          nodeSample(c, sizes).then((nodes) => {
            const s: Sample = { writes, blockS, writesPerSec: o.sampleEvery / blockS, errors, polls, nodes };
            report.samples.push(s);
            log(`longevity: ${formatSample(s)}`);
          }),
        );
      },
      catchUp ? [{ writes: Math.floor(o.writes / 4), run: () => catchUp.stop(Math.floor(o.writes / 4)) }] : [],
    );
    await Promise.all(pending);
    p.stop();
    report.samples.sort((a, b) => a.writes - b.writes);
    Object.assign(report.dataMaxMiB, p.dataMax);
    Object.assign(report.rssMaxMiB, p.rssMax);
    if (catchUp) report.catchUp = await catchUp.finish();
    if (o.reads > 0) {
      report.reads = await readCheck(c, o);
      log(`longevity: ${formatReads(report.reads)}`);
    }
    if (!o.restart) return report;

    log('longevity: stopping the whole cluster and starting it again on its data');
    await cluster.stop();
    cluster = null;
    const again = await timedStart('restart after the writes', o, basePort, dataDir, secret);
    cluster = again.cluster;
    report.starts.push(again.timing);
    log(`longevity: ${formatStart(again.timing)}`);
    report.afterRestart = await nodeSample(cluster);
    await cluster.stop();
    cluster = null;

    const fresh = await timedStart('fresh cluster (after, empty folder)', o, basePort, freshDir, generateSecret());
    report.starts.push(fresh.timing);
    log(`longevity: ${formatStart(fresh.timing)}`);
    await fresh.cluster.stop();
  } finally {
    poller?.stop();
    await cluster?.stop();
    rmSync(freshDir, { recursive: true, force: true });
    if (!o.keep && o.resume === null) rmSync(dataDir, { recursive: true, force: true });
    else log(`longevity: data kept in ${dataDir}`);
  }
  return report;
}

function formatStart(t: StartTiming): string {
  return `${t.label}: nodes up ${Math.round(t.upMs)} ms, leader ${Math.round(t.leaderMs)} ms, first read ${Math.round(t.firstReadMs)} ms`;
}

function formatSample(s: Sample): string {
  const nodes = s.nodes
    .map(
      (n) =>
        `${n.id}${n.role === 'leader' ? ' (leader)' : ''} ${n.dataMiB.toFixed(1)} MiB data (max ${n.dataMaxMiB.toFixed(1)}), ${n.rssMiB.toFixed(0)} MiB RSS (${n.rssAnonMiB.toFixed(0)} anon), log ${n.firstLogIndex ?? '?'}..${n.lastLogIndex ?? '?'}`,
    )
    .join('; ');
  return `${s.writes} writes: ${Math.round(s.writesPerSec)} writes/s in the last ${s.blockS.toFixed(1)} s (${s.errors} errors so far); ${nodes}`;
}

function formatCatchUp(c: CatchUp): string {
  const matched = c.matchedMs === null ? 'did not reach it within 60 s' : `matched it in ${(c.matchedMs / 1000).toFixed(2)} s`;
  return `catch-up: ${c.node} stopped after ${c.stoppedAtWrites} writes (its log at ${c.lastLogIndexWhenStopped ?? '?'}); started again with the leader at applied ${c.leaderAppliedIndex}, log from ${c.leaderFirstLogIndex}; ${matched}; then snapshotIndex ${c.snapshotIndex ?? '?'}, applied ${c.appliedIndex ?? '?'}`;
}

function formatReads(r: ReadCheck): string {
  const rss = Object.entries(r.rssMiB)
    .map(([id, v]) => `${id} ${v.toFixed(0)} MiB`)
    .join(', ');
  return `reads: ${r.reads} random reads at ${Math.round(r.readsPerSec)} reads/s, ${r.failed} failed; ${r.checked} read back in full, ${r.wrong} wrong; workerd RSS after: ${rss}`;
}

const pct = (a: number, b: number): string => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;

/** The figures issue 16 asks for, as a table and a few comparison lines. */
export function formatLongevity(r: LongevityReport): string {
  const ids = r.samples[0]?.nodes.map((n) => n.id) ?? [];
  const header = ['writes', 'writes/s', ...ids.map((id) => `${id} data max MiB`), ...ids.map((id) => `${id} RSS MiB`)];
  const rows = r.samples.map((s) => [
    String(s.writes),
    String(Math.round(s.writesPerSec)),
    ...s.nodes.map((n) => n.dataMaxMiB.toFixed(1)),
    ...s.nodes.map((n) => n.rssMiB.toFixed(0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const out = [line(header), ...rows.map(line)];
  const first = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  if (first && last) {
    const leaders = [...new Set(r.samples.flatMap((s) => s.nodes.filter((n) => n.role === 'leader').map((n) => n.id)))];
    const term = (x: Sample): number => Math.max(0, ...x.nodes.map((n) => n.term ?? 0));
    out.push(
      `leader at the samples: ${leaders.join(', ') || 'unknown'}; term ${term(first)} at the first sample, ${term(last)} at the last`,
    );
    out.push('');
    const maxes = ids.map((id) => `${id} ${(r.dataMaxMiB[id] ?? 0).toFixed(1)}`).join(', ');
    const largest = Math.max(0, ...Object.values(r.dataMaxMiB));
    out.push(
      `data folder, largest at any sample during the writes: ${maxes} MiB${r.options.fill ? '' : ` (target: under 64 MiB: ${largest < 64 ? 'met' : 'missed'})`}`,
    );
    out.push(
      `throughput, block of ${first.writes} writes: first ${Math.round(first.writesPerSec)}, last ${Math.round(last.writesPerSec)} writes/s: ${pct(first.writesPerSec, last.writesPerSec)} (target: within 10 %)`,
    );
    for (const [i, n] of first.nodes.entries()) {
      const m = last.nodes[i]!;
      if (r.catchUp?.node === n.id) {
        out.push(`${n.id} workerd RSS: stopped and started again during the writes (--catch-up), not compared`);
        continue;
      }
      out.push(
        `${n.id} workerd RSS, first block -> last block: mean ${n.rssMeanMiB.toFixed(0)} -> ${m.rssMeanMiB.toFixed(0)} MiB (${pct(n.rssMeanMiB, m.rssMeanMiB)}), at its end ${n.rssMiB.toFixed(0)} -> ${m.rssMiB.toFixed(0)} MiB (${pct(n.rssMiB, m.rssMiB)}); largest ${(r.rssMaxMiB[n.id] ?? 0).toFixed(0)} MiB (target: within 15 %)`,
      );
    }
  }
  if (r.catchUp) out.push('', formatCatchUp(r.catchUp));
  if (r.reads) out.push('', formatReads(r.reads));
  if (r.starts.length > 0) out.push('');
  for (const t of r.starts) out.push(formatStart(t));
  const [before, restart, after] = r.starts;
  if (before && restart && after && r.options.resume !== null) {
    out.push(
      `restart against a fresh start: leader ${(restart.leaderMs / 1000).toFixed(2)} s vs ${(after.leaderMs / 1000).toFixed(2)} s; first read ${(restart.firstReadMs / 1000).toFixed(2)} s vs ${(after.firstReadMs / 1000).toFixed(2)} s`,
    );
  } else if (before && restart && after) {
    out.push(
      `restart against fresh starts: leader ${(restart.leaderMs / 1000).toFixed(2)} s vs ${(before.leaderMs / 1000).toFixed(2)} / ${(after.leaderMs / 1000).toFixed(2)} s; first read ${(restart.firstReadMs / 1000).toFixed(2)} s vs ${(before.firstReadMs / 1000).toFixed(2)} / ${(after.firstReadMs / 1000).toFixed(2)} s`,
    );
  }
  if (r.afterRestart.length > 0) {
    out.push(
      `after the restart: ${r.afterRestart.map((n) => `${n.id} ${n.dataMiB.toFixed(1)} MiB, ${n.rssMiB.toFixed(0)} MiB RSS, snapshotIndex ${n.snapshotIndex ?? '?'}`).join('; ')}`,
    );
  }
  return out.join('\n');
}

export async function longevityMain(): Promise<void> {
  const o = parseArgsOrExit('bench --longevity', longevityUsage, parseLongevityOptions);
  if (o === null) return;
  const report = await runLongevity(o, (l) => process.stderr.write(`${l}\n`));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonPath = resolve(o.jsonPath ?? join(repoRoot, 'bench', 'results', `longevity-${stamp}.json`));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatLongevity(report)}\n\nJSON: ${jsonPath}\n`);
}
