// The arithmetic of an interleaved A/B comparison (bench/ab.ts): which side
// runs first in each round, and the medians and ratios of what was measured.
import { median } from './stats';

export type Side = 'A' | 'B';

/** One measured load on one side. */
export interface Sample {
  side: Side;
  round: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of the side's node processes per operation (ms), or NaN when unknown. */
  cpuMsPerOp: number;
}

export interface SideSummary {
  rounds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerOp: number;
}

export interface Comparison {
  a: SideSummary;
  b: SideSummary;
  /** B over A, of the medians. */
  ratio: { opsPerSec: number; p50Ms: number; p99Ms: number; cpuMsPerOp: number };
  /** Rounds in which B had more throughput / a lower p50 than A (of the rounds both sides finished). */
  bFaster: { opsPerSec: number; p50Ms: number; of: number };
  /**
   * B over A within each round both sides finished, and their geometric
   * mean. The two sides of a round run back to back, so the machine's slow
   * and fast phases, and how lucky each round's clusters were, cancel out
   * more than across the medians of separate rounds.
   */
  paired: { opsPerSec: number[]; cpuMsPerOp: number[]; opsPerSecMean: number; cpuMsPerOpMean: number };
}

/**
 * A, B in odd rounds and B, A in even ones, so a machine that gets slower (or
 * faster) through the comparison does not favour the side that always goes first.
 */
export function roundOrder(round: number): [Side, Side] {
  return round % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
}

function summarizeSide(samples: Sample[]): SideSummary {
  return {
    rounds: samples.length,
    opsPerSec: median(samples.map((s) => s.opsPerSec)),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    cpuMsPerOp: median(samples.map((s) => s.cpuMsPerOp)),
  };
}

export function compare(samples: Sample[]): Comparison {
  const a = summarizeSide(samples.filter((s) => s.side === 'A'));
  const b = summarizeSide(samples.filter((s) => s.side === 'B'));
  let opsWins = 0;
  let p50Wins = 0;
  let of = 0;
  const opsRatios: number[] = [];
  const cpuRatios: number[] = [];
  const rounds = new Set(samples.map((s) => s.round));
  for (const round of rounds) {
    const sa = samples.find((s) => s.round === round && s.side === 'A');
    const sb = samples.find((s) => s.round === round && s.side === 'B');
    if (sa === undefined || sb === undefined) continue;
    of++;
    opsRatios.push(sb.opsPerSec / sa.opsPerSec);
    cpuRatios.push(sb.cpuMsPerOp / sa.cpuMsPerOp);
    if (sb.opsPerSec > sa.opsPerSec) opsWins++;
    if (sb.p50Ms < sa.p50Ms) p50Wins++;
  }
  return {
    a,
    b,
    ratio: {
      opsPerSec: b.opsPerSec / a.opsPerSec,
      p50Ms: b.p50Ms / a.p50Ms,
      p99Ms: b.p99Ms / a.p99Ms,
      cpuMsPerOp: b.cpuMsPerOp / a.cpuMsPerOp,
    },
    bFaster: { opsPerSec: opsWins, p50Ms: p50Wins, of },
    paired: {
      opsPerSec: opsRatios,
      cpuMsPerOp: cpuRatios,
      opsPerSecMean: geometricMean(opsRatios),
      cpuMsPerOpMean: geometricMean(cpuRatios),
    },
  };
}

/** NaN for no values (or any that is not a positive number). */
function geometricMean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

export function formatComparison(c: Comparison): string {
  const row = (name: string, s: SideSummary): string =>
    `${name}  ${s.opsPerSec.toFixed(0).padStart(7)}  ${s.p50Ms.toFixed(2).padStart(7)}  ${s.p99Ms.toFixed(1).padStart(7)}  ${
      Number.isFinite(s.cpuMsPerOp) ? s.cpuMsPerOp.toFixed(3).padStart(9) : '        -'
    }`;
  const pct = (r: number): string => (Number.isFinite(r) ? `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%` : '-');
  return [
    `medians of ${c.a.rounds} (A) and ${c.b.rounds} (B) rounds`,
    'side    ops/s   p50 ms   p99 ms  cpu ms/op',
    row('A   ', c.a),
    row('B   ', c.b),
    `B vs A: ops/s ${pct(c.ratio.opsPerSec)}, p50 ${pct(c.ratio.p50Ms)}, p99 ${pct(c.ratio.p99Ms)}, cpu/op ${pct(c.ratio.cpuMsPerOp)}`,
    `B ahead in ${c.bFaster.opsPerSec} of ${c.bFaster.of} rounds on ops/s, ${c.bFaster.p50Ms} of ${c.bFaster.of} on p50`,
    `B / A round by round: ops/s ${c.paired.opsPerSec.map((r) => r.toFixed(2)).join(' ')} (geometric mean ${pct(c.paired.opsPerSecMean)}), ` +
      `cpu/op geometric mean ${pct(c.paired.cpuMsPerOpMean)}`,
  ].join('\n');
}
