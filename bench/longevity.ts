// `npm run bench -- --longevity [options]`: does the cost of a node stay flat
// as its history grows (issue 16)? A fresh 3-node cluster of node processes
// (as `npm run node` runs them) takes N writes at C clients; every S writes it
// samples each node's data folder and workerd RSS and the throughput of that
// block. Then the whole cluster is stopped and started again on its data, and
// the time to a leader and to the first successful read is compared with the
// start of a fresh cluster (once before the writes, once after, on an empty
// folder).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  });
  if (v.help) return 'help';
  const int = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number =>
    text === undefined ? fallback : parseIntIn(`--${flag}`, text, min, max);
  const o: LongevityOptions = {
    writes: int('writes', v.writes, 1_000_000, 1, 1_000_000_000),
    clients: int('clients', v.clients, 64, 1, 1024),
    valueSize: int('value-size', v['value-size'], 100, 1, 65_536),
    keys: int('keys', v.keys, 10_000, 1, 100_000_000),
    sampleEvery: int('sample-every', v['sample-every'], 100_000, 1, 1_000_000_000),
    client: v.client === undefined ? 'raw' : parseOneOf('--client', v.client, ['client', 'http', 'raw'] as const),
    basePort: v['base-port'] === undefined ? 18_900 : parsePort('--base-port', v['base-port']),
    basePortExplicit: v['base-port'] !== undefined,
    dataDir: v['data-dir'] ?? null,
    snapshotEvery:
      v['snapshot-every'] === undefined ? undefined : parseIntIn('--snapshot-every', v['snapshot-every'], ...snapshotEveryRange),
    logRetain: v['log-retain'] === undefined ? undefined : parseIntIn('--log-retain', v['log-retain'], ...logRetainRange),
    keep: v.keep ?? false,
    jsonPath: v.json ?? null,
  };
  if (o.dataDir === '') throw new UsageError('--data-dir needs a folder');
  if (o.jsonPath === '') throw new UsageError('--json needs a file name');
  if (o.sampleEvery > o.writes) throw new UsageError(`--sample-every ${o.sampleEvery} is more than --writes ${o.writes}`);
  return o;
}

