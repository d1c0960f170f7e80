// Log compaction (§7): after every `snapshotEvery` applied entries the state
// machine is checkpointed and the log compacted behind it, one macrotask
// later. The last `logRetain` applied entries stay, so slightly slow followers
// catch up from the log, and so do the entries a follower being sent a
// snapshot resumes from (SnapshotSender.compactionLimit).
import type { RaftNode } from '../raft/node';
import type { Ready } from '../raft/ready';
import type { Index } from '../raft/types';
import type { UnflushedEffects } from './applied-effects';
import type { HostOptions } from './host-options';

export interface CompactionParts extends Pick<HostOptions<unknown, unknown, unknown>, 'core' | 'machine' | 'snapshotEvery' | 'logRetain'> {
  /** The host's applied index. */
  applied: () => Index;
  /** The highest index compaction may reach now; null: no limit. */
  limit: () => Index | null;
  /** Applied effects not yet written: written before the checkpoint. */
  effects: UnflushedEffects;
  /** Work for the next macrotask, dropped if the host stops first. */
  later: (work: () => void) => void;
  /** Runs a call into the core and carries out its Ready (NodeHost.run). */
  run: (call: (core: RaftNode, now: number) => Ready) => void;
  /** Stops the node if the work throws (NodeHost.guard). */
  guard: <T>(work: () => T) => T;
}

export class Compaction {
  private scheduled = false;

  constructor(
    private readonly p: CompactionParts,
    /** Where the log was last compacted, or a snapshot installed. */
    public at: Index,
  ) {}

  /** After a Ready: schedule a compaction once `snapshotEvery` entries were applied since the last. */
  maybeCompact(): void {
    const p = this.p;
    if (this.scheduled || p.applied() - this.at < p.snapshotEvery) return;
    this.scheduled = true;
    p.later(() => {
      this.scheduled = false;
      const applied = p.applied();
      let upTo = applied - p.logRetain;
      // Keep the entries a follower being sent a snapshot resumes from, or it would need another one at once.
      const limit = p.limit();
      if (limit !== null) upTo = Math.min(upTo, limit);
      if (upTo <= this.at) return;
      const term = p.core.termAt(applied);
      p.guard(() => {
        p.effects.flush();
        p.machine.checkpoint({ index: applied, term });
      });
      this.at = upTo;
      p.run((core, now) => core.compact(upTo, now));
    });
  }
}
