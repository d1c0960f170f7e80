// The faults the nemesis can inflict, how each is drawn from the seed, and
// how it is described in the schedule. Partitions are sets of cut directed
// links; process faults name one node.
import type { Prng } from '../sim/prng';
import type { Cut } from './network';
import type { CutMode } from './proxy';
import type { MemberOp } from './membership';

export type PartitionName = 'halves' | 'isolate' | 'bridge' | 'one-way-out' | 'one-way-in';

export type Fault =
  | {
      kind: 'partition';
      name: PartitionName;
      mode: CutMode;
      groups: string[][];
      target: string | null;
      targetWasLeader: boolean;
      cuts: Cut[];
    }
  | { kind: 'kill'; node: string; wasLeader: boolean }
  | { kind: 'pause'; node: string; wasLeader: boolean }
  /** A pause shorter than an election timeout or two: does a leader that blinked act on stale beliefs? */
  | { kind: 'blip'; node: string; wasLeader: boolean; pauseMs: number }
  /** Leadership transfer (thesis §3.10) asked of the leader through the admin API, and its answer. */
  | { kind: 'transfer'; from: string; to: string; answer: string }
  /** A membership change asked of the leader through the admin API (membership.ts), and its answer. */
  | { kind: 'member'; op: MemberOp; node: string; answer: string };

export type FaultKind = 'halves' | 'isolate' | 'bridge' | 'one-way' | 'kill' | 'pause' | 'blip' | 'transfer';

const kinds: FaultKind[] = ['halves', 'isolate', 'bridge', 'one-way', 'kill', 'pause', 'blip', 'transfer'];
const weights = [2, 3, 1, 2, 2, 2, 1, 2];

export function drawKind(rng: Prng): FaultKind {
  return kinds[rng.weighted(weights)] as FaultKind;
}

/** Every link from each node of `a` to each node of `b` (one direction). */
function links(a: readonly string[], b: readonly string[], mode: CutMode): Cut[] {
  const cuts: Cut[] = [];
  for (const from of a) for (const to of b) if (from !== to) cuts.push({ from, to, mode });
  return cuts;
}

function both(a: readonly string[], b: readonly string[], mode: CutMode): Cut[] {
  return [...links(a, b, mode), ...links(b, a, mode)];
}

/**
 * A partition of `ids`. `target` is the node an isolate/one-way fault aims at
 * (the leader, when the nemesis chose to aim at it); halves and bridge draw
 * their own groups.
 */
export function drawPartition(
  rng: Prng,
  kind: 'halves' | 'isolate' | 'bridge' | 'one-way',
  ids: readonly string[],
  target: string,
  targetIsLeader: boolean,
): Fault {
  const mode: CutMode = rng.below(2) === 0 ? 'reset' : 'blackhole';
  const shuffled = rng.shuffle([...ids]);
  const others = ids.filter((id) => id !== target);
  switch (kind) {
    case 'halves': {
      // A minority and a majority, at random.
      const small = shuffled.slice(0, Math.floor(ids.length / 2));
      const big = shuffled.slice(small.length);
      return {
        kind: 'partition',
        name: 'halves',
        mode,
        groups: [small, big],
        target: null,
        targetWasLeader: false,
        cuts: both(small, big, mode),
      };
    }
    case 'isolate':
      return {
        kind: 'partition',
        name: 'isolate',
        mode,
        groups: [[target], others],
        target,
        targetWasLeader: targetIsLeader,
        cuts: both([target], others, mode),
      };
    case 'bridge': {
      // Two sides that cannot talk, and one node that talks to both (Jepsen's bridge).
      const bridge = shuffled[0] as string;
      const rest = shuffled.slice(1);
      const left = rest.slice(0, Math.floor(rest.length / 2));
      const right = rest.slice(left.length);
      return {
        kind: 'partition',
        name: 'bridge',
        mode,
        groups: [left, [bridge], right],
        target: bridge,
        targetWasLeader: false,
        cuts: both(left, right, mode),
      };
    }
    case 'one-way': {
      // "out": the target's requests go nowhere, but it still hears the others
      // (a leader whose heartbeats are lost). "in": the others cannot reach the
      // target, but its own requests still get through with their responses.
      const out = rng.below(2) === 0;
      const cuts = out ? links([target], others, mode) : links(others, [target], mode);
      return {
        kind: 'partition',
        name: out ? 'one-way-out' : 'one-way-in',
        mode,
        groups: [[target], others],
        target,
        targetWasLeader: targetIsLeader,
        cuts,
      };
    }
  }
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'kill':
      return `kill ${f.node}${f.wasLeader ? ' (leader)' : ''}`;
    case 'pause':
      return `pause ${f.node}${f.wasLeader ? ' (leader)' : ''}`;
    case 'blip':
      return `pause ${f.node}${f.wasLeader ? ' (leader)' : ''} for ${f.pauseMs} ms`;
    case 'transfer':
      return `transfer leadership ${f.from} -> ${f.to}: ${f.answer}`;
    case 'member':
      return `${f.op} ${f.node}: ${f.answer}`;
    case 'partition': {
      const groups = f.groups.map((g) => `{${g.join(',')}}`).join(' | ');
      const who = f.target && f.targetWasLeader ? ` ${f.target} (leader)` : f.target ? ` ${f.target}` : '';
      return `partition ${f.name}${who} ${groups} (${f.mode})`;
    }
  }
}
