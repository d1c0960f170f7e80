// The contract between the replicated log and whatever it drives. The core
// never calls this: the host (the Durable Object, the simulator) applies the
// committed entries a Ready hands out, in index order, exactly once each.
import type { Entry } from './types';

export interface StateMachine<Result> {
  /** Apply one committed entry. `noop` and `config` entries return null. Must be deterministic. */
  apply(entry: Entry): Result | null;
  /** Serialize the whole state (for snapshots, next work). */
  snapshot(): string;
  /** Replace the whole state with a snapshot taken by `snapshot()`. */
  restore(snapshot: string): void;
}
