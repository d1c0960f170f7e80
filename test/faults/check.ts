// The checks after the faults stop (the VOPR's two phases: safety under
// faults, then liveness once healed):
// - liveness: with everything healed, a leader is elected and serves a write
//   within a budget;
// - final reads: every key is read linearizably and the reads join the history;
// - safety: the history is linearizable (the checker shared with the
//   simulator). With the final reads in it, this implies that every
//   acknowledged write that was not overwritten is still readable. We also
//   check that directly, because a "lost write" message is easier to read
//   than a failed search;
// - no node process exited on its own, and the API never answered outside
//   its contract.
import { checkLinearizable } from '../sim/checkers/linearizability';
import { describeOperation, type Operation } from '../sim/checkers/history';
import type { Prng } from '../sim/prng';
import type { FaultCluster } from './cluster';
import type { Workload } from './workload';

export interface FinalPhase {
  failures: string[];
  notes: string[];
  /** Time from "everything healed" to the first acknowledged write, or null. */
  recoveryMs: number | null;
}

/** Liveness and final reads, on the healed cluster (before it stops). */
export async function finalPhase(
  cluster: FaultCluster,
  workload: Workload,
  keys: string[],
  rng: Prng,
  now: () => number,
  budgetMs: number,
): Promise<FinalPhase> {
  const failures: string[] = [];
  const notes: string[] = [];
  const t0 = now();
  const leader = await cluster.waitForLeader(budgetMs);
  if (leader === null) {
    failures.push(`liveness: no leader agreed on by a majority within ${budgetMs} ms after healing`);
  } else {
    notes.push(`leader ${leader} within ${Math.round(now() - t0)} ms after healing`);
  }
  let recoveryMs: number | null = null;
  const probe = workload.client('liveness', rng.fork());
  for (let i = 0; i < 50 && now() - t0 < budgetMs; i++) {
    const rec = await workload.run(probe, 'liveness', '__liveness', { type: 'set', value: `liveness-${i + 1}` });
    if (rec?.observed) {
      recoveryMs = now() - t0;
      break;
    }
  }
  if (recoveryMs === null) failures.push(`liveness: no write acknowledged within ${budgetMs} ms after healing`);
  else notes.push(`first write acknowledged ${Math.round(recoveryMs)} ms after healing`);

  const reader = workload.client('final', rng.fork());
  for (const key of keys) {
    let read: Operation | null = null;
    const tk = now();
    for (let i = 0; i < 50 && read === null && now() - tk < budgetMs; i++) {
      const rec = await workload.run(reader, 'final', key, { type: 'get' });
      if (rec?.observed) read = rec;
    }
    if (read === null) failures.push(`liveness: final read of key ${key} got no answer within ${budgetMs} ms`);
  }
  return { failures, notes, recoveryMs };
}

export interface SafetyResult {
  failures: string[];
  notes: string[];
  /** The offending key's operations, for the report. */
  violation: Operation[] | null;
}

export function checkSafety(history: Operation[], finalReader = 'final'): SafetyResult {
  const failures: string[] = [];
  const notes: string[] = [];
  let violation: Operation[] | null = null;
  for (const lost of lostWrites(history, finalReader)) failures.push(lost);
  const started = Date.now();
  try {
    const r = checkLinearizable(history);
    if (r.ok === true) {
      notes.push(`linearizable: ${r.keys} keys, ${r.statesExplored} search states, ${Date.now() - started} ms`);
    } else if (r.ok === false) {
      failures.push(`not linearizable on key ${r.key}:\n${r.explanation}`);
      violation = r.operations;
    } else {
      failures.push(`linearizability inconclusive: ${r.reason}`);
    }
  } catch (err) {
    failures.push(`the checker rejected the history (a bug in the recorder): ${(err as Error).message}`);
  }
  return { failures, notes, violation };
}

/**
 * For each key: the write acknowledged after every other write that may have
 * taken effect had completed is the last write, for sure; the final read must
 * show it.
 */
function lostWrites(history: Operation[], finalReader: string): string[] {
  const problems: string[] = [];
  const keys = new Set(history.map((o) => o.key));
  for (const key of keys) {
    const ops = history.filter((o) => o.key === key);
    const finalRead = ops.filter((o) => o.client === finalReader && o.observed?.type === 'get').at(-1);
    if (!finalRead || finalRead.observed?.type !== 'get') continue;
    // Writes that may have changed the value: every set/delete, every cas not known to have failed.
    const effective = ops.filter((o) => o.op.type !== 'get' && !(o.observed?.type === 'cas' && !o.observed.swapped));
    const last = effective.find((w) => w.observed !== null && effective.every((x) => x === w || x.complete < w.invoke));
    if (!last) continue;
    const expected = last.op.type === 'delete' ? null : last.op.type === 'get' ? null : last.op.value;
    if (finalRead.observed.value !== expected) {
      problems.push(
        `lost write on key ${key}: ${describeOperation(last)} was acknowledged after every other write to the key had completed, ` +
          `but the final read ${describeOperation(finalRead)} saw ${JSON.stringify(finalRead.observed.value)}`,
      );
    }
  }
  return problems;
}
