// The sequential specification each key must obey: a single register that
// starts absent. The search calls `stepRegister` in its inner loop, so it
// returns a bare value instead of allocating a result object per attempt.

import { describeValue, type KvObserved, type KvOp } from './history';

/** The register's value; null means the key is absent. */
export type RegisterState = string | null;

/**
 * Apply `op` to `state` and check it against what the client observed.
 * Returns the next state, or `undefined` when the observation is impossible
 * from `state`. An unknown outcome (`observed === null`) accepts whatever the
 * operation would have returned, so it never fails.
 */
export function stepRegister(state: RegisterState, op: KvOp, observed: KvObserved | null): RegisterState | undefined {
  switch (op.type) {
    case 'get':
      if (observed !== null && observed.type === 'get' && observed.value !== state) return undefined;
      return state;
    case 'set':
      return op.value;
    case 'delete':
      return null;
    case 'cas':
      return stepCas(state, op, observed);
  }
}

function stepCas(state: RegisterState, op: Extract<KvOp, { type: 'cas' }>, observed: KvObserved | null): RegisterState | undefined {
  const swaps = state === op.expected;
  const next = swaps ? op.value : state;
  if (observed === null || observed.type !== 'cas') return next;
  if (observed.swapped !== swaps || observed.current !== next) return undefined;
  return next;
}

/** Why `stepRegister` refused: for failure reports, not the hot path. */
export function explainMismatch(state: RegisterState, op: KvOp, observed: KvObserved | null): string {
  const held = `the register held ${describeValue(state)}`;
  if (op.type === 'get' && observed?.type === 'get') {
    return `read ${describeValue(observed.value)} but ${held}`;
  }
  if (op.type === 'cas' && observed?.type === 'cas') {
    if (state === op.expected) return `would have swapped (${held}) but the client saw no swap`;
    if (observed.swapped) return `swapped although ${held}, not ${describeValue(op.expected)}`;
    return `reported current ${describeValue(observed.current)} but ${held}`;
  }
  return `consistent with ${describeValue(state)}`;
}

/** Does the observation fit the request? A mismatch is a bug in whoever recorded the history. */
export function observationMatchesRequest(op: KvOp, observed: KvObserved | null): boolean {
  return observed === null || observed.type === op.type;
}
