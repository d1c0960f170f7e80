// The record of what clients asked a key-value store and what they saw.
// Both the deterministic simulator (virtual time) and the real-cluster fault
// test (wall-clock ms) produce this shape; the linearizability checker reads it.
// Times are plain numbers in whatever unit the producer uses: only their order
// matters.

export type KvOp =
  { type: 'get' } | { type: 'set'; value: string } | { type: 'delete' } | { type: 'cas'; expected: string | null; value: string };

/** What the client observed. For cas, `current` is the value after the op (on mismatch: the value that did not match). */
export type KvObserved =
  { type: 'get'; value: string | null } | { type: 'set' } | { type: 'delete' } | { type: 'cas'; swapped: boolean; current: string | null };

export interface Operation {
  id: number;
  client: string;
  key: string;
  op: KvOp;
  invoke: number; // time the client sent it
  complete: number; // time the answer arrived; Infinity when the outcome is unknown
  observed: KvObserved | null; // null = unknown outcome: it may or may not have taken effect, at any time after invoke
}

/** True when the client never learned whether the operation took effect. */
export function isUnknownOutcome(op: Operation): boolean {
  return op.observed === null;
}

/**
 * Split a history into one sub-history per key, keeping each key's operations
 * in their original order. Keys appear in order of first use, so the result is
 * deterministic for a given history.
 */
export function groupByKey(history: readonly Operation[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    const ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, [op]);
    else ops.push(op);
  }
  return byKey;
}

/** A one-line human description, e.g. `#7 c2 cas "a"→"b" ⇒ swapped [30, 45]`. */
export function describeOperation(op: Operation): string {
  const interval = `[${op.invoke}, ${Number.isFinite(op.complete) ? op.complete : '∞'}]`;
  return `#${op.id} ${op.client} ${describeRequest(op.op)} ⇒ ${describeObserved(op.observed)} ${interval}`;
}

export function describeValue(value: string | null): string {
  return value === null ? 'absent' : JSON.stringify(value);
}

function describeRequest(op: KvOp): string {
  switch (op.type) {
    case 'get':
      return 'get';
    case 'set':
      return `set ${describeValue(op.value)}`;
    case 'delete':
      return 'delete';
    case 'cas':
      return `cas ${describeValue(op.expected)}→${describeValue(op.value)}`;
  }
}

function describeObserved(observed: KvObserved | null): string {
  if (observed === null) return 'unknown';
  switch (observed.type) {
    case 'get':
      return describeValue(observed.value);
    case 'set':
    case 'delete':
      return 'ok';
    case 'cas':
      return observed.swapped ? 'swapped' : `not swapped (current ${describeValue(observed.current)})`;
  }
}