export interface Sample {
  /** Writes acknowledged when the sample was taken. */
  writes: number;
  /** Seconds this block of writes took, and its throughput. */
  blockS: number;
  writesPerSec: number;
  errors: number;
  /** Per node: bytes under its data folder, its workerd's RSS, and its /status indexes. */
  nodes: {
    id: string;
    role: string | null;
    dataMiB: number;
    rssMiB: number;
    snapshotIndex: number | null;
    firstLogIndex: number | null;
    lastLogIndex: number | null;
  }[];
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

export interface LongevityReport {
  options: LongevityOptions;
  samples: Sample[];
  starts: StartTiming[];
  afterRestart: Sample['nodes'];
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

async function nodeSample(cluster: Cluster): Promise<Sample['nodes']> {
  return Promise.all(
    cluster.members.map(async (m) => {
      const dataMiB = mib(folderBytes(join(cluster.dataDir, m.id)));
      const rssMiB = workerdRssMiB(cluster, m.id);
      let s: StatusReport | null = null;
      try {
        s = await fetchStatus(m.url, 2000);
      } catch {
        // a busy node may not answer in time; the sizes still count
      }
      return {
        id: m.id,
        role: s?.role ?? null,
        dataMiB,
        rssMiB,
        snapshotIndex: s?.snapshotIndex ?? null,
        firstLogIndex: s?.firstLogIndex ?? null,
        lastLogIndex: s?.lastLogIndex ?? null,
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

/** N writes at C closed-loop clients over random keys; calls onSample every `sampleEvery` acknowledged writes. */
async function writeLoad(cluster: Cluster, o: LongevityOptions, onSample: (writes: number, errors: number) => void): Promise<void> {
  const urls = cluster.members.map((m) => m.url);
  const { clients, close } = makeClients(urls, o.clients, 10_000, `longevity-${Date.now().toString(36)}`, o.client);
  let issued = 0;
  let acked = 0;
  let errors = 0;
  // Seeded per worker, so runs choose the same keys.
  const worker = async (w: number): Promise<void> => {
    const client = clients[w]!;
    let x = 0x9e3779b9 ^ (w * 7919 + 1);
    let n = 0;
    while (issued < o.writes) {
      issued++;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const key = keyName((x >>> 0) % o.keys);
      const r = await client.set(key, makeValue(o.valueSize, w, n++));
      if (!r.ok) {
        errors++;
        issued--; // the total counts acknowledged writes: try another
        if (errors > 1000 && errors > acked)
          throw new Error(
            `more writes fail than succeed (${errors} errors); last: ${r.error.type}${r.error.code ? ` ${r.error.code}` : ''}`,
          );
        continue;
      }
      acked++;
      if (acked % o.sampleEvery === 0) onSample(acked, errors);
    }
  };
  try {
    await Promise.all(clients.map((_, w) => worker(w)));
  } finally {
    close();
  }
}

export async function runLongevity(o: LongevityOptions, log: (line: string) => void): Promise<LongevityReport> {
  await bundleWorker(); // once, so no start below includes esbuild
  const basePort = o.basePortExplicit ? o.basePort : await findFreeBase(o.basePort, 3, false);
  const parent = o.dataDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dataDir = mkdtempSync(join(parent, 'raft-kv-longevity-'));
  const freshDir = mkdtempSync(join(parent, 'raft-kv-longevity-fresh-'));
  const secret = generateSecret();
  const report: LongevityReport = { options: o, samples: [], starts: [], afterRestart: [] };
  let cluster: Cluster | null = null;
  try {
    log(
      `longevity: ${o.writes} writes, ${o.clients} clients, ${o.valueSize}-byte values, ${o.keys} keys; 3 node processes on ports ${basePort}-${basePort + 2}, data in ${dataDir}`,
    );
    const first = await timedStart('fresh cluster (before the writes)', o, basePort, dataDir, secret);
    cluster = first.cluster;
    report.starts.push(first.timing);
    log(`longevity: ${formatStart(first.timing)}`);

    let blockStart = performance.now();
    const pending: Promise<void>[] = [];
    await writeLoad(cluster, o, (writes, errors) => {
      const now = performance.now();
      const blockS = (now - blockStart) / 1000;
      blockStart = now;
      const c = cluster!;
      pending.push(
        nodeSample(c).then((nodes) => {
          const s: Sample = { writes, blockS, writesPerSec: o.sampleEvery / blockS, errors, nodes };
          report.samples.push(s);
          log(`longevity: ${formatSample(s)}`);
        }),
      );
    });
    await Promise.all(pending);
    report.samples.sort((a, b) => a.writes - b.writes);

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
    await cluster?.stop();
    rmSync(freshDir, { recursive: true, force: true });
    if (!o.keep) rmSync(dataDir, { recursive: true, force: true });
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
        `${n.id}${n.role === 'leader' ? ' (leader)' : ''} ${n.dataMiB.toFixed(1)} MiB data, ${n.rssMiB.toFixed(0)} MiB RSS, log ${n.firstLogIndex ?? '?'}..${n.lastLogIndex ?? '?'}`,
    )
    .join('; ');
  return `${s.writes} writes: ${Math.round(s.writesPerSec)} writes/s in the last ${s.blockS.toFixed(1)} s (${s.errors} errors so far); ${nodes}`;
}

const pct = (a: number, b: number): string => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;

/** The figures issue 16 asks for, as a table and a few comparison lines. */
export function formatLongevity(r: LongevityReport): string {
  const ids = r.samples[0]?.nodes.map((n) => n.id) ?? [];
  const header = ['writes', 'writes/s', ...ids.map((id) => `${id} data MiB`), ...ids.map((id) => `${id} RSS MiB`)];
  const rows = r.samples.map((s) => [
    String(s.writes),
    String(Math.round(s.writesPerSec)),
    ...s.nodes.map((n) => n.dataMiB.toFixed(1)),
    ...s.nodes.map((n) => n.rssMiB.toFixed(0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const out = [line(header), ...rows.map(line)];
  const first = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  if (first && last) {
    const leaders = [...new Set(r.samples.flatMap((s) => s.nodes.filter((n) => n.role === 'leader').map((n) => n.id)))];
    out.push(`leader during the writes: ${leaders.join(', ') || 'unknown'}`);
    const maxData = Math.max(...r.samples.flatMap((s) => s.nodes.map((n) => n.dataMiB)));
    out.push('');
    out.push(`largest data folder: ${maxData.toFixed(1)} MiB (target: under 64 MiB)`);
    out.push(`throughput, last block against the first: ${pct(first.writesPerSec, last.writesPerSec)} (target: within 10 %)`);
    for (const [i, n] of first.nodes.entries()) {
      const m = last.nodes[i]!;
      out.push(
        `${n.id} workerd RSS ${n.rssMiB.toFixed(0)} -> ${m.rssMiB.toFixed(0)} MiB: ${pct(n.rssMiB, m.rssMiB)} (target: within 15 %)`,
      );
    }
  }
  out.push('');
  for (const t of r.starts) out.push(formatStart(t));
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
