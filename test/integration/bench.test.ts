// The benchmark runs end to end on a small 3-node cluster and produces sane
// output. It asserts no timings: the machine is shared, and `npm run bench`
// is a measuring tool, not a test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from '../../bench/bench';
import { parseOptions, type BenchOptions } from '../../bench/options';
import { formatSummary, summarizeRuns } from '../../bench/report';
import { parseAbArgs, runAb } from '../../bench/ab';
import { compare } from '../../bench/ab-summary';
import { repoRoot } from '../../launcher/bundle';
import { commandLine, processTree } from '../../launcher/procfs';
import { defaultV8Flags } from '../../launcher/workerd-v8-flags';

const dir = mkdtempSync(join(tmpdir(), 'raft-kv-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(argv: string[]): BenchOptions {
  const o = parseOptions(argv);
  if (o === 'help') throw new Error('unexpected help');
  return o;
}

describe('npm run bench', () => {
  it('measures writes and reads at two concurrency levels on 3 Miniflare nodes', async () => {
    const jsonPath = join(dir, 'out.json');
    const o = options(['--start', '--cluster-size', '3', '--concurrency', '1,4', '--duration', '1', '--warmup', '0.2']);
    Object.assign(o, { keys: 50, idleS: 0.5, jsonPath, quiet: true });
    const { report, svgPath } = await runBench(o);

    expect(report.runs).toHaveLength(1);
    const run = report.runs[0]!;
    expect(run.workloads.map((w) => w.workload)).toEqual(['write', 'read']);
    for (const w of run.workloads) {
      expect(w.levels.map((l) => l.concurrency)).toEqual([1, 4]);
      for (const l of w.levels) {
        expect(l.ops).toBeGreaterThan(0);
        expect(l.opsPerSec).toBeGreaterThan(0);
        const { p50Ms, p90Ms, p99Ms, maxMs } = l.latency;
        expect(p50Ms).toBeGreaterThan(0);
        expect(p50Ms).toBeLessThanOrEqual(p90Ms);
        expect(p90Ms).toBeLessThanOrEqual(p99Ms);
        expect(p99Ms).toBeLessThanOrEqual(maxMs);
        expect(l.cpu.length).toBeGreaterThan(1); // the nodes' workerd processes and this process
      }
    }
    const s = run.startup!;
    expect(s.spawnMs).toBeGreaterThan(0);
    expect(s.leaderMs).toBeGreaterThanOrEqual(0);
    expect(s.firstWriteMs).toBeGreaterThanOrEqual(s.leaderMs);
    expect(run.memoryIdle!.clusterMiB).toBeGreaterThan(0);
    expect(run.memoryIdle!.processes.length).toBeGreaterThanOrEqual(3);

    // The JSON on disk holds the same runs plus the summary the table is printed from.
    const saved = JSON.parse(readFileSync(jsonPath, 'utf8')) as { runs: unknown[]; summary: { levels: unknown[] } };
    expect(saved.runs).toHaveLength(1);
    expect(saved.summary.levels).toHaveLength(4);
    // And the chart beside it: a throughput and a latency panel per workload and level.
    expect(svgPath).toBe(join(dir, 'out.svg'));
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg.match(/: throughput</g)).toHaveLength(4);
    expect(svg.match(/: latency \(p50 solid, p99 dashed\)</g)).toHaveLength(4);
    const table = formatSummary(report, summarizeRuns(report.runs));
    expect(table).toContain('workload: write');
    expect(table).toContain('p99 ms');
    expect(report.meta.v8Flags).toEqual(defaultV8Flags);
    expect(table).toContain(`workerd V8 flags: ${defaultV8Flags.join(' ')}`);
  }, 120_000);

  it('bench/ab.ts runs two clusters side by side, alternates loads between them, and stops both', async () => {
    const parsed = parseAbArgs(['--a', repoRoot, '--rounds', '2', '--concurrency', '2', '--duration', '1', '--warmup', '0']);
    if (parsed === 'help') throw new Error('unexpected help');
    const lines: string[] = [];
    const results = await runAb(parsed.options, parsed.levels, (line) => lines.push(line));
    const samples = results.get(2)!;
    expect(samples.map((s) => `${s.round}${s.side}`)).toEqual(['1A', '1B', '2B', '2A']);
    for (const s of samples) {
      expect(s.opsPerSec).toBeGreaterThan(0);
      expect(s.p50Ms).toBeGreaterThan(0);
      expect(s.cpuMsPerOp).toBeGreaterThan(0); // the three workerds of each side were found
    }
    expect(compare(samples).bFaster.of).toBe(2);
    expect(lines.some((l) => l.startsWith('c=2 round 2 A:'))).toBe(true);
    // Both launchers and their workerds are gone.
    const left = processTree(process.pid)
      .map(commandLine)
      .filter((cmd) => /cluster\.ts|workerd/.test(cmd));
    expect(left).toEqual([]);
  }, 120_000);

  it('bench/ab.ts --fresh starts both clusters anew for each round and stops them each time', async () => {
    const parsed = parseAbArgs(['--a', repoRoot, '--rounds', '2', '--concurrency', '2', '--duration', '1', '--warmup', '0', '--fresh']);
    if (parsed === 'help') throw new Error('unexpected help');
    const lines: string[] = [];
    const results = await runAb(parsed.options, parsed.levels, (line) => lines.push(line));
    expect(results.get(2)!.map((s) => `${s.round}${s.side}`)).toEqual(['1A', '1B', '2B', '2A']);
    for (const s of results.get(2)!) expect(s.cpuMsPerOp).toBeGreaterThan(0);
    expect(lines.filter((l) => /^round \d: both clusters started anew$/.test(l))).toHaveLength(2);
    const left = processTree(process.pid)
      .map(commandLine)
      .filter((cmd) => /cluster\.ts|workerd/.test(cmd));
    expect(left).toEqual([]);
  }, 120_000);

  it('refuses contradictory flags with a readable message', () => {
    expect(() => parseOptions(['--start', '--nodes', 'http://127.0.0.1:1'])).toThrow(/exclude each other/);
    expect(() => parseOptions(['--mix', 'write=x'])).toThrow(/--mix/);
    expect(() => parseOptions(['--failover', '--cluster-size', '1'])).toThrow(/cluster-size 3/);
    expect(options(['--v8-flags', '']).v8Flags).toEqual([]);
    expect(options(['--v8-flags=--max-semi-space-size=2 --single-threaded-gc']).v8Flags).toEqual([
      '--max-semi-space-size=2',
      '--single-threaded-gc',
    ]);
    expect(() => parseOptions(['--v8-flags', 'semi'])).toThrow(/"semi" is not a V8 flag/);
    expect(() => parseOptions(['--mode', 'wrangler', '--v8-flags', ''])).toThrow(/wrangler dev starts its own workerd/);
    expect(() => parseOptions(['--nodes', 'http://127.0.0.1:1', '--v8-flags', ''])).toThrow(/--v8-flags applies/);
  });
});
