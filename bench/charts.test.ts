// The benchmark pictures: what each panel plots, and an SVG that escapes its
// text and breaks lines where a second had no sample.
import { describe, expect, it } from 'vitest';
import { abChartSpec, benchChartSpec } from './charts';
import type { Sample } from './ab-summary';
import type { BenchReport } from './run';
import { niceMax, renderChart } from './svg-chart';

function level(concurrency: number, perSecond: number[], p50: (number | null)[]) {
  return {
    concurrency,
    perSecond,
    latencyPerSecond: p50.map((p) => ({ p50Ms: p, p99Ms: p === null ? null : p * 3 })),
  };
}

const report = {
  meta: { date: '2026-12-07T00:00:00.000Z', clusterSize: 3, mode: 'miniflare', cpus: 2, cpuModel: 'Test <CPU>', node: 'v20' },
  runs: [1, 2].map((run) => ({
    run,
    workloads: [{ workload: 'write', levels: [level(1, [10, 12, 11], [1, null, 2]), level(8, [40, 42, 41], [3, 4, 5])] }],
  })),
} as unknown as BenchReport;

describe('benchmark charts', () => {
  it('plots each workload and level over the seconds, one colour per run, p50 and p99', () => {
    const spec = benchChartSpec(report);
    expect(spec.panels.map((p) => p.title)).toEqual([
      'write, 1 client: throughput',
      'write, 1 client: latency (p50 solid, p99 dashed)',
      'write, 8 clients: throughput',
      'write, 8 clients: latency (p50 solid, p99 dashed)',
    ]);
    const [tp, lat] = spec.panels;
    expect(tp!.series.map((s) => s.name)).toEqual(['run 1', 'run 2']);
    expect(tp!.series[0]!.points).toEqual([
      [1, 10],
      [2, 12],
      [3, 11],
    ]);
    expect(lat!.series.map((s) => [s.name, s.dashed ?? false])).toEqual([
      ['run 1 p50', false],
      ['run 1 p99', true],
      ['run 2 p50', false],
      ['run 2 p99', true],
    ]);
    expect(lat!.series[1]!.points).toEqual([
      [1, 3],
      [2, null],
      [3, 6],
    ]);
  });

  it('renders SVG with escaped text, and a second without samples breaks the line', () => {
    const svg = renderChart(benchChartSpec(report));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Test &lt;CPU&gt;');
    expect(svg).not.toContain('<CPU>');
    // Throughput: 2 runs x 2 levels = 4 lines. Latency at 1 client: each of 4 series splits
    // in two around the empty second; at 8 clients 4 whole lines.
    expect(svg.match(/<polyline /g)).toHaveLength(4 + 8 + 4);
  });

  it('compares A and B round by round', () => {
    const samples: Sample[] = [1, 2, 3].flatMap((round) => [
      { side: 'A' as const, round, opsPerSec: 100 + round, p50Ms: 2, p99Ms: 9, cpuMsPerOp: 1 },
      { side: 'B' as const, round, opsPerSec: 120 + round, p50Ms: 1.5, p99Ms: round === 2 ? Number.NaN : 7, cpuMsPerOp: 1 },
    ]);
    const spec = abChartSpec({ levels: [[1, samples]], a: '/tmp/base', b: '.', durationMs: 3000, date: '2026-12-07T00:00:00.000Z' });
    expect(spec.panels).toHaveLength(2);
    expect(spec.panels[0]!.series.map((s) => [s.name, s.points])).toEqual([
      [
        'A',
        [
          [1, 101],
          [2, 102],
          [3, 103],
        ],
      ],
      [
        'B',
        [
          [1, 121],
          [2, 122],
          [3, 123],
        ],
      ],
    ]);
    expect(spec.panels[1]!.series.find((s) => s.name === 'B p99')!.points).toEqual([
      [1, 7],
      [2, null],
      [3, 7],
    ]);
    expect(renderChart(spec)).toContain('A: /tmp/base');
  });

  it('picks axis tops of four 1-2-5 steps', () => {
    expect(niceMax(0)).toBe(4);
    expect(niceMax(25)).toBe(40);
    expect(niceMax(3.9)).toBe(4);
    expect(niceMax(41)).toBe(80);
    expect(niceMax(1234)).toBeCloseTo(2000);
  });
});
