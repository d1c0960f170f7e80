// Checks that a key-value history is linearizable: that some total order of
// its operations respects real time (an operation that completed before
// another was invoked comes first) and replays correctly on one register per
// key. Keys are independent registers, and linearizability is compositional
// (Herlihy & Wing's locality), so each key is checked on its own: that keeps
// every search small.

import { groupByKey, type Operation } from './history';
import { explainViolation } from './linearizability-explain';
import { prepareKeyOperations, validateOperation } from './linearizability-prepare';
import { searchKey } from './linearizability-search';

export type LinearizabilityResult =
  | { ok: true; keys: number; statesExplored: number }
  | { ok: false; key: string; explanation: string; operations: Operation[] /* the ops of that key */ }
  | { ok: 'unknown'; key: string; reason: string }; // search budget exhausted

export interface LinearizabilityOptions {
  /** Give up on a key after memoizing this many search states (default 1,000,000). */
  maxStatesPerKey?: number;
}

const DEFAULT_MAX_STATES_PER_KEY = 1_000_000;

/**
 * Throws if an operation is malformed (see `validateOperation`): that is a bug
 * in whoever recorded the history. Keys are checked in order of first use; a
 * violation on any key wins over a budget exhausted on an earlier one.
 */
export function checkLinearizable(history: Operation[], opts: LinearizabilityOptions = {}): LinearizabilityResult {
  const maxStates = opts.maxStatesPerKey ?? DEFAULT_MAX_STATES_PER_KEY;
  for (const op of history) validateOperation(op);
  const byKey = groupByKey(history);
  let statesExplored = 0;
  let gaveUp: LinearizabilityResult | undefined;
  for (const [key, keyOps] of byKey) {
    const prepared = prepareKeyOperations(keyOps);
    const result = searchKey(prepared, maxStates);
    statesExplored += result.statesExplored;
    switch (result.type) {
      case 'linearizable':
        break;
      case 'violation':
        return { ok: false, key, explanation: explainViolation(key, prepared, result.longestPrefix), operations: keyOps };
      case 'budgetExhausted':
        gaveUp ??= {
          ok: 'unknown',
          key,
          reason: `gave up on key ${JSON.stringify(key)} after ${result.statesExplored} search states (${keyOps.length} operations)`,
        };
        break;
    }
  }
  return gaveUp ?? { ok: true, keys: byKey.size, statesExplored };
}
