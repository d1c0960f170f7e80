// One benchmark run: start (or attach to) a cluster, time its start-up, run
// each workload at each concurrency level while sampling the CPU time of
// every node process, read memory, measure failover, stop.
import { cpus, hostname } from 'node:os';
import type { Member } from '../launcher/start-cluster';
import { defaultV8Flags } from '../launcher/workerd-v8-flags';
import { currentLeader, failoverTrial, measureStartup, type FailoverTrial, type StartupTiming } from './cluster-timing';
import { prefill, runLoad, type LoadResult } from './load';
import { mixName, type BenchOptions, type Mix } from './options';
import {
  cpuBetween,
  machineBusyPercent,
  machineLoad,
  machineTicks,
  memoryOf,
  sampleCpu,
  type CpuUse,
  type MemoryUse,
  type Watched,
} from './procstat';
import { externalTarget, startTarget, type BenchTarget } from './target';

export interface LevelResult extends LoadResult {
  leader: string | null;
  /** CPU per process during the measured window; labels carry "(leader)". */
  cpu: CpuUse[];
  /** Node processes only (this process excluded): CPU ms per operation. */
  clusterCpuMsPerOp: number;
  /** The same, less the idle baseline (heartbeats and timers) for the same time. */
  clusterCpuMsPerOpNet: number;
  machineLoadAfter: number;
  /** CPU the whole machine used during the window (percent of one core; the machine has `cpus` cores). */
  machineBusyPercent: number;
  /** The part of it used by processes that are neither the nodes nor this one (other work on a shared machine). */
  otherBusyPercent: number;
}

export interface WorkloadResult {
  workload: string;
  mix: Mix;
  levels: LevelResult[];
}

export interface MemoryReport {
  /** Sum of RSS of every node process (workerd, and node/wrangler processes when they are separate). */
  clusterMiB: number;
  /** Sum of PSS: the memory the node processes take together, shared pages counted once. */
  clusterPssMiB: number;
  clusterPeakMiB: number;
  processes: MemoryUse[];
  /** This process: load generator, and in miniflare mode also the host of the Miniflare instances. */
  benchMiB: number;
}

export interface RunResult {
  run: number;
  startedAt: string;
  startup: StartupTiming | null;
  memoryIdle: MemoryReport | null;
  /** CPU of each process while the cluster sat idle after start-up (--idle seconds). */
  idleCpu: CpuUse[];
  memoryAfterLoad: MemoryReport | null;
  workloads: WorkloadResult[];
  failover: FailoverTrial[];
  /** Lines the nodes logged at warn or above during the run (the first 50). */
  nodeWarnings: string[];
}

