// Wing & Gong's depth-first search for a linearization of one key's history,
// with Lowe's memoization (the approach Porcupine takes).
//
// Operations with a deadline (a finite `complete`) contribute a call and a
// return event to one time-ordered list (linearizability-events.ts). Walking
// it from the head, the calls met before the first return are the operations
// that could take effect next. Placing one lifts its events out of the list
// and restarts from the head; meeting a return means its operation was never
// placed although its deadline has come, so the search backtracks.
//
// Optional operations (unknown outcomes with no deadline) may take effect at
// any point after their invoke, or never. Three rules keep them cheap:
// - they are tried only after every due candidate at a point, so the search
//   first explores worlds where they did not happen, which lets the cache
//   prune by dominance (linearizability-cache.ts);
// - one that would leave the value unchanged is skipped: placing it is
//   indistinguishable from never placing it;
// - those with the same effect (say, two unknown deletes) are placed only in
//   invoke order: swapping two of them in a linearization gives another, as
//   the earlier-invoked one may go wherever the later one could.
// The search succeeds once every due operation is placed.

import type { KvOp, Operation } from './history';
import { OpSet } from './linearizability-bitset';
import { VisitedStates, type VisitedEntry } from './linearizability-cache';
import { buildEventList, HEAD, isCall, lift, TAIL, unlift } from './linearizability-events';
import { stepRegister, type RegisterState } from './linearizability-model';

export type KeySearchResult =
  | { type: 'linearizable'; statesExplored: number }
  /** `longestPrefix` indexes `ops`, in the order of the longest partial linearization found. */
  | { type: 'violation'; statesExplored: number; longestPrefix: number[] }
  | { type: 'budgetExhausted'; statesExplored: number };

/** One placed operation on the search stack. */
interface Frame {
  op: number;
  /** The call node for a due op; for an optional op, its position in `optional`. */
  at: number;
  isOptional: boolean;
  before: RegisterState;
  /** For an optional op, the deadline bounding the candidates when it was placed. */
  frontier: number;
  entry: VisitedEntry;
}

/**
 * `ops` must come from `prepareKeyOperations`: sorted by invoke, and with
 * `complete` read as a deadline (Infinity: optional, may never happen).
 */
export function searchKey(ops: readonly Operation[], maxStates: number): KeySearchResult {
  const due = ops.flatMap((op, i) => (op.complete === Infinity ? [] : [i]));
  const optional = ops.flatMap((op, i) => (op.complete === Infinity ? [i] : []));
  const list = buildEventList(ops, due);
  const twinBefore = previousTwins(ops, optional);
  // Bit k of `dueSet` is ops[due[k]]; bit k of `optionalSet` is ops[optional[k]].
  const dueSlot = new Int32Array(ops.length).fill(-1);
  due.forEach((op, k) => (dueSlot[op] = k));
  const dueSet = new OpSet(due.length);
  const optionalSet = new OpSet(optional.length);
  const visited = new VisitedStates();
  const best = new LongestPrefix();
  const stack: Frame[] = [];
  let state: RegisterState = null;
  let dueLeft = due.length;
  // The cursor: a node of the event list while scanning due candidates, then
  // a position in `optional` bounded by `frontier`, the earliest deadline.
  let scanningDue = true;
  let node = list.next[HEAD]!;
  let position = 0;
  let frontier = Infinity;

  /** Place `op` if the model and the cache allow it; true when placed. */
  function tryPlace(op: number, at: number, isOptional: boolean): boolean {
    const next = stepRegister(state, ops[op]!.op, ops[op]!.observed);
    if (next === undefined || (isOptional && next === state)) return false;
    const [set, slot] = isOptional ? [optionalSet, at] : [dueSet, dueSlot[op]!];
    set.add(slot);
    const entry = visited.enter(dueSet, optionalSet, next);
    if (entry === undefined) {
      set.remove(slot);
      return false;
    }
    stack.push({ op, at, isOptional, before: state, frontier, entry });
    best.push(stack);
    state = next;
    return true;
  }

  while (dueLeft > 0) {
    if (visited.size > maxStates) return { type: 'budgetExhausted', statesExplored: visited.size };
    if (scanningDue) {
      if (node === TAIL) throw new Error('linearizability search walked past every return event');
      if (!isCall(list, node)) {
        scanningDue = false;
        position = 0;
        frontier = list.time[node]!;
      } else if (tryPlace(list.opOf[node]!, node, false)) {
        lift(list, node);
        dueLeft--;
        node = list.next[HEAD]!;
      } else {
        node = list.next[node]!;
      }
      continue;
    }
    const op = optional[position];
    if (op !== undefined && ops[op]!.invoke <= frontier) {
      const twin = twinBefore[position]!;
      const allowed = !optionalSet.has(position) && (twin < 0 || optionalSet.has(twin));
      if (allowed && tryPlace(op, position, true)) {
        scanningDue = true;
        node = list.next[HEAD]!;
      } else {
        position++;
      }
      continue;
    }
    // No candidate left here: undo the latest placement, try the next one after it.
    const frame = stack.pop();
    if (frame === undefined) return { type: 'violation', statesExplored: visited.size, longestPrefix: best.ops };
    frame.entry.finished = true;
    best.popped(stack.length);
    state = frame.before;
    if (frame.isOptional) {
      optionalSet.remove(frame.at);
      position = frame.at + 1;
      frontier = frame.frontier;
    } else {
      dueSet.remove(dueSlot[frame.op]!);
      unlift(list, frame.at);
      dueLeft++;
      scanningDue = true;
      node = list.next[frame.at]!;
    }
  }
  return { type: 'linearizable', statesExplored: visited.size };
}

/** For each optional op, the position in `optional` of the closest earlier one with the same effect, or -1. */
function previousTwins(ops: readonly Operation[], optional: readonly number[]): number[] {
  const lastByEffect = new Map<string, number>();
  return optional.map((i, position) => {
    const effect = effectKey(ops[i]!.op);
    const twin = lastByEffect.get(effect) ?? -1;
    lastByEffect.set(effect, position);
    return twin;
  });
}

function effectKey(op: KvOp): string {
  switch (op.type) {
    case 'get':
    case 'delete':
      return op.type;
    case 'set':
      return JSON.stringify([op.type, op.value]);
    case 'cas':
      return JSON.stringify([op.type, op.expected, op.value]);
  }
}

/**
 * The deepest stack seen, for the failure report. Copying the stack at every
 * new maximum would be quadratic, so while the stack still extends the
 * recorded prefix, a new maximum only appends one operation.
 */
class LongestPrefix {
  readonly ops: number[] = [];
  /** How many leading entries the live stack shares with `ops`. */
  private shared = 0;

  push(stack: readonly Frame[]): void {
    const depth = stack.length;
    if (depth <= this.ops.length) return;
    if (this.shared === depth - 1 && this.ops.length === depth - 1) {
      this.ops.push(stack[depth - 1]!.op);
    } else {
      this.ops.length = 0;
      for (const frame of stack) this.ops.push(frame.op);
    }
    this.shared = depth;
  }

  popped(depth: number): void {
    if (depth < this.shared) this.shared = depth;
  }
}
