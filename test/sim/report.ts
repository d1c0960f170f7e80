// Text for humans: how a failed seed is reported (by the CLI and by vitest)
// and how a run's numbers are summarised.
import { runSeed, type RunOptions, type RunResult } from './cluster';
import { describeOptions } from './swarm';

export function replayCommand(seed: number, run: RunOptions = {}): string {
  const plant = run.plant ? ` --plant ${run.plant}` : '';
  const phase = run.phaseMaxMs !== undefined ? ` --phase-max ${run.phaseMaxMs}` : '';
  const tuned = run.tune ? ' (plus the test-only tune function)' : '';
  return `npm run sim -- --seed ${seed}${plant}${phase}${tuned}`;
}

/** The failure report: seed, replay command, knobs, violation and the tail of the debug log. */
export function failureReport(result: RunResult, run: RunOptions = {}, logLines = 400): string {
  const v = result.violation;
  // Replay with debug logging for the report; logging draws no random numbers, so the run is the same.
  const replay = runSeed(result.seed, { ...run, logLevel: 'debug', logCapacity: logLines });
  const same = replay.digest === result.digest ? '' : ` (WARNING: replay digest ${replay.digest} differs from ${result.digest})`;
  return [
    `SEED=${result.seed}`,
    `replay: ${replayCommand(result.seed, run)}${same}`,
    ...describeOptions(result.options).map((l) => `  ${l}`),
    `violation: ${v ? `${v.kind} at ${v.at}ms: ${v.message}` : 'none'}`,
    `--- last ${logLines} log lines ---`,
    ...replay.logs(),
    `--- end of log; SEED=${result.seed}, replay: ${replayCommand(result.seed, run)} ---`,
  ].join('\n');
}

export function summaryLine(r: RunResult): string {
  const s = r.stats;
  return [
    `seed=${r.seed}`,
    r.ok ? 'ok' : `FAIL(${r.violation?.kind})`,
    `nodes=${r.options.nodeCount}`,
    `virtual=${r.virtualMs}ms`,
    `events=${r.events}`,
    `commit=${s.commitIndex}`,
    `ops=${s['ops.ok']}/${s['ops.invoked']} unknown=${s['ops.unknown']}`,
    `elections=${s.elections}`,
    `crashes=${s.crashes}`,
    `truncations=${s.truncations}`,
    `converged=${r.convergedAfterMs ?? '-'}ms`,
    `digest=${r.digest}`,
  ].join(' ');
}
