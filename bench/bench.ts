// `npm run bench -- ...`: see options.ts for the flags. Prints one table per
// workload (medians over --runs) and writes everything, per run, as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { repoRoot } from '../launcher/bundle';
import { parseOptions, usage, type BenchOptions } from './options';
import { formatSummary, summarizeRuns } from './report';
import { reportMeta, runOnce, type BenchReport } from './run';
import { parseArgsOrExit, runIfEntry } from './entry';
import { benchChartSpec } from './charts';
import { renderChart } from './svg-chart';

export function defaultJsonPath(now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return join(repoRoot, 'bench', 'results', `${stamp}.json`);
}

/** Runs the whole benchmark; returns the report and where its JSON and its chart (beside it, .svg) went. */
export async function runBench(
  o: BenchOptions,
  log: (line: string) => void = () => {},
): Promise<{ report: BenchReport; jsonPath: string; svgPath: string }> {
  const report: BenchReport = { meta: reportMeta(o), runs: [] };
  for (let run = 1; run <= o.runs; run++) {
    if (o.runs > 1) log(`--- run ${run}/${o.runs}`);
    report.runs.push(await runOnce(o, run, log));
  }
  const jsonPath = resolve(o.jsonPath ?? defaultJsonPath());
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify({ ...report, summary: summarizeRuns(report.runs) }, null, 2)}\n`);
  const svgPath = jsonPath.replace(/(\.json)?$/, '.svg');
  writeFileSync(svgPath, renderChart(benchChartSpec(report)));
  return { report, jsonPath, svgPath };
}

async function main(): Promise<void> {
  // A different benchmark with its own flags (bench/longevity.ts).
  if (process.argv.slice(2).includes('--longevity')) return (await import('./longevity/run')).longevityMain();
  // raft-kv against a 3-member etcd (bench/compare-etcd.ts).
  if (process.argv.slice(2).some((a) => a === '--compare' || a.startsWith('--compare=')))
    return (await import('./compare-etcd')).compareEtcdMain();
  const opts = parseArgsOrExit('bench', usage, parseOptions);
  if (opts === null) return;
  const log = (line: string): void => {
    if (!opts.quiet) process.stderr.write(`${line}\n`);
  };
  const { report, jsonPath, svgPath } = await runBench(opts, log);
  process.stdout.write(`\n${formatSummary(report, summarizeRuns(report.runs))}\n\nJSON: ${jsonPath}\nchart: ${svgPath}\n`);
  const warnings = report.runs.flatMap((r) => r.nodeWarnings);
  if (warnings.length > 0)
    process.stderr.write(`\nnode warnings (first ${Math.min(10, warnings.length)}):\n${warnings.slice(0, 10).join('\n')}\n`);
}

// Run only as the entry point, so tests can import runBench.
runIfEntry(import.meta.url, 'bench', main);
