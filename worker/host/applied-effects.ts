// Applied entries whose effects a machine that keeps its state on disk has
// not written yet. They wait in memory for a log write to ride with, until
// they are applyFlushMs old or applyFlushEntries many; then the next log
// write carries them (one durable write for both), or the next tick if the
// node writes nothing. So an event that only applies entries writes nothing,
// and the answers it releases wait for no storage flush of their own. Each
// flush rewrites the table pages its keys and sessions fall on, so a flush
// that covers more entries costs fewer pages per entry. Nothing is lost by
// waiting: every applied entry is in the stored log, and a restart applies
// again whatever comes after the machine's stored applied index.
import type { Clock } from './ports';

export const applyFlushMs = 50;
export const applyFlushEntries = 1000;

export class UnflushedEffects {
  /** When the oldest entry not yet written was applied; null if none. */
  private since: number | null = null;
  private entries = 0;

  constructor(
    private readonly clock: Clock,
    /** The machine's write of everything applied so far (HostStateMachine.flushApplied). */
    private readonly write: () => void,
  ) {}

  /** `count` more entries were applied. */
  applied(count: number): void {
    if (count === 0) return;
    this.since ??= this.clock();
    this.entries += count;
  }

  /** Some applied effects are not written yet. */
  get waiting(): boolean {
    return this.since !== null;
  }

  /** They have waited long enough, or are many enough, to be written. */
  due(): boolean {
    const since = this.since;
    return since !== null && (this.clock() - since >= applyFlushMs || this.entries >= applyFlushEntries);
  }

  /** Write them now (the caller makes it part of a log write when it can). */
  flush(): void {
    if (this.since === null) return;
    this.since = null;
    this.entries = 0;
    this.write();
  }
}
