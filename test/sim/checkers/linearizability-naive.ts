// A brute-force reference for the checker, usable only on tiny histories: it
// tries every order of every subset of operations that includes all known
// outcomes, across all keys at once, with its own copy of the register rules.
// The fast checker must agree with it (the pattern of etcd's
// quorum/quick_test.go: check clever code against obvious code).

import type { KvObserved, KvOp, Operation } from './history';

export function naiveIsLinearizable(history: readonly Operation[]): boolean {
  const used = new Array<boolean>(history.length).fill(false);
  const order: Operation[] = [];
  const knownTotal = history.filter((op) => op.observed !== null).length;

  const extend = (registers: ReadonlyMap<string, string | null>, knownPlaced: number): boolean => {
    // Unknown outcomes left over simply never happened.
    if (knownPlaced === knownTotal) return true;
    for (let i = 0; i < history.length; i++) {
      const op = history[i]!;
      if (used[i]) continue;
      // Real time: nothing already placed may have been invoked after `op` completed.
      if (order.some((earlier) => op.complete < earlier.invoke)) continue;
      const next = replay(registers.get(op.key) ?? null, op.op, op.observed);
      if (next === 'impossible') continue;
      used[i] = true;
      order.push(op);
      const found = extend(new Map(registers).set(op.key, next), knownPlaced + (op.observed === null ? 0 : 1));
      order.pop();
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return extend(new Map(), 0);
}

function replay(value: string | null, op: KvOp, observed: KvObserved | null): string | null | 'impossible' {
  let after = value;
  let result: KvObserved;
  if (op.type === 'get') {
    result = { type: 'get', value };
  } else if (op.type === 'set') {
    after = op.value;
    result = { type: 'set' };
  } else if (op.type === 'delete') {
    after = null;
    result = { type: 'delete' };
  } else {
    const swapped = value === op.expected;
    if (swapped) after = op.value;
    result = { type: 'cas', swapped, current: after };
  }
  if (observed !== null && !sameObservation(observed, result)) return 'impossible';
  return after;
}

function sameObservation(a: KvObserved, b: KvObserved): boolean {
  if (a.type === 'get' && b.type === 'get') return a.value === b.value;
  if (a.type === 'cas' && b.type === 'cas') return a.swapped === b.swapped && a.current === b.current;
  return a.type === b.type;
}
