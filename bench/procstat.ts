// CPU time and memory of processes, read from Linux /proc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { commandLine, processTree, rssKiB } from '../launcher/procfs';

/** A process the benchmark watches, with a label for the tables ("n1 workerd"). */
export interface Watched {
  label: string;
  pid: number;
}

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of pid in ms, or null if it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state(0) ppid(1) ... utime(11) stime(12).
    const ticks = Number(rest[11]) + Number(rest[12]);
    return (ticks * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/**
 * Time all threads of pid spent waiting on a run queue (runnable but not
 * running), in ms, from /proc/<pid>/task/<tid>/schedstat; null if unavailable.
 * Large next to the CPU time means the process was starved by other load.
 */
export function runQueueWaitMs(pid: number): number | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ');
      ns += Number(fields[1]);
    } catch {
      // thread ended
    }
  }
  return ns / 1e6;
}

/** A memory field of /proc/<pid>/status ("VmHWM:  1234 kB") in KiB, or 0 if pid is gone. */
export function statusKiB(pid: number, field: 'VmHWM' | 'RssAnon'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak resident memory (VmHWM) of pid in KiB, or 0. */
export function peakRssKiB(pid: number): number {
  return statusKiB(pid, 'VmHWM');
}

/**
 * Proportional set size of pid in KiB, or 0: its private pages plus its share
 * of pages mapped by several processes (the workerd binary's code is shared
 * by every node, and RSS counts it once per node).
 */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m?.[1] ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A short name for a process: its executable's base name. */
export function shortName(pid: number): string {
  const cmd = commandLine(pid);
  const exe = cmd.split(' ')[0] ?? '';
  const base = exe.slice(exe.lastIndexOf('/') + 1) || '?';
  if (base === 'node' && cmd.includes('wrangler')) return 'wrangler(node)';
  return base;
}

/** pid and its descendants, each labelled "<prefix> <name>". */
export function watchTree(prefix: string, pid: number): Watched[] {
  return processTree(pid).map((p) => ({ label: `${prefix} ${shortName(p)}`, pid: p }));
}

export interface CpuSample {
  atMs: number;
  byPid: Map<number, number>;
  waitByPid: Map<number, number>;
  /** process.cpuUsage() of this process, in ms. */
  selfMs: number;
}

export function sampleCpu(watched: Watched[]): CpuSample {
  const byPid = new Map<number, number>();
  const waitByPid = new Map<number, number>();
  for (const w of [...watched, { label: 'self', pid: process.pid }]) {
    const ms = cpuMs(w.pid);
    if (ms !== null) byPid.set(w.pid, ms);
    const wait = runQueueWaitMs(w.pid);
    if (wait !== null) waitByPid.set(w.pid, wait);
  }
  const u = process.cpuUsage();
  return { atMs: performance.now(), byPid, waitByPid, selfMs: (u.user + u.system) / 1000 };
}

export interface CpuUse {
  label: string;
  pid: number;
  /** CPU ms used in the window. */
  cpuMs: number;
  /** Share of one core, in percent. */
  percent: number;
  /** Time runnable but waiting for a CPU, as a percent of the window (summed over threads). */
  runQueueWaitPercent: number;
}

/** CPU use between two samples, per watched process plus this process ("bench (self)"). */
export function cpuBetween(watched: Watched[], a: CpuSample, b: CpuSample): CpuUse[] {
  const wallMs = b.atMs - a.atMs;
  const waited = (pid: number): number => {
    const before = a.waitByPid.get(pid);
    const after = b.waitByPid.get(pid);
    return before === undefined || after === undefined ? Number.NaN : (100 * (after - before)) / wallMs;
  };
  const out: CpuUse[] = [];
  for (const w of watched) {
    const before = a.byPid.get(w.pid);
    const after = b.byPid.get(w.pid);
    if (before === undefined || after === undefined) continue;
    const used = after - before;
    out.push({ label: w.label, pid: w.pid, cpuMs: used, percent: (100 * used) / wallMs, runQueueWaitPercent: waited(w.pid) });
  }
  const self = b.selfMs - a.selfMs;
  out.push({
    label: 'bench (this process)',
    pid: process.pid,
    cpuMs: self,
    percent: (100 * self) / wallMs,
    runQueueWaitPercent: waited(process.pid),
  });
  return out;
}

export interface MemoryUse {
  label: string;
  pid: number;
  rssMiB: number;
  /** RSS with shared pages split between the processes that map them. */
  pssMiB: number;
  peakMiB: number;
}

export function memoryOf(watched: Watched[]): MemoryUse[] {
  return watched
    .map((w) => ({
      label: w.label,
      pid: w.pid,
      rssMiB: rssKiB(w.pid) / 1024,
      pssMiB: pssKiB(w.pid) / 1024,
      peakMiB: peakRssKiB(w.pid) / 1024,
    }))
    .filter((m) => m.rssMiB > 0);
}

/** The machine's load: 1-minute load average and the number of CPUs, for the report. */
export function machineLoad(): { loadAvg1: number; cpus: number } {
  let loadAvg1 = Number.NaN;
  try {
    loadAvg1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    // not Linux
  }
  let cpus = 0;
  try {
    cpus = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('processor')).length;
  } catch {
    // not Linux
  }
  return { loadAvg1, cpus };
}

/** Jiffies of the whole machine from /proc/stat: busy and total, over all CPUs. */
export function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest is already inside user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Busy CPU of the whole machine between two readings, in percent of one core (2 busy cores = 200). */
export function machineBusyPercent(a: ReturnType<typeof machineTicks>, b: ReturnType<typeof machineTicks>, cpus: number): number {
  if (a === null || b === null || b.total === a.total) return Number.NaN;
  return (100 * cpus * (b.busy - a.busy)) / (b.total - a.total);
}
