import { describe, expect, it } from 'vitest';
import { compare, formatComparison, roundOrder, type Sample } from './ab-summary';
import { UsageError } from '../common/args';
import { parseAbArgs } from './ab';

const sample = (side: 'A' | 'B', round: number, opsPerSec: number, p50Ms: number, cpuMsPerOp = 1): Sample => ({
  side,
  round,
  opsPerSec,
  p50Ms,
  p99Ms: p50Ms * 3,
  cpuMsPerOp,
});

describe('interleaved A/B', () => {
  it('alternates which side goes first', () => {
    expect([1, 2, 3, 4].map(roundOrder)).toEqual([
      ['A', 'B'],
      ['B', 'A'],
      ['A', 'B'],
      ['B', 'A'],
    ]);
  });

  it('takes medians per side, B/A ratios, and counts the rounds B was ahead', () => {
    const c = compare([
      sample('A', 1, 100, 4, 2),
      sample('B', 1, 120, 3, 1.5),
      sample('B', 2, 90, 5, 1.5),
      sample('A', 2, 80, 6, 2),
      sample('A', 3, 300, 2, 2),
      sample('B', 3, 250, 2.5, 1.5),
    ]);
    expect(c.a).toEqual({ rounds: 3, opsPerSec: 100, p50Ms: 4, p99Ms: 12, cpuMsPerOp: 2 });
    expect(c.b).toEqual({ rounds: 3, opsPerSec: 120, p50Ms: 3, p99Ms: 9, cpuMsPerOp: 1.5 });
    expect(c.ratio.opsPerSec).toBeCloseTo(1.2);
    expect(c.ratio.p50Ms).toBeCloseTo(0.75);
    expect(c.ratio.cpuMsPerOp).toBeCloseTo(0.75);
    expect(c.bFaster).toEqual({ opsPerSec: 2, p50Ms: 2, of: 3 });
    expect(formatComparison(c)).toContain('B vs A: ops/s +20.0%, p50 -25.0%, p99 -25.0%, cpu/op -25.0%');
    // Round by round: 1.2, 1.125, 0.833...; their geometric mean is the cube root of the product (1.125).
    expect(c.paired.opsPerSec.map((r) => +r.toFixed(3))).toEqual([1.2, 1.125, 0.833]);
    expect(c.paired.opsPerSecMean).toBeCloseTo(Math.cbrt(1.2 * 1.125 * (250 / 300)));
    expect(c.paired.cpuMsPerOpMean).toBeCloseTo(0.75);
    expect(formatComparison(c)).toContain(
      'B / A round by round: ops/s 1.20 1.13 0.83 (geometric mean +4.0%), cpu/op geometric mean -25.0%',
    );
  });

  it('leaves a round out of the head-to-head count when one side is missing', () => {
    const c = compare([sample('A', 1, 100, 4), sample('B', 1, 90, 5), sample('A', 2, 100, 4)]);
    expect(c.bFaster).toEqual({ opsPerSec: 0, p50Ms: 0, of: 1 });
    expect(c.paired.opsPerSec).toEqual([0.9]);
    expect(c.a.rounds).toBe(2);
  });

  it('parses its flags and refuses bad ones', () => {
    const parsed = parseAbArgs(['--a', '/tmp/base', '--concurrency', '1,64', '--rounds', '4', '--mix', 'read=1', '--duration', '2']);
    if (parsed === 'help') throw new Error('unexpected help');
    expect(parsed.levels).toEqual([1, 64]);
    expect(parsed.options).toMatchObject({
      dirs: { A: '/tmp/base' },
      rounds: 4,
      durationMs: 2000,
      mix: { write: 0, read: 1 },
      fresh: false,
    });
    const fresh = parseAbArgs(['--a', '/tmp/base', '--fresh']);
    expect(fresh !== 'help' && fresh.options.fresh).toBe(true);
    const args = parseAbArgs([
      '--a',
      '.',
      '--a-arg=--v8-flags=',
      '--b-arg=--v8-flags=--max-semi-space-size=1 --single-threaded-gc',
      '--b-arg=--slowdown=2',
    ]);
    if (args === 'help') throw new Error('unexpected help');
    expect(args.options.clusterArgs).toEqual({
      A: ['--v8-flags='],
      B: ['--v8-flags=--max-semi-space-size=1 --single-threaded-gc', '--slowdown=2'],
    });
    expect(parseAbArgs(['--help'])).toBe('help');
    expect(() => parseAbArgs([])).toThrow(UsageError);
    expect(() => parseAbArgs(['--a', 'x', '--rounds', '0'])).toThrow(/--rounds must be a number greater than 0/);
    expect(() => parseAbArgs(['--a', 'x', '--client', 'curl'])).toThrow(/--client must be one of raw\|http\|client/);
    expect(() => parseAbArgs(['--a', 'x', '--bogus', '1'])).toThrow(/unknown option --bogus/);
    // A flag's value that starts with a dash must be attached with `=`.
    expect(() => parseAbArgs(['--a', 'x', '--a-arg', '--v8-flags='])).toThrow(/--a-arg needs a value/);
  });
});
