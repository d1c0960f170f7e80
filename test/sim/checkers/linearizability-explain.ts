// Turns a failed search into a report a human can act on: how far the best
// attempt got, what the register held there, and why none of the operations
// that could come next fits.

import { describeOperation, describeValue, type Operation } from './history';
import { explainMismatch, stepRegister, type RegisterState } from './linearizability-model';

const PREFIX_TAIL_SHOWN = 10;
const CANDIDATES_SHOWN = 20;

/**
 * `ops` are the key's prepared operations; `longestPrefix` indexes them in the
 * order of the longest partial linearization the search found.
 */
export function explainViolation(key: string, ops: readonly Operation[], longestPrefix: readonly number[]): string {
  const due = ops.filter(isDue).length;
  const placed = new Set(longestPrefix);
  const placedDue = longestPrefix.filter((i) => isDue(ops[i]!)).length;
  const lines = [
    `key ${JSON.stringify(key)}: no linearization exists.`,
    `The longest linearizable prefix places ${placedDue} of the ${due} operations that must take effect` +
      ` (${longestPrefix.length} operations in all).`,
  ];
  // Otherwise an unknown outcome printed with a finite interval would puzzle.
  if (ops.some((op) => op.observed === null && isDue(op))) {
    lines.push('An unknown write shows a deadline when it was the only writer of a value some operation saw.');
  }
  const state = describePrefix(ops, longestPrefix, lines);
  lines.push(`Register value after it: ${describeValue(state)}.`);
  describeStuck(ops, placed, state, lines);
  return lines.join('\n');
}

/** Append the end of the prefix, one line per operation, and return the final value. */
function describePrefix(ops: readonly Operation[], prefix: readonly number[], lines: string[]): RegisterState {
  let state: RegisterState = null;
  const firstShown = Math.max(0, prefix.length - PREFIX_TAIL_SHOWN);
  if (firstShown > 0) lines.push(`  … ${firstShown} earlier operations`);
  prefix.forEach((i, position) => {
    const op = ops[i]!;
    const next = stepRegister(state, op.op, op.observed);
    if (next === undefined) throw new Error(`prefix step #${op.id} does not fit the model`);
    state = next;
    if (position >= firstShown) lines.push(`  ${describeOperation(op)}   → ${describeValue(state)}`);
  });
  return state;
}

/**
 * After the prefix, the candidates are the unplaced operations invoked no later
 * than the earliest deadline among unplaced operations; the search tried
 * each of them there and every branch failed.
 */
function describeStuck(ops: readonly Operation[], placed: ReadonlySet<number>, state: RegisterState, lines: string[]): void {
  const unplaced = ops.map((_, i) => i).filter((i) => !placed.has(i));
  const deadlineOp = unplaced
    .filter((i) => isDue(ops[i]!))
    .reduce<number | undefined>((min, i) => (min === undefined || ops[i]!.complete < ops[min]!.complete ? i : min), undefined);
  if (deadlineOp === undefined) return;
  const deadline = ops[deadlineOp]!.complete;
  lines.push(`${describeOperation(ops[deadlineOp]!)} is due at ${deadline}, so it had to take effect by then.`);
  lines.push('None of the operations that could go next leads to a linearization:');
  const candidates = unplaced.filter((i) => ops[i]!.invoke <= deadline);
  for (const i of candidates.slice(0, CANDIDATES_SHOWN)) {
    const op = ops[i]!;
    const fits = stepRegister(state, op.op, op.observed) !== undefined;
    const why = fits ? 'fits here, but no order of what follows works' : explainMismatch(state, op.op, op.observed);
    lines.push(`  ${describeOperation(op)}: ${why}`);
  }
  if (candidates.length > CANDIDATES_SHOWN) lines.push(`  … ${candidates.length - CANDIDATES_SHOWN} more`);
}

/** Prepared operations with a finite `complete` must be linearized by then. */
function isDue(op: Operation): boolean {
  return op.complete !== Infinity;
}
