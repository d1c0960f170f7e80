// The memo of the Wing & Gong search (Lowe's refinement, as in Porcupine): a
// (set of linearized operations, register value) pair reached once never needs
// exploring again, because what can follow depends only on that pair.
//
// It also prunes by dominance. Optional operations (unknown outcomes that may
// never have happened) impose nothing on the rest of the history, so whatever
// completes from (due set D, optional set O + more, v) also completes from
// (D, O, v) by simply never placing the extra ones. Hence once (D, O, v) has
// been fully explored and failed, any (D, superset of O, v) fails too. Only
// finished states count: one still on the search path has not failed yet.
// Soundness, by induction on the order in which states finish: every prune
// relies on an earlier finished failure, so no failure is concluded wrongly.
//
// Entries are bucketed by the due set and the value alone, so one lookup
// finds both the exact match and every candidate dominator.

import type { OpSet, OpSetSnapshot } from './linearizability-bitset';
import type { RegisterState } from './linearizability-model';

export interface VisitedEntry {
  readonly stateId: number;
  readonly due: OpSetSnapshot;
  readonly optional: OpSetSnapshot;
  /** Set by the search once every continuation from here has failed. */
  finished: boolean;
}

// 2^32: the bucket key packs the 32-bit set hash below the state id, which
// stays an exact integer while there are fewer than 2^21 distinct values.
const HASH_SPAN = 4294967296;

export class VisitedStates {
  private readonly buckets = new Map<number, VisitedEntry[]>();
  private readonly stateIds = new Map<RegisterState, number>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Record the state and return its entry, or undefined when it needs no
   * exploring: seen before, or dominated by a finished state.
   */
  enter(due: OpSet, optional: OpSet, state: RegisterState): VisitedEntry | undefined {
    const stateId = this.idOf(state);
    const key = stateId * HASH_SPAN + due.hash;
    const bucket = this.buckets.get(key);
    if (bucket !== undefined && this.covered(bucket, due, optional, stateId)) return undefined;
    const entry: VisitedEntry = { stateId, due: due.snapshot(), optional: optional.snapshot(), finished: false };
    if (bucket === undefined) this.buckets.set(key, [entry]);
    else bucket.push(entry);
    this.count++;
    return entry;
  }

  private covered(bucket: readonly VisitedEntry[], due: OpSet, optional: OpSet, stateId: number): boolean {
    for (const seen of bucket) {
      // Same hash and value: compare the sets themselves, since a false
      // "already seen" would hide a valid linearization.
      if (seen.stateId !== stateId || !due.matches(seen.due)) continue;
      if (optional.matches(seen.optional)) return true;
      if (seen.finished && optional.containsAll(seen.optional)) return true;
    }
    return false;
  }

  private idOf(state: RegisterState): number {
    let id = this.stateIds.get(state);
    if (id === undefined) {
      id = this.stateIds.size;
      this.stateIds.set(state, id);
    }
    return id;
  }
}
