// `npx tsx bench/ab.ts --a DIR [--b DIR] [options]`: an interleaved A/B
// comparison of two checkouts. Both clusters run at once, each from its own
// checkout's launcher (`launcher/cluster.ts`, or `client/cluster.ts` in
// checkouts from before the folder split), and short loads alternate between
// them (A B, then B A, ...), so the slow and fast phases of a shared machine
// hit both sides alike: a change smaller than the run-to-run noise of separate
// runs (docs/benchmarks.md) shows here. Prints each round, then medians and
// B/A ratios of throughput, latency and the CPU the nodes spent per operation.
// With --fresh both clusters start anew for every round: one cluster start can
// run 30 % faster or slower than the next with the same code (which node leads,
// where the scheduler puts its thread), and a pair of clusters kept for all
// rounds carries that luck into every one of them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { repoRoot } from '../launcher/bundle';
import { pidListeningOn, processTree } from '../launcher/procfs';
import { compare, formatComparison, roundOrder, type Sample, type Side } from './ab-summary';
import { prefill, runLoad } from './load';
import { parseFlags, parseNonNegative, parseOneOf, parsePositive, UsageError } from '../common/args';
import { parseMix, type ClientKind, type Mix } from './options';
import { findFreeBase } from './ports';
import { cpuMs } from './procstat';
import { parseArgsOrExit, runIfEntry } from './entry';
import { abChartSpec } from './charts';
import { renderChart } from './svg-chart';

export interface AbOptions {
  dirs: Record<Side, string>;
  /** Extra flags for each side's launcher (e.g. --v8-flags=...), so one checkout can be compared with itself under other settings. */
  clusterArgs: Record<Side, string[]>;
  rounds: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  mix: Mix;
  client: ClientKind;
  keys: number;
  valueSize: number;
  /** Nodes per cluster. */
  nodes: number;
  /** Start both clusters anew for each round (all levels of a round share them). */
  fresh: boolean;
}

export const abUsage = `npx tsx bench/ab.ts --a DIR [--b DIR] [options]

  --a DIR            checkout A (the baseline; needs its own node_modules, e.g. a symlink)
  --b DIR            checkout B (default: this checkout)
  --a-arg=FLAG       one more argument for A's launcher, e.g. --a-arg=--v8-flags= (repeatable;
                     --b-arg=FLAG for B; "=" because FLAG starts with a dash): with --a . it compares one checkout under two settings
  --rounds N         rounds; each measures A and B once (default 6)
  --concurrency N    closed-loop clients (default 1)
  --duration S       seconds measured per load (default 3)
  --warmup S         seconds of unmeasured load before each (default 1)
  --mix write=1      workload (default write=1)
  --client K         raw (default), http, client or ws (client sockets; both checkouts must serve them)
  --nodes N          nodes per cluster (default 3)
  --fresh            start both clusters anew for every round, so no one cluster's luck
                     (its leader, where its threads run) weighs on every round of its side

Example: git worktree add /tmp/base main && ln -s "$PWD/node_modules" /tmp/base/node_modules
         npx tsx bench/ab.ts --a /tmp/base --concurrency 1,64`;

