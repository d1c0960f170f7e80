// A simulated node's storage, with the guarantees a Durable Object gives and
// no more:
//   - a write is visible at once to the node that made it, but durable only
//     some time later (an fsync of 0..syncMaxMs);
//   - every output (a message to a peer, a reply to a client) made after a
//     write waits until that write is durable (the output gate); an output
//     made while nothing is pending goes at once;
//   - a crash loses what was not yet durable, and the outputs waiting on it.
// The durable copy is what the safety checkers see as the node's disk; the
// visible copy is what the node reads back.
import type { Persisted } from '../../worker/raft/node';
import type { EntryLoader, SnapshotPoint } from '../../worker/raft/log';
import type { Membership } from '../../worker/raft/membership';
import type { Entry, HardState, NodeId } from '../../worker/raft/types';
import type { HostStorage } from '../../worker/host/ports';
import type { SafetyChecker } from './checkers/safety';
import { violation } from './checkers/violation';
import type { Clock } from './clock';
import type { Prng } from './prng';
import type { Trace } from './trace';
import { loadStored } from '../fixtures/stored-log';

export interface Disk {
  hardState: HardState;
  /**
   * entries[i] is index i + 1, for the checkers, from index 1 even where the
   * node has compacted its log: the node reads only entries after `compacted`.
   */
  entries: Entry[];
  /** The log is compacted up to here (§7), and the configuration in force there. */
  compacted: SnapshotPoint;
  membership: Membership | null;
  /** The state machine's last checkpoint or installed snapshot. */
  snapshot: StoredSnapshot | null;
}

export interface StoredSnapshot extends SnapshotPoint {
  data: string;
}

type Write =
  | { kind: 'log'; hardState: HardState | null; entries: readonly Entry[] }
  | { kind: 'compact'; point: SnapshotPoint; membership: Membership }
  | { kind: 'snapshot'; snapshot: StoredSnapshot }
  | { kind: 'install'; point: SnapshotPoint; keepLog: boolean; prefix: readonly Entry[]; membership: Membership };

const emptyDisk = (): Disk => ({
  hardState: { term: 0, vote: null, commit: 0 },
  entries: [],
  compacted: { index: 0, term: 0 },
  membership: null,
  snapshot: null,
});

export interface SimStorageDeps {
  id: NodeId;
  clock: Clock;
  prng: Prng;
  trace: Trace;
  safety: SafetyChecker;
  /** A write becomes durable up to this long after it is made. */
  syncMaxMs: number;
  /** Whether the node is paused now, and until when: a frozen runtime releases nothing. */
  pausedUntil: () => number;
  stats: { truncations: number };
}

export class SimStorage implements HostStorage {
  /** What survives a crash. */
  readonly durable: Disk = emptyDisk();
  /** What the node sees: the durable state plus the pending writes. */
  readonly visible: Disk = emptyDisk();
  private pending: Write[] = [];
  private held: (() => void)[] = [];
  /** Bumped at each crash, so a sync scheduled before it does nothing. */
  private generation = 0;
  private syncQueued = false;
  /** Called once, after the next sync that makes a vote for another node durable (the nemesis' crashAfterVote). */
  private voteHook: (() => void) | null = null;

  constructor(private readonly d: SimStorageDeps) {
    d.safety.register(d.id, this.durable, this.visible);
  }

  /**
   * What a node reads back at start: the durable state only (the visible copy
   * is reset to it). The state machine restarts from the stored snapshot.
   */
  load(): { persisted: Persisted; loadEntries: EntryLoader; snapshot: StoredSnapshot | null } {
    const d = this.durable;
    Object.assign(this.visible, {
      hardState: { ...d.hardState },
      entries: d.entries.slice(),
      compacted: d.compacted,
      membership: d.membership,
      snapshot: d.snapshot,
    });
    const v = this.visible;
    const from = v.compacted.index;
    const applied = v.snapshot?.index ?? 0;
    const persisted: Persisted = {
      hardState: { ...v.hardState },
      compacted: v.compacted,
      applied,
      terms: v.entries.slice(from).map((e) => e.term),
      membership: v.membership ?? undefined,
      configEntries: v.entries.slice(from).filter((e) => e.kind === 'config'),
      tail: v.entries.slice(Math.max(from, Math.min(Math.max(v.hardState.commit, applied), v.entries.length))).map((e) => ({ ...e })),
    };
    const loadEntries: EntryLoader = (lo, hi, maxBytes) => {
      if (lo <= v.compacted.index) throw new Error(`storage holds no entry ${lo}: compacted up to ${v.compacted.index}`);
      return loadStored(v.entries, lo, hi, maxBytes);
    };
    return { persisted, loadEntries, snapshot: v.snapshot };
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    if (hardState === null && entries.length === 0) return;
    const write: Write = { kind: 'log', hardState: hardState && { ...hardState }, entries: entries.slice() };
    const first = entries[0];
    if (first) this.d.safety.beforePersist(this.d.id, entries, hardState?.term ?? this.visible.hardState.term);
    if (first && first.index <= this.durable.entries.length) this.d.stats.truncations++;
    this.write(write);
  }

  compact(point: SnapshotPoint, membership: Membership): void {
    this.write({ kind: 'compact', point: { ...point }, membership });
  }