export interface Logger {
  (line: string): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function memoryReport(target: BenchTarget): MemoryReport {
  const processes = memoryOf(target.processes());
  const sum = (f: (m: MemoryUse) => number): number => processes.reduce((s, m) => s + f(m), 0);
  return {
    clusterMiB: sum((m) => m.rssMiB),
    clusterPssMiB: sum((m) => m.pssMiB),
    clusterPeakMiB: sum((m) => m.peakMiB),
    processes,
    benchMiB: process.memoryUsage().rss / 2 ** 20,
  };
}

function labelLeader(watched: Watched[], leader: Member | null): Watched[] {
  if (leader === null) return watched;
  return watched.map((w) => (w.label.startsWith(`${leader.id} `) ? { ...w, label: `${w.label} (leader)` } : w));
}

export async function runOnce(o: BenchOptions, run: number, log: Logger): Promise<RunResult> {
  const warnings: string[] = [];
  const onLine = (id: string, line: string): void => {
    if (warnings.length < 50 && /"level":"(warn|error)"|error|Error/.test(line)) warnings.push(`${id}: ${line}`);
  };
  const result: RunResult = {
    run,
    startedAt: new Date().toISOString(),
    startup: null,
    memoryIdle: null,
    idleCpu: [],
    memoryAfterLoad: null,
    workloads: [],
    failover: [],
    nodeWarnings: warnings,
  };
  const target = o.nodes !== null ? externalTarget(o.nodes) : await startTarget(o, onLine);
  const afterStart = performance.now();
  try {
    if (o.nodes === null) {
      result.startup = await measureStartup(target, afterStart);
      log(
        `start-up: nodes up ${fmt(result.startup.spawnMs)} ms, leader ${fmt(result.startup.leaderMs)} ms, ` +
          `first write ${fmt(result.startup.firstWriteMs)} ms (bundle ${result.startup.bundleMs ?? '-'} ms, not included)`,
      );
      await sleep(500); // let start-up work (replay, first heartbeats) settle before reading memory
    }
    result.memoryIdle = memoryReport(target);
    log(`memory idle: nodes ${fmt(result.memoryIdle.clusterMiB)} MiB (${result.memoryIdle.processes.length} processes)`);
    if (o.idleS > 0) {
      const watched = labelLeader(target.processes(), await currentLeader(target.members));
      const before = sampleCpu(watched);
      await sleep(o.idleS * 1000);
      result.idleCpu = cpuBetween(watched, before, sampleCpu(watched));
      log(`idle cpu: ${result.idleCpu.map((c) => `${c.label} ${fmt(c.percent, 1)}%`).join(', ')}`);
    }
    const idleNodeCpuPercent = result.idleCpu.filter((c) => c.pid !== process.pid).reduce((s, c) => s + c.percent, 0);
    const urls = target.members.map((m) => m.url);

    if (!o.skipLoad) {
      let filled = false;
      for (const mix of o.mixes) {
        const workload: WorkloadResult = { workload: mixName(mix), mix, levels: [] };
        result.workloads.push(workload);
        if (mix.read > 0 && !filled) {
          const failures = await prefill(urls, o.keys, o.valueSize);
          log(`prefilled ${o.keys} keys${failures > 0 ? ` (${failures} failed)` : ''}`);
          filled = true;
        }
        for (const concurrency of o.concurrency) {
          const spec = { urls, concurrency, mix, keys: o.keys, valueSize: o.valueSize, client: o.client };
          if (o.warmupS > 0) await runLoad({ ...spec, durationMs: o.warmupS * 1000 });
          const leader = await currentLeader(target.members);
          const watched = labelLeader(target.processes(), leader);
          const ticks0 = machineTicks();
          const before = sampleCpu(watched);
          const load = await runLoad({ ...spec, durationMs: o.durationS * 1000 });
          const after = sampleCpu(watched);
          const busy = machineBusyPercent(ticks0, machineTicks(), machineLoad().cpus);
          const cpu = cpuBetween(watched, before, after);
          const oursPercent = cpu.reduce((s, c) => s + c.percent, 0);
          const clusterCpu = cpu.filter((c) => c.pid !== process.pid).reduce((s, c) => s + c.cpuMs, 0);
          const level: LevelResult = {
            ...load,
            leader: leader?.id ?? null,
            cpu,
            clusterCpuMsPerOp: load.ops > 0 ? clusterCpu / load.ops : Number.NaN,
            clusterCpuMsPerOpNet:
              load.ops > 0 ? (clusterCpu - (idleNodeCpuPercent / 100) * (after.atMs - before.atMs)) / load.ops : Number.NaN,
            machineLoadAfter: machineLoad().loadAvg1,
            machineBusyPercent: busy,
            otherBusyPercent: busy - oursPercent,
          };
          workload.levels.push(level);
          log(
            `${workload.workload} c=${concurrency}: ${fmt(load.opsPerSec)} ops/s, p50 ${fmt(load.latency.p50Ms, 2)} ` +
              `p99 ${fmt(load.latency.p99Ms, 2)} ms, errors ${load.errors}`,
          );
        }
      }
      result.memoryAfterLoad = memoryReport(target);
      log(`memory after load: nodes ${fmt(result.memoryAfterLoad.clusterMiB)} MiB (peak ${fmt(result.memoryAfterLoad.clusterPeakMiB)})`);
    }

    if (o.failover && target.control !== null) {
      for (let t = 0; t < o.failoverTrials; t++) {
        const trial = await failoverTrial(target.members, target.control);
        result.failover.push(trial);
        log(
          `failover ${t + 1}/${o.failoverTrials}: killed ${trial.killed}, elected ${trial.newLeader ?? '-'} after ` +
            `${fmt(trial.electedMs)} ms, first write after ${fmt(trial.firstWriteMs)} ms, rejoined in ${fmt(trial.rejoinMs)} ms`,
        );
        await sleep(300);
      }
    }
  } finally {
    await target.stop();
  }
  return result;
}

export function fmt(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n.toFixed(digits);
}

export interface BenchReport {
  meta: {
    date: string;
    host: string;
    cpuModel: string;
    cpus: number;
    node: string;
    mode: string;
    clusterSize: number;
    options: BenchOptions;
    loadAvgAtStart: number;
    /** V8 flags of a started cluster's workerds; null when the benchmark did not start them (--nodes, wrangler). */
    v8Flags: string[] | null;
  };
  runs: RunResult[];
}

export function reportMeta(o: BenchOptions): BenchReport['meta'] {
  return {
    date: new Date().toISOString(),
    host: hostname(),
    cpuModel: cpus()[0]?.model ?? '?',
    cpus: cpus().length,
    node: process.version,
    mode: o.nodes !== null ? 'external' : o.mode,
    clusterSize: o.nodes !== null ? o.nodes.length : o.clusterSize,
    options: o,
    loadAvgAtStart: machineLoad().loadAvg1,
    v8Flags: o.nodes !== null || o.mode === 'wrangler' ? null : [...(o.v8Flags ?? defaultV8Flags)],
  };
}