/** Parses the flags; `--concurrency` may list several levels, each compared on its own. */
export function parseAbArgs(argv: string[]): { options: AbOptions; levels: number[] } | 'help' {
  const o: AbOptions = {
    dirs: { A: '', B: repoRoot },
    clusterArgs: { A: [], B: [] },
    rounds: 6,
    concurrency: 1,
    durationMs: 3000,
    warmupMs: 1000,
    mix: { write: 1, read: 0 },
    client: 'raw',
    keys: 1000,
    valueSize: 100,
    nodes: 3,
    fresh: false,
  };
  let levels = [1];
  const { values: v } = parseFlags(argv, {
    a: { type: 'string' },
    b: { type: 'string' },
    'a-arg': { type: 'string', multiple: true },
    'b-arg': { type: 'string', multiple: true },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    mix: { type: 'string' },
    client: { type: 'string' },
    nodes: { type: 'string' },
    fresh: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  if (v.a !== undefined) o.dirs.A = resolve(v.a);
  if (v.b !== undefined) o.dirs.B = resolve(v.b);
  o.clusterArgs = { A: v['a-arg'] ?? [], B: v['b-arg'] ?? [] };
  if (v.rounds !== undefined) o.rounds = Math.floor(parsePositive('--rounds', v.rounds));
  if (v.concurrency !== undefined) levels = v.concurrency.split(',').map((c) => Math.floor(parsePositive('--concurrency', c)));
  if (v.duration !== undefined) o.durationMs = parsePositive('--duration', v.duration) * 1000;
  if (v.warmup !== undefined) o.warmupMs = parseNonNegative('--warmup', v.warmup) * 1000;
  if (v.mix !== undefined) o.mix = parseMix(v.mix);
  if (v.client !== undefined) o.client = parseOneOf('--client', v.client, ['raw', 'http', 'client', 'ws'] as const);
  if (v.nodes !== undefined) o.nodes = Math.floor(parsePositive('--nodes', v.nodes));
  o.fresh = v.fresh === true;
  if (o.dirs.A === '') throw new UsageError('--a DIR is required');
  return { options: o, levels };
}

interface SideCluster {
  side: Side;
  urls: string[];
  /** The workerd (or node) processes listening on the nodes' ports. */
  pids: number[];
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `npm start`'s entry in a checkout: launcher/ since the folder split, client/ before it. */
export function launcherEntry(dir: string): string {
  return existsSync(join(dir, 'launcher/cluster.ts')) ? 'launcher/cluster.ts' : 'client/cluster.ts';
}

/** Starts `npm start`'s launcher from `dir` on its own ports and data folder; resolves once a leader is known. */
async function startSide(side: Side, dir: string, nodes: number, basePort: number, extra: string[]): Promise<SideCluster> {
  const data = mkdtempSync(join(tmpdir(), `raft-kv-ab-${side}-`));
  const args = [
    'tsx',
    launcherEntry(dir),
    '--nodes',
    String(nodes),
    '--base-port',
    String(basePort),
    '--data',
    data,
    '--log-level',
    'warn',
    ...extra,
  ];
  // Its own process group, so stopping it stops every process it started.
  const child: ChildProcess = spawn('npx', args, { cwd: dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const urls = Array.from({ length: nodes }, (_, i) => `http://127.0.0.1:${basePort + i}`);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
      if (child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(data, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`cluster ${side} (${dir}) exited with code ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`cluster ${side} (${dir}) elected no leader within 60 s: ${stderr}`);
      if (await hasLeader(urls[0] as string)) break;
      await sleep(200);
    }
    const tree = child.pid === undefined ? [] : processTree(child.pid);
    const pids = urls.map((u) => pidListeningOn(Number(new URL(u).port), tree)).filter((p): p is number => p !== null);
    return { side, urls, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function hasLeader(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { leader?: unknown };
    return body.leader !== null && body.leader !== undefined;
  } catch {
    return false;
  }
}

function cpuOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += cpuMs(pid) ?? Number.NaN;
  return total;
}

async function measure(c: SideCluster, o: AbOptions, concurrency: number, round: number): Promise<Sample> {
  const spec = { urls: c.urls, concurrency, mix: o.mix, keys: o.keys, valueSize: o.valueSize, client: o.client };
  if (o.warmupMs > 0) await runLoad({ ...spec, durationMs: o.warmupMs });
  const cpu0 = cpuOf(c.pids);
  const r = await runLoad({ ...spec, durationMs: o.durationMs });
  const cpu1 = cpuOf(c.pids);
  return {
    side: c.side,
    round,
    opsPerSec: r.opsPerSec,
    p50Ms: r.latency.p50Ms,
    p99Ms: r.latency.p99Ms,
    cpuMsPerOp: r.ops > 0 && c.pids.length === o.nodes ? (cpu1 - cpu0) / r.ops : Number.NaN,
  };
}

/** Runs the comparison for each level; returns the samples, level by level. */
export async function runAb(o: AbOptions, levels: number[], log: (line: string) => void): Promise<Map<number, Sample[]>> {
  const out = new Map<number, Sample[]>(levels.map((l) => [l, []]));
  const measureRound = async (sides: Record<Side, SideCluster>, concurrency: number, round: number): Promise<void> => {
    for (const side of roundOrder(round)) {
      const s = await measure(sides[side], o, concurrency, round);
      out.get(concurrency)?.push(s);
      log(
        `c=${concurrency} round ${round} ${side}: ${s.opsPerSec.toFixed(0)} ops/s, p50 ${s.p50Ms.toFixed(2)} ms, ` +
          `p99 ${s.p99Ms.toFixed(1)} ms, cpu ${Number.isFinite(s.cpuMsPerOp) ? s.cpuMsPerOp.toFixed(3) : '-'} ms/op`,
      );
    }
  };
  if (!o.fresh) {
    await withClusters(o, log, async (sides) => {
      for (const concurrency of levels) for (let round = 1; round <= o.rounds; round++) await measureRound(sides, concurrency, round);
    });
    return out;
  }
  for (let round = 1; round <= o.rounds; round++) {
    await withClusters(o, round === 1 ? log : () => {}, async (sides) => {
      log(`round ${round}: both clusters started anew`);
      for (const concurrency of levels) await measureRound(sides, concurrency, round);
    });
  }
  return out;
}

/** Starts both sides' clusters (filled with the keys when the load reads), runs `work`, and stops both. */
async function withClusters(
  o: AbOptions,
  log: (line: string) => void,
  work: (sides: Record<Side, SideCluster>) => Promise<void>,
): Promise<void> {
  const baseA = await findFreeBase(18800, o.nodes, false);
  const a = await startSide('A', o.dirs.A, o.nodes, baseA, o.clusterArgs.A);
  let b: SideCluster | null = null;
  try {
    b = await startSide('B', o.dirs.B, o.nodes, await findFreeBase(baseA + 100, o.nodes, false), o.clusterArgs.B);
    const shown = (s: Side): string => [o.dirs[s], ...o.clusterArgs[s]].join(' ');
    log(`A: ${shown('A')} (${a.urls[0]}...)\nB: ${shown('B')} (${b.urls[0]}...)${o.fresh ? '\nclusters start anew each round' : ''}`);
    if (o.mix.read > 0) await Promise.all([a, b].map((c) => prefill(c.urls, o.keys, o.valueSize)));
    await work({ A: a, B: b });
  } finally {
    await Promise.all([a.stop(), b?.stop()]);
  }
}

async function main(): Promise<void> {
  const parsed = parseArgsOrExit('ab', abUsage, parseAbArgs);
  if (parsed === null) return;
  const { options, levels } = parsed;
  const results = await runAb(options, levels, (line) => process.stderr.write(`${line}\n`));
  for (const [concurrency, samples] of results) {
    process.stdout.write(`\n${concurrency} client(s), ${options.durationMs / 1000} s per load:\n${formatComparison(compare(samples))}\n`);
  }
  const { jsonPath, svgPath } = writeAbResults(options, results);
  process.stdout.write(`\nJSON: ${jsonPath}\nchart: ${svgPath}\n`);
}

/** Every sample and the comparisons as JSON, and the A/B chart beside it, under bench/results/. */
export function writeAbResults(o: AbOptions, results: Map<number, Sample[]>, now = new Date()): { jsonPath: string; svgPath: string } {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const dir = join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, `ab-${stamp}.json`);
  const svgPath = join(dir, `ab-${stamp}.svg`);
  const side = (s: Side): string => [o.dirs[s], ...o.clusterArgs[s]].join(' ');
  const levels = [...results.entries()];
  const comparisons = levels.map(([concurrency, samples]) => ({ concurrency, ...compare(samples) }));
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ date: now.toISOString(), options: o, samples: Object.fromEntries(levels), comparisons }, null, 2)}\n`,
  );
  writeFileSync(
    svgPath,
    renderChart(abChartSpec({ levels, a: side('A'), b: side('B'), durationMs: o.durationMs, date: now.toISOString() })),
  );
  return { jsonPath, svgPath };
}

runIfEntry(import.meta.url, 'ab', main);