  installSnapshot(point: SnapshotPoint, keepLog: boolean, membership: Membership): void {
    // The checkers read whole logs: the compacted prefix of an installed snapshot is the committed history.
    this.write({
      kind: 'install',
      point: { ...point },
      keepLog,
      prefix: keepLog ? [] : this.d.safety.committedPrefix(point.index),
      membership,
    });
  }

  /** The state machine's state as of `snapshot.index` (a checkpoint before compaction, or an installed snapshot). */
  saveSnapshot(snapshot: StoredSnapshot): void {
    this.write({ kind: 'snapshot', snapshot: { ...snapshot } });
  }

  private write(w: Write): void {
    this.applyTo(this.visible, w, 'visible');
    this.pending.push(w);
    this.queueSync();
  }

  changesTermOrVote(hardState: HardState | null): boolean {
    const stored = this.visible.hardState;
    return hardState !== null && (hardState.term !== stored.term || hardState.vote !== stored.vote);
  }

  /** An output of the node: goes now if nothing waits to be durable, else once everything before it is. */
  output(send: () => void): void {
    if (this.pending.length === 0) send();
    else this.held.push(send);
  }

  /** Whether writes are waiting to be durable. */
  get syncing(): boolean {
    return this.pending.length > 0;
  }

  /** Calls `hook` after the next sync that makes a vote for another node durable. */
  armVoteHook(hook: () => void): void {
    this.voteHook = hook;
  }

  /**
   * The process died: pending writes and the outputs held behind them are
   * gone. `loseTail` is a planted bug: the last few durable entries vanish too
   * (writes that were acknowledged before they were really durable).
   */
  crash(loseTail: number): void {
    this.generation++;
    this.syncQueued = false;
    this.pending = [];
    this.held = [];
    this.voteHook = null;
    this.d.safety.crashed(this.d.id);
    if (loseTail > 0) {
      const log = this.durable.entries;
      log.length -= Math.min(loseTail, log.length);
      const hs = this.durable.hardState;
      this.durable.hardState = { ...hs, commit: Math.min(hs.commit, log.length) };
      this.d.trace.log(this.d.id, 'warn', 'sim: plant lostWrites dropped the log tail', { lose: loseTail, lastIndex: log.length });
    }
  }

  /** Planted bug forgetVote: the stored vote is lost (a node could vote twice in one term). */
  forgetVote(): void {
    this.durable.hardState = { ...this.durable.hardState, vote: null };
  }

  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    const generation = this.generation;
    const sync = (): void => {
      if (generation !== this.generation) return;
      const until = this.d.pausedUntil();
      if (this.d.clock.now < until) return this.d.clock.at(until, sync);
      this.syncQueued = false;
      this.sync();
    };
    this.d.clock.after(this.d.prng.between(0, this.d.syncMaxMs), sync);
  }

  private sync(): void {
    const writes = this.pending;
    this.pending = [];
    let newVote = false;
    for (const w of writes) {
      const old = this.durable.hardState;
      const hs = w.kind === 'log' ? w.hardState : null;
      if (hs && hs.vote !== null && hs.vote !== this.d.id && (hs.vote !== old.vote || hs.term !== old.term)) newVote = true;
      this.applyTo(this.durable, w, 'durable');
      const first = w.kind === 'log' ? w.entries[0] : undefined;
      if (first) this.d.safety.afterPersist(this.d.id, first.index);
    }
    this.d.safety.synced(this.d.id);
    const held = this.held;
    this.held = [];
    for (const send of held) send();
    const hook = this.voteHook;
    if (newVote && hook) {
      this.voteHook = null;
      this.d.clock.after(0, hook); // the vote is durable and on its way
    }
  }

  private applyTo(disk: Disk, w: Write, which: string): void {
    const now = this.d.clock.now;
    switch (w.kind) {
      case 'compact':
        if (w.point.index > disk.compacted.index) {
          disk.compacted = w.point;
          disk.membership = w.membership;
        }
        return;
      case 'snapshot':
        disk.snapshot = w.snapshot;
        return;
      case 'install':
        if (!w.keepLog) disk.entries = w.prefix.slice();
        else if (disk.entries.length < w.point.index)
          throw violation('host', now, `${this.d.id}: kept a log that lacks the snapshot's index ${w.point.index}`);
        disk.compacted = w.point;
        disk.membership = w.membership;
        return;
      case 'log':
        break;
    }
    if (w.hardState) disk.hardState = { ...w.hardState };
    const first = w.entries[0];
    if (!first) return;
    const log = disk.entries;
    if (first.index <= disk.compacted.index || first.index > log.length + 1) {
      throw violation(
        'host',
        now,
        `${this.d.id}: entries start at ${first.index} but the ${which} log holds ${disk.compacted.index + 1}..${log.length}`,
      );
    }
    w.entries.forEach((e, i) => {
      if (e.index !== first.index + i) throw violation('host', now, `${this.d.id}: entries to store are not contiguous at ${e.index}`);
    });
    if (which === 'visible') {
      this.d.trace.log(this.d.id, 'debug', 'sim: persist', {
        from: first.index,
        count: w.entries.length,
        replacing: Math.max(0, log.length - first.index + 1),
      });
    }
    log.length = first.index - 1;
    for (const e of w.entries) log.push(e);
  }
}
