// Tables for the terminal, and the medians over runs that go with them.
import type { CpuUse } from './procstat';
import { fmt, type BenchReport, type LevelResult, type RunResult } from './run';
import { median } from './stats';

export interface MedianLevel {
  workload: string;
  concurrency: number;
  runs: number;
  opsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  leaderCpuPercent: number;
  followerCpuPercent: number;
  benchCpuPercent: number;
  /** Leader's time runnable but not running (starved by other processes), percent of the window. */
  leaderWaitPercent: number;
  /** CPU used by processes outside the benchmark during the window (percent of one core). */
  otherBusyPercent: number;
  clusterCpuMsPerOp: number;
  clusterCpuMsPerOpNet: number;
}

export interface Summary {
  levels: MedianLevel[];
  startup: { spawnMs: number; leaderMs: number; firstWriteMs: number } | null;
  idleCpu: { leaderPercent: number; followerPercent: number } | null;
  memory: {
    idleMiB: number;
    afterLoadMiB: number;
    idlePssMiB: number;
    afterLoadPssMiB: number;
    peakMiB: number;
    benchMiB: number;
  } | null;
  failover: { trials: number; electedMsMedian: number; firstWriteMsMedian: number; firstWriteMsMax: number; failed: number } | null;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function cpuShares(cpu: CpuUse[]): { leader: number; follower: number; bench: number } {
  let leader = 0;
  const followers = new Map<string, number>();
  let bench = 0;
  for (const c of cpu) {
    if (c.label.startsWith('bench')) bench += c.percent;
    else if (c.label.endsWith('(leader)')) leader += c.percent;
    else {
      const node = c.label.split(' ')[0]!;
      followers.set(node, (followers.get(node) ?? 0) + c.percent);
    }
  }
  const f = [...followers.values()];
  return { leader, follower: f.length > 0 ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN, bench };
}

export function summarizeRuns(runs: RunResult[]): Summary {
  const levels: MedianLevel[] = [];
  const first = runs[0];
  for (const [wi, w] of (first?.workloads ?? []).entries()) {
    for (const [li, l] of w.levels.entries()) {
      const same = runs.map((r) => r.workloads[wi]?.levels[li]).filter((x): x is LevelResult => x !== undefined);
      const shares = same.map((x) => cpuShares(x.cpu));
      levels.push({
        workload: w.workload,
        concurrency: l.concurrency,
        runs: same.length,
        opsPerSec: median(same.map((x) => x.opsPerSec)),
        p50Ms: median(same.map((x) => x.latency.p50Ms)),
        p90Ms: median(same.map((x) => x.latency.p90Ms)),
        p99Ms: median(same.map((x) => x.latency.p99Ms)),
        maxMs: median(same.map((x) => x.latency.maxMs)),
        errors: median(same.map((x) => x.errors)),
        leaderCpuPercent: median(shares.map((s) => s.leader)),
        followerCpuPercent: median(shares.map((s) => s.follower)),
        benchCpuPercent: median(shares.map((s) => s.bench)),
        leaderWaitPercent: median(
          same.map((x) => x.cpu.filter((c) => c.label.endsWith('(leader)')).reduce((a, c) => a + c.runQueueWaitPercent, 0)),
        ),
        otherBusyPercent: median(same.map((x) => x.otherBusyPercent)),
        clusterCpuMsPerOp: median(same.map((x) => x.clusterCpuMsPerOp)),
        clusterCpuMsPerOpNet: median(same.map((x) => x.clusterCpuMsPerOpNet)),
      });
    }
  }
  const starts = runs.flatMap((r) => (r.startup ? [r.startup] : []));
  const mems = runs.flatMap((r) => (r.memoryIdle ? [{ idle: r.memoryIdle, after: r.memoryAfterLoad }] : []));
  const trials = runs.flatMap((r) => r.failover);
  const idle = runs.filter((r) => r.idleCpu.length > 0).map((r) => cpuShares(r.idleCpu));
  return {
    levels,
    idleCpu:
      idle.length > 0 ? { leaderPercent: median(idle.map((i) => i.leader)), followerPercent: median(idle.map((i) => i.follower)) } : null,
    startup:
      starts.length > 0
        ? {
            spawnMs: median(starts.map((s) => s.spawnMs)),
            leaderMs: median(starts.map((s) => s.leaderMs)),
            firstWriteMs: median(starts.map((s) => s.firstWriteMs)),
          }
        : null,
    memory:
      mems.length > 0
        ? {
            idleMiB: median(mems.map((m) => m.idle.clusterMiB)),
            afterLoadMiB: median(mems.map((m) => m.after?.clusterMiB ?? Number.NaN)),
            idlePssMiB: median(mems.map((m) => m.idle.clusterPssMiB)),
            afterLoadPssMiB: median(mems.map((m) => m.after?.clusterPssMiB ?? Number.NaN)),
            peakMiB: median(mems.map((m) => m.after?.clusterPeakMiB ?? m.idle.clusterPeakMiB)),
            benchMiB: median(mems.map((m) => m.after?.benchMiB ?? m.idle.benchMiB)),
          }
        : null,
    failover:
      trials.length > 0
        ? {
            trials: trials.length,
            electedMsMedian: median(trials.map((t) => t.electedMs ?? Number.NaN)),
            firstWriteMsMedian: median(trials.map((t) => t.firstWriteMs ?? Number.NaN)),
            firstWriteMsMax: Math.max(...trials.map((t) => t.firstWriteMs ?? Number.NaN)),
            failed: trials.filter((t) => t.firstWriteMs === null).length,
          }
        : null,
  };
}

export function formatSummary(report: BenchReport, summary: Summary): string {
  const m = report.meta;
  const out: string[] = [];
  const runs = report.runs.length;
  out.push(
    `raft-kv bench: ${m.mode}, ${m.clusterSize} node(s), load client ${m.options.client}, ${m.cpus} CPU(s) (${m.cpuModel}), Node ${m.node}, ` +
      `${runs} run(s)${runs > 1 ? ', medians shown' : ''}; load average at start ${m.loadAvgAtStart}`,
  );
  if (m.v8Flags) out.push(`workerd V8 flags: ${m.v8Flags.length > 0 ? m.v8Flags.join(' ') : '(none)'}`);
  const workloads = [...new Set(summary.levels.map((l) => l.workload))];
  for (const w of workloads) {
    out.push('', `workload: ${w}  (${m.options.durationS} s per level, ${m.options.valueSize} B values, ${m.options.keys} keys)`);
    const rows = summary.levels
      .filter((l) => l.workload === w)
      .map((l) => [
        String(l.concurrency),
        fmt(l.opsPerSec),
        fmt(l.p50Ms, 2),
        fmt(l.p90Ms, 2),
        fmt(l.p99Ms, 2),
        fmt(l.maxMs, 1),
        fmt(l.errors),
        fmt(l.leaderCpuPercent),
        fmt(l.followerCpuPercent),
        fmt(l.benchCpuPercent),
        fmt(l.leaderWaitPercent),
        fmt(l.otherBusyPercent),
        fmt(l.clusterCpuMsPerOp, 2),
        fmt(l.clusterCpuMsPerOpNet, 2),
      ]);
    out.push(
      table(
        [
          'conc',
          'ops/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'max ms',
          'errors',
          'leader cpu%',
          'follower cpu%',
          'bench cpu%',
          'leader runq%',
          'others cpu%',
          'node cpu ms/op',
          'net of idle',
        ],
        rows,
      ),
    );
  }
  out.push(
    '',
    'cpu% = percent of one core during the measured window; leader runq% = time the leader was runnable but waiting for a CPU;',
    'others cpu% = CPU used by processes outside this benchmark; node cpu ms/op = CPU of all node processes per operation',
    '(net of idle: less the heartbeat baseline). On a shared machine compare ms/op more than ops/s.',
  );
  if (summary.startup) {
    const s = summary.startup;
    out.push(
      '',
      `start-up (spawn -> ...): nodes up ${fmt(s.spawnMs)} ms, leader ${fmt(s.leaderMs)} ms, first write ${fmt(s.firstWriteMs)} ms`,
    );
  }
  if (summary.idleCpu) {
    out.push(
      `idle CPU (heartbeats, timers): leader ${fmt(summary.idleCpu.leaderPercent, 1)}%, follower ${fmt(summary.idleCpu.followerPercent, 1)}% of a core`,
    );
  }
  if (summary.memory) {
    const mem = summary.memory;
    out.push(
      `memory (RSS, node processes): idle ${fmt(mem.idleMiB)} MiB, after load ${fmt(mem.afterLoadMiB)} MiB, ` +
        `peak ${fmt(mem.peakMiB)} MiB; this process ${fmt(mem.benchMiB)} MiB` +
        (m.mode === 'miniflare' ? ' (load generator + Miniflare host)' : ''),
      `memory (PSS, shared pages such as workerd's code counted once): idle ${fmt(mem.idlePssMiB)} MiB, after load ${fmt(mem.afterLoadPssMiB)} MiB`,
    );
  }
  if (summary.failover) {
    const f = summary.failover;
    out.push(
      `failover (${f.trials} trials): new leader elected after ${fmt(f.electedMsMedian)} ms, ` +
        `first write acknowledged after ${fmt(f.firstWriteMsMedian)} ms (median; max ${fmt(f.firstWriteMsMax)} ms)` +
        (f.failed > 0 ? `, ${f.failed} trial(s) got no write through` : ''),
    );
  }
  return out.join('\n');
}
