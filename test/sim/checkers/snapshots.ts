// Snapshots carry exactly the state they claim (§7): a node's state machine
// after installing a snapshot at index i, and the snapshot a node takes at
// its applied index i, must both equal the state of a fresh state machine
// that applied the committed entries 1..i. The reference machine follows the
// one true commit history forward; the states at checked indexes are kept so
// a check behind the reference needs no replay.
import { KvStateMachine } from '../../../worker/kv/store';
import type { Index } from '../../../worker/raft/types';
import type { SafetyChecker } from './safety';
import { violation } from './violation';

export class SnapshotChecker {
  private reference = new KvStateMachine();
  private at: Index = 0;
  private readonly seen = new Map<Index, string>();
  /** How many snapshots were compared (for the report). */
  checked = 0;

  constructor(
    private readonly safety: SafetyChecker,
    private readonly clock: { now: number },
  ) {}

  /**
   * `node`'s state as of `index` serialized to `data`: compare with the
   * committed history. With `ifKnown`, skip when `index` is not yet known
   * committed (a leader's apply still waiting for its own sync).
   */
  check(node: string, index: Index, data: string, what: string, ifKnown = false): void {
    if (ifKnown && index > this.safety.commitIndex) return;
    this.checked++;
    const expected = this.stateAt(index);
    if (data !== expected) {
      throw violation(
        'stateMachineSafety',
        this.clock.now,
        `${node}: ${what} at ${index} differs from the state after applying the committed entries 1..${index}`,
      );
    }
  }

  private stateAt(index: Index): string {
    const known = this.seen.get(index);
    if (known !== undefined) return known;
    if (index < this.at) {
      this.reference = new KvStateMachine();
      this.at = 0;
    }
    const prefix = this.safety.committedPrefix(index);
    for (let i = this.at; i < index; i++) this.reference.apply(prefix[i]!);
    this.at = index;
    const state = this.reference.snapshot();
    this.seen.set(index, state);
    return state;
  }
}
