// The simulator's command line.
//   npm run sim -- --seeds 1000            1000 seeds from a random start
//   npm run sim -- --seeds 1000 --from 5   seeds 5..1004
//   npm run sim -- --seed 42 [--verbose]   replay one seed (SIM_SEED=42 works too)
//   npm run sim -- --plant staleReads ...  with a planted host bug (see plants.ts)
//   npm run sim -- --phase-max 5000 ...    cap the safety phase (the profile npm test uses)
//   npm run sim -- ... --keep-going        do not stop at the first failure
// Exits 1 at the first failing seed, after printing SEED=, the replay command
// and the buffered node logs of that run.
import { randomInt } from 'node:crypto';
import { runSeed, type RunOptions } from './cluster';
import { failureReport, summaryLine } from './report';
import { plants, type Plant } from './plants';
import { describeOptions } from './swarm';

interface Args {
  seeds: number;
  from: number | null;
  seed: number | null;
  verbose: boolean;
  plant: Plant | null;
  keepGoing: boolean;
  phaseMaxMs: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1, from: null, seed: null, verbose: false, plant: null, keepGoing: false, phaseMaxMs: undefined };
  const env = process.env.SIM_SEED;
  if (env) args.seed = parseSeed(env);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') args.seeds = parseSeed(next());
    else if (a === '--from') args.from = parseSeed(next());
    else if (a === '--seed') args.seed = parseSeed(next());
    else if (a === '--verbose' || a === '-v') args.verbose = true;
    else if (a === '--keep-going') args.keepGoing = true;
    else if (a === '--phase-max') args.phaseMaxMs = parseSeed(next());
    else if (a === '--plant') {
      const p = next();
      if (!plants.includes(p as Plant)) usage(`unknown plant ${p}; one of ${plants.join(', ')}`);
      args.plant = p as Plant;
    } else usage(`unknown argument ${a}`);
  }
  return args;
}

function parseSeed(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) usage(`not a seed: ${s}`);
  return n;
}

function usage(problem: string): never {
  console.error(
    `${problem}\nusage: npm run sim -- [--seeds N [--from S]] [--seed S] [--verbose] [--plant ${plants.join('|')}] [--phase-max MS] [--keep-going]`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const run: RunOptions = { plant: args.plant, phaseMaxMs: args.phaseMaxMs };
  const first = args.seed ?? args.from ?? randomInt(0, 2 ** 31);
  const count = args.seed !== null ? 1 : args.seeds;
  console.log(`simulating ${count} seed(s) from ${first}${args.plant ? ` with plant ${args.plant}` : ''}`);
  const started = performance.now();
  const totals = { ran: 0, failed: 0, virtualMs: 0, events: 0, linUnknown: 0 };
  let lastProgress = started;
  for (let i = 0; i < count; i++) {
    // A seed runs synchronously; the promise jobs it queued (the alarm adapter's setAlarm
    // handlers, among them) run only when the loop yields, and hold that seed's whole world.
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const result = runSeed(first + i, run);
    totals.ran++;
    totals.virtualMs += result.virtualMs;
    totals.events += result.events;
    if (result.linearizabilityUnknown) totals.linUnknown++;
    if (args.verbose || count === 1) {
      console.log(summaryLine(result));
      if (args.verbose) for (const l of describeOptions(result.options)) console.log(`  ${l}`);
      if (result.linearizabilityUnknown) console.log(`  linearizability: ${result.linearizabilityUnknown}`);
    }
    if (!result.ok) {
      totals.failed++;
      console.log(failureReport(result, run));
      if (!args.keepGoing) break;
    }
    const now = performance.now();
    if (now - lastProgress > 10_000) {
      lastProgress = now;
      const rate = (now - started) / totals.ran;
      console.log(
        `  ${totals.ran}/${count} seeds, ${totals.failed} failed, ${rate.toFixed(1)} ms/seed, ~${(((count - totals.ran) * rate) / 60_000).toFixed(1)} min left`,
      );
    }
  }
  const wall = performance.now() - started;
  console.log(
    `done: ${totals.ran} seed(s) from ${first}, ${totals.failed} failed, ${(wall / 1000).toFixed(1)}s wall, ` +
      `${(totals.virtualMs / 1000).toFixed(0)}s virtual, ${totals.events} events, ${(wall / Math.max(1, totals.ran)).toFixed(1)} ms/seed` +
      (totals.linUnknown ? `, linearizability search gave up on ${totals.linUnknown} seed(s)` : ''),
  );
  process.exit(totals.failed > 0 ? 1 : 0);
}

void main();
