// Turns one key's raw operations into what the search needs: validated,
// without the unknown-outcome operations that provably cannot matter, and
// sorted by invoke time (the search numbers operations in that order).

import type { Operation } from './history';
import { observationMatchesRequest } from './linearizability-model';

/**
 * Throw if an operation is malformed. The producers of histories are our own
 * test drivers, so a malformed record is a bug there, not an outcome to report.
 */
export function validateOperation(op: Operation): void {
  const where = `operation #${op.id} (client ${op.client}, key ${JSON.stringify(op.key)})`;
  if (!Number.isFinite(op.invoke)) throw new Error(`${where}: invoke must be a finite time`);
  if (Number.isNaN(op.complete) || op.complete < op.invoke) {
    throw new Error(`${where}: complete must not precede invoke`);
  }
  if (op.observed !== null && !Number.isFinite(op.complete)) {
    throw new Error(`${where}: an observed outcome needs a finite completion time`);
  }
  if (!observationMatchesRequest(op.op, op.observed)) {
    throw new Error(`${where}: observed a ${op.observed?.type} result for a ${op.op.type} request`);
  }
}

/**
 * Prepare one key's operations for the search: drop the unknown outcomes that
 * cannot matter, give a deadline to those that must have happened, and sort by
 * invoke time. In the result, `complete` is a deadline: finite means the
 * operation must be linearized by then, Infinity means it is optional.
 */
export function prepareKeyOperations(ops: readonly Operation[]): Operation[] {
  const mentioned = mentionedValues(ops);
  const kept = ops.filter((op) => op.observed !== null || mayMatter(op, mentioned));
  const deadlines = forcedDeadlines(kept);
  const prepared = kept.map((op) => {
    if (op.observed !== null) return op;
    // Whatever `complete` says, an unknown outcome that may never have
    // happened has no deadline (conservative: never a false alarm).
    const complete = deadlines.get(op) ?? Infinity;
    return op.complete === complete ? op : { ...op, complete };
  });
  return prepared.sort((a, b) => a.invoke - b.invoke || a.complete - b.complete || a.id - b.id);
}

/*
 * Which unknown writes may be dropped. An unknown get has no effect and
 * nothing to check. An unknown write (set, delete or cas) of value v can also
 * go when no operation of the key ever reads v, reports it as a cas
 * `current`, or names it as a cas `expected`: in any linearization that
 * includes the write, whatever comes next either overwrites v, or is an
 * unknown cas that leaves it alone (and may itself be dropped), or would have
 * exposed v. So removing the write keeps the linearization valid, and an
 * unknown write may always "never happen". This matters because every
 * optional operation stays pending until the end of the search, and each one
 * left in multiplies the states to explore.
 */
function mayMatter(op: Operation, mentioned: ReadonlySet<string | null>): boolean {
  switch (op.op.type) {
    case 'get':
      return false;
    case 'set':
      return mentioned.has(op.op.value);
    case 'cas':
      // A cas that expects the value it writes can never change the register.
      return op.op.expected !== op.op.value && mentioned.has(op.op.value);
    case 'delete':
      return mentioned.has(null);
  }
}

/** Every value some operation reads, reports, or compares against. */
function mentionedValues(ops: readonly Operation[]): Set<string | null> {
  const values = new Set<string | null>();
  for (const op of ops) {
    if (op.op.type === 'cas') values.add(op.op.expected);
    const observed = op.observed;
    if (observed?.type === 'get') values.add(observed.value);
    if (observed?.type === 'cas') values.add(observed.current);
  }
  return values;
}

/*
 * Unknown writes that must have happened, with the time by which they must
 * have. If an unknown op is the only possible writer of a non-null value v,
 * every known op that needed the register to hold v just before it (a get of
 * v, a cas that swapped from v, a cas that failed reporting v) must come
 * after that write in any linearization, so the write is due by the earliest
 * such op's completion. Making it due there is exact, not an approximation,
 * and it lets the search stop carrying the write as a pending option forever.
 */
function forcedDeadlines(ops: readonly Operation[]): Map<Operation, number> {
  const writers = new Map<string, Operation[]>();
  for (const op of ops) {
    const value = writtenValue(op);
    if (value !== undefined) writers.set(value, [...(writers.get(value) ?? []), op]);
  }
  const deadlines = new Map<Operation, number>();
  for (const op of ops) {
    const needed = neededValue(op);
    if (needed === undefined || needed === null) continue;
    const sole = writers.get(needed);
    if (sole?.length !== 1 || sole[0]!.observed !== null) continue;
    const writer = sole[0]!;
    deadlines.set(writer, Math.min(deadlines.get(writer) ?? Infinity, op.complete));
  }
  return deadlines;
}

/** The string a known op wrote, or an unknown op might have written. */
function writtenValue(op: Operation): string | undefined {
  if (op.op.type === 'set') return op.op.value;
  if (op.op.type !== 'cas') return undefined;
  if (op.observed?.type === 'cas' && !op.observed.swapped) return undefined;
  return op.op.value;
}

/** The value a known op saw in the register just before it took effect. */
function neededValue(op: Operation): string | null | undefined {
  const observed = op.observed;
  if (observed?.type === 'get') return observed.value;
  if (observed?.type !== 'cas' || op.op.type !== 'cas') return undefined;
  return observed.swapped ? op.op.expected : observed.current;
}
