// The pictures beside the benchmark's JSON: `npm run bench` plots each
// workload and level over the seconds of its measured window (throughput,
// and p50/p99 latency), one colour per run; `npm run bench:ab` plots A and B
// round by round. Both are SVG (svg-chart.ts).
import type { Sample } from './ab-summary';
import type { BenchReport } from './run';
import { palette, type ChartSpec, type Panel, type Series } from './svg-chart';

export function benchChartSpec(report: BenchReport): ChartSpec {
  const m = report.meta;
  const panels: Panel[] = [];
  const first = report.runs[0];
  for (const [wi, w] of (first?.workloads ?? []).entries()) {
    for (const [li, l] of w.levels.entries()) {
      const throughput: Series[] = [];
      const latency: Series[] = [];
      for (const [ri, run] of report.runs.entries()) {
        const level = run.workloads[wi]?.levels[li];
        if (level === undefined) continue;
        const color = palette[ri % palette.length]!;
        const name = report.runs.length > 1 ? `run ${run.run}` : 'ops/s';
        // Second i covers [i, i+1) s of the window; plot it at its end.
        throughput.push({ name, color, points: level.perSecond.map((n, i) => [i + 1, n]) });
        // Older reports have no per-second latency.
        const perSec = level.latencyPerSecond ?? [];
        if (perSec.length > 0) {
          const tag = report.runs.length > 1 ? `run ${run.run} ` : '';
          latency.push({ name: `${tag}p50`, color, points: perSec.map((s, i) => [i + 1, s.p50Ms]) });
          latency.push({ name: `${tag}p99`, color, dashed: true, points: perSec.map((s, i) => [i + 1, s.p99Ms]) });
        }
      }
      const what = `${w.workload}, ${l.concurrency} client${l.concurrency === 1 ? '' : 's'}`;
      panels.push({
        title: `${what}: throughput`,
        xLabel: 'second of the measured window',
        yLabel: 'successful ops per second',
        series: throughput,
      });
      panels.push({
        title: `${what}: latency (p50 solid, p99 dashed)`,
        xLabel: 'second of the measured window',
        yLabel: 'ms',
        series: latency,
      });
    }
  }
  return {
    title: `raft-kv benchmark, ${m.date.slice(0, 19).replace('T', ' ')} UTC`,
    subtitle: `${m.clusterSize} nodes, mode ${m.mode}, ${report.runs.length} run(s), ${m.cpus} CPUs (${m.cpuModel}), node ${m.node}`,
    panels,
  };
}

export interface AbChartInput {
  /** Per concurrency level, the samples of every round and side. */
  levels: [number, Sample[]][];
  /** What A and B were (checkout and flags). */
  a: string;
  b: string;
  durationMs: number;
  date: string;
}

const sideColor = { A: '#4e79a7', B: '#f28e2b' } as const;

export function abChartSpec(input: AbChartInput): ChartSpec {
  const panels: Panel[] = [];
  for (const [concurrency, samples] of input.levels) {
    const of = (side: 'A' | 'B') => samples.filter((s) => s.side === side).sort((x, y) => x.round - y.round);
    const throughput: Series[] = [];
    const latency: Series[] = [];
    for (const side of ['A', 'B'] as const) {
      const color = sideColor[side];
      throughput.push({ name: side, color, points: of(side).map((s) => [s.round, finite(s.opsPerSec)]) });
      latency.push({ name: `${side} p50`, color, points: of(side).map((s) => [s.round, finite(s.p50Ms)]) });
      latency.push({ name: `${side} p99`, color, dashed: true, points: of(side).map((s) => [s.round, finite(s.p99Ms)]) });
    }
    const what = `${concurrency} client${concurrency === 1 ? '' : 's'}`;
    panels.push({ title: `${what}: throughput per round`, xLabel: 'round', yLabel: 'ops per second', series: throughput, markers: true });
    panels.push({
      title: `${what}: latency per round (p50 solid, p99 dashed)`,
      xLabel: 'round',
      yLabel: 'ms',
      series: latency,
      markers: true,
    });
  }
  return {
    title: `raft-kv A/B, ${input.date.slice(0, 19).replace('T', ' ')} UTC`,
    subtitle: `A: ${input.a} · B: ${input.b} · ${input.durationMs / 1000} s per load, sides alternate`,
    panels,
  };
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
