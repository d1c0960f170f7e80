// Random histories for testing the checker. Each one is produced by a real
// register: every operation takes effect at a chosen instant inside its
// interval, and the intervals are then widened around that instant without
// letting one client overlap itself. Such a history is linearizable by
// construction (the instants give the order), so the checker must accept it.

import type { KvObserved, KvOp, Operation } from './history';

/** mulberry32: a tiny seeded PRNG, so a failing seed replays exactly. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratorOptions {
  operations: number;
  clients: number;
  keys?: readonly string[];
  /** How far an interval may stretch on each side of its instant; instants are 10 apart. */
  spread: number;
  /** Probability that an operation's outcome is unknown (half of those still take effect). */
  unknownRatio?: number;
  /** Values to write; by default every write gets a fresh value. */
  values?: readonly string[];
}

export function generateLinearizableHistory(rand: () => number, opts: GeneratorOptions): Operation[] {
  const keys = opts.keys ?? ['k'];
  const registers = new Map<string, string | null>();
  const freeAt = new Array<number>(opts.clients).fill(-1);
  const history: Operation[] = [];
  for (let instant = 10; history.length < opts.operations; instant += 10) {
    const idle = freeAt.flatMap((t, c) => (t < instant ? [c] : []));
    if (idle.length === 0) continue;
    const client = idle[Math.floor(rand() * idle.length)]!;
    const key = keys[Math.floor(rand() * keys.length)]!;
    const current = registers.get(key) ?? null;
    const op = randomOp(rand, current, opts.values ?? [`v${history.length}`]);
    const unknown = rand() < (opts.unknownRatio ?? 0);
    const takesEffect = !unknown || rand() < 0.5;
    const observed = takesEffect ? apply(registers, key, op) : null;
    const invoke = Math.max(freeAt[client]! + 1, instant - randomInt(rand, opts.spread + 1));
    const complete = instant + randomInt(rand, opts.spread + 1);
    // A client that gave up on an unknown outcome moves on after its timeout.
    freeAt[client] = complete;
    history.push({
      id: history.length + 1,
      client: `c${client}`,
      key,
      op,
      invoke,
      complete: unknown ? Infinity : complete,
      observed: unknown ? null : observed,
    });
  }
  return history;
}

/**
 * A history with no register behind it: random intervals, requests and
 * observations over a tiny domain, some outcomes unknown. Mostly not
 * linearizable; meant for comparing checkers on odd corner cases.
 */
export function generateArbitraryHistory(rand: () => number, operations: number): Operation[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const values = ['a', 'b', 'c'];
  const observable = [...values, null];
  return Array.from({ length: operations }, (_, i) => {
    const invoke = randomInt(rand, 20);
    const unknown = rand() < 0.3;
    const [op, observed] = arbitraryOutcome(rand, pick(values), pick(observable), pick(observable));
    return {
      id: i + 1,
      client: `c${i}`,
      key: rand() < 0.7 ? 'x' : 'y',
      op,
      invoke,
      complete: unknown ? Infinity : invoke + randomInt(rand, 10),
      observed: unknown ? null : observed,
    };
  });
}

function arbitraryOutcome(rand: () => number, value: string, seen: string | null, other: string | null): [KvOp, KvObserved] {
  const roll = rand();
  if (roll < 0.35) return [{ type: 'get' }, { type: 'get', value: seen }];
  if (roll < 0.6) return [{ type: 'set', value }, { type: 'set' }];
  if (roll < 0.75) return [{ type: 'delete' }, { type: 'delete' }];
  const swapped = rand() < 0.5;
  return [
    { type: 'cas', expected: seen, value },
    { type: 'cas', swapped, current: swapped ? value : other },
  ];
}

function randomOp(rand: () => number, current: string | null, values: readonly string[]): KvOp {
  const value = values[Math.floor(rand() * values.length)]!;
  const roll = rand();
  if (roll < 0.4) return { type: 'get' };
  if (roll < 0.65) return { type: 'set', value };
  if (roll < 0.75) return { type: 'delete' };
  const expected = rand() < 0.6 ? current : rand() < 0.5 ? null : values[Math.floor(rand() * values.length)]!;
  return { type: 'cas', expected, value };
}

function apply(registers: Map<string, string | null>, key: string, op: KvOp): KvObserved {
  const current = registers.get(key) ?? null;
  switch (op.type) {
    case 'get':
      return { type: 'get', value: current };
    case 'set':
      registers.set(key, op.value);
      return { type: 'set' };
    case 'delete':
      registers.set(key, null);
      return { type: 'delete' };
    case 'cas': {
      const swapped = current === op.expected;
      if (swapped) registers.set(key, op.value);
      return { type: 'cas', swapped, current: swapped ? op.value : current };
    }
  }
}

function randomInt(rand: () => number, below: number): number {
  return Math.floor(rand() * below);
}

/**
 * Make one read stale in a way no order can explain: find a known get G, a
 * known set S of value y, and a known write W of something else with
 * S before W before G in real time, then let G return y. With fresh values
 * (the default) S is the only writer of y, so G cannot see it. Prefers the
 * latest such read. Returns the corrupted copy, or undefined when the
 * history has no such triple.
 */
export function corruptWithStaleRead(history: readonly Operation[]): Operation[] | undefined {
  // Latest reads first: a violation near the end makes the search exhaust
  // everything before it, the costly case worth exercising.
  for (const read of [...history].reverse()) {
    const seen = read.observed;
    if (read.op.type !== 'get' || seen?.type !== 'get') continue;
    const sameKey = history.filter((op) => op.key === read.key && op.observed !== null);
    for (const write of sameKey) {
      if (!overwrites(write) || !(write.complete < read.invoke)) continue;
      const stale = sameKey.find((s) => s.op.type === 'set' && s.complete < write.invoke && s.op.value !== seen.value);
      if (stale?.op.type !== 'set') continue;
      const value = stale.op.value;
      return history.map((op) => (op === read ? { ...op, observed: { type: 'get', value } } : op));
    }
  }
  return undefined;
}

function overwrites(op: Operation): boolean {
  if (op.op.type === 'set' || op.op.type === 'delete') return true;
  return op.observed?.type === 'cas' && op.observed.swapped;
}
