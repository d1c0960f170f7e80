// Every storage write the host makes (ready.ts step 1), and when. A Ready's
// writes are made in one go, before its messages leave; but a leader's new
// entries may wait one macrotask, until its AppendEntries are on their way
// (held-writes.ts), and the state machine's applied effects wait for a log
// write to ride along with (applied-effects.ts), in one transaction where the
// storage has them (HostStorage.atomically).
import type { Index } from '../raft/types';
import type { Ready } from '../raft/ready';
import { UnflushedEffects } from './applied-effects';
import type { HeldWrite } from './held-writes';
import type { HostOptions } from './host-options';
import { MacrotaskBatch } from './macrotask-batch';

export interface StorageWriteParts extends Pick<HostOptions<unknown, unknown, unknown>, 'storage' | 'machine' | 'clock' | 'schedule'> {
  /** Whether the host still runs: held writes are dropped once it stopped. */
  running: () => boolean;
  /** Stops the node if the work throws (NodeHost.guard). */
  guard: <T>(work: () => T) => T;
  /** A snapshot was installed up to `index`, within the write that installs it. */
  installed: (index: Index) => void;
}

export class StorageWrites {
  /** Applied entries whose effects the machine has not written yet (applied-effects.ts). */
  readonly effects: UnflushedEffects;
  /** A leader's own log writes, held back until its AppendEntries are on their way. */
  private readonly held: MacrotaskBatch<HeldWrite>;

  constructor(private readonly p: StorageWriteParts) {
    this.effects = new UnflushedEffects(p.clock, () => p.machine.flushApplied?.());
    this.held = new MacrotaskBatch((writes) => {
      if (p.running()) p.guard(() => this.saveAll(writes));
    }, p.schedule);
  }

  /** Write this Ready's hard state and entries one macrotask from now, after its messages have left. */
  hold(ready: Ready): void {
    this.held.add({ hardState: ready.hardState, entries: ready.entries });
  }

  /** Write what is held back now. */
  writeHeld(): void {
    this.saveAll(this.held.take());
  }

  /** Writes held back now. */
  get heldCount(): number {
    return this.held.size;
  }

  /** The host stopped: writes held back are dropped, never written. */
  dropHeld(): void {
    this.held.take();
  }

  /** Step 1 of a Ready: everything it asks to store, in one go (atomic in the Durable Object's event). */
  persist(ready: Ready): void {
    const { storage, machine } = this.p;
    // A snapshot replaces the state: what is applied before it is written first, as it stood.
    const flush = this.writesStorage(ready) && (ready.installSnapshot !== null || this.effects.due());
    this.together(flush, () => {
      if (flush) this.effects.flush();
      if (ready.snapshotChunk) machine.stageSnapshot(ready.snapshotChunk);
      const installed = ready.installSnapshot;
      if (installed) {
        const point = { index: installed.index, term: installed.term };
        machine.installSnapshot(point);
        storage.installSnapshot(point, installed.keepLog, installed.membership);
        this.p.installed(installed.index);
      }
      if (ready.compacted) storage.compact(ready.compacted, ready.compacted.membership);
      storage.save(ready.hardState, ready.entries);
    });
  }

  private saveAll(writes: readonly HeldWrite[]): void {
    if (writes.length === 0) return;
    const flush = this.effects.due();
    this.together(flush, () => {
      if (flush) this.effects.flush();
      for (const w of writes) this.p.storage.save(w.hardState, w.entries);
    });
  }

  /** Whether persisting this Ready writes anything (a commit index alone is written lazily, with later writes). */
  private writesStorage(ready: Ready): boolean {
    return (
      ready.entries.length > 0 ||
      ready.snapshotChunk !== null ||
      ready.installSnapshot !== null ||
      ready.compacted !== null ||
      this.p.storage.changesTermOrVote(ready.hardState)
    );
  }

  /** Log writes that carry the machine's applied effects along go out as one transaction (HostStorage.atomically). */
  private together(flush: boolean, work: () => void): void {
    const { storage } = this.p;
    if (flush && this.effects.waiting && storage.atomically !== undefined) storage.atomically(work);
    else work();
  }
}
