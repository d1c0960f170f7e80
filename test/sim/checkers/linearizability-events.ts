// The time-ordered list of call and return events that the search walks.
// Only operations with a deadline are in it; optional ones (unknown outcomes
// that may never have happened) are kept apart, see linearizability-search.ts.
//
// Nodes are numbers; 0 and 1 are the head and tail sentinels. Lifting an
// operation unlinks its call and return; since an unlinked node keeps its own
// pointers ("dancing links"), undoing lifts in reverse order restores the
// list exactly.

import type { Operation } from './history';

export const HEAD = 0;
export const TAIL = 1;

export interface EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** The operation index of each node. */
  readonly opOf: Int32Array;
  /** For a call node, its return node; -1 on return nodes. */
  readonly returnOf: Int32Array;
  /** The time of each node. */
  readonly time: Float64Array;
}

/** `due` indexes `ops`: the operations with a finite deadline (`complete`). */
export function buildEventList(ops: readonly Operation[], due: readonly number[]): EventList {
  interface Event {
    time: number;
    isCall: boolean;
    op: number;
  }
  const events: Event[] = [];
  for (const i of due) {
    const op = ops[i]!;
    events.push({ time: op.invoke, isCall: true, op: i }, { time: op.complete, isCall: false, op: i });
  }
  // At equal times calls go first: an operation invoked at the very moment
  // another completed counts as concurrent with it, the permissive reading
  // when clocks cannot tell the two apart.
  events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);

  const size = events.length + 2;
  const list: EventList = {
    next: new Int32Array(size),
    prev: new Int32Array(size),
    opOf: new Int32Array(size).fill(-1),
    returnOf: new Int32Array(size).fill(-1),
    time: new Float64Array(size).fill(Infinity),
  };
  // A return can precede its call when a forced deadline falls before the
  // invoke (see linearizability-prepare.ts); the search then simply fails.
  const returnNode = new Map<number, number>();
  events.forEach((event, k) => {
    if (!event.isCall) returnNode.set(event.op, k + 2);
  });
  let last = HEAD;
  events.forEach((event, k) => {
    const node = k + 2;
    list.opOf[node] = event.op;
    list.time[node] = event.time;
    if (event.isCall) list.returnOf[node] = returnNode.get(event.op)!;
    list.next[last] = node;
    list.prev[node] = last;
    last = node;
  });
  list.next[last] = TAIL;
  list.prev[TAIL] = last;
  return list;
}

export function isCall(list: EventList, node: number): boolean {
  return list.returnOf[node]! >= 0;
}

export function lift(list: EventList, call: number): void {
  unlink(list, call);
  unlink(list, list.returnOf[call]!);
}

export function unlift(list: EventList, call: number): void {
  relink(list, list.returnOf[call]!);
  relink(list, call);
}

function unlink(list: EventList, node: number): void {
  list.next[list.prev[node]!] = list.next[node]!;
  list.prev[list.next[node]!] = list.prev[node]!;
}

function relink(list: EventList, node: number): void {
  list.next[list.prev[node]!] = node;
  list.prev[list.next[node]!] = node;
}
