// The KV state machine as a simulated host sees it. Snapshots are its
// serialized state (taken at once, so later applies cannot change one being
// sent), cut in chunks; an incoming one is staged in memory (a crash restarts
// the transfer anyway) and stored as the node's snapshot when installed. Every
// apply goes past the safety checker, every snapshot past the snapshot checker.
import type { HostStateMachine } from '../../worker/host/ports';
import type { KvResult } from '../../worker/kv/commands';
import { KvStateMachine } from '../../worker/kv/store';
import type { Entry } from '../../worker/raft/types';
import type { SafetyChecker } from './checkers/safety';
import type { SnapshotChecker } from './checkers/snapshots';
import type { SimStorage, StoredSnapshot } from './storage';
import type { Trace } from './trace';

export interface SimMachineDeps {
  id: string;
  storage: SimStorage;
  safety: SafetyChecker;
  snapshots: SnapshotChecker;
  trace: Trace;
  stats: { applied: number; snapshotsInstalled: number; compactions: number };
  /** The host's applied index (the host is built after its machine). */
  appliedIndex: () => number;
}

export class SimMachine {
  private readonly sm = new KvStateMachine();
  /** The last entry the state machine applied (what its flushed state stands at). */
  private lastApplied: { index: number; term: number } = { index: 0, term: 0 };
  private staged: string[] = [];

  /** A machine restored from `snapshot` (a node's saved state), or an empty one. */
  constructor(
    private readonly deps: SimMachineDeps,
    snapshot: StoredSnapshot | null = null,
  ) {
    if (snapshot) {
      this.sm.restore(snapshot.data);
      this.lastApplied = { index: snapshot.index, term: snapshot.term };
    }
  }

  get(key: string): string | null {
    return this.sm.get(key);
  }

  /** The size of the serialized state (what a snapshot of it would carry). */
  stateBytes(): number {
    return this.sm.snapshot().length;
  }

  /** The machine in the shape the host takes. */
  forHost(): HostStateMachine<KvResult, string, string | null> {
    const { sm, deps: d } = this;
    return {
      apply: (entry) => {
        this.lastApplied = { index: entry.index, term: entry.term };
        return this.apply(entry);
      },
      // As the Durable Object's SQL machine: the state as of the last applied entry becomes durable with
      // the writes it rides with (the host flushes before a log write), and a restart resumes from it.
      flushApplied: () => d.storage.saveSnapshot({ ...this.lastApplied, data: sm.snapshot() }),
      query: (key) => sm.get(key),
      openSnapshot: () => {
        const index = d.appliedIndex();
        const data = sm.snapshot();
        d.snapshots.check(d.id, index, data, 'the snapshot it took', true);
        return {
          index,
          chunk: (n, maxBytes) => ({ data: data.slice(n * maxBytes, (n + 1) * maxBytes), done: (n + 1) * maxBytes >= data.length }),
        };
      },
      stageSnapshot: (chunk) => {
        if (chunk.chunk === 0) this.staged = [];
        this.staged.push(chunk.data);
      },
      installSnapshot: (point) => {
        const data = this.staged.join('');
        this.staged = [];
        sm.restore(data);
        this.lastApplied = { index: point.index, term: point.term };
        d.snapshots.check(d.id, point.index, sm.snapshot(), 'its state after installing a snapshot');
        d.stats.snapshotsInstalled++;
        d.storage.saveSnapshot({ ...point, data });
      },
      checkpoint: (point) => {
        d.storage.saveSnapshot({ ...point, data: sm.snapshot() });
        d.stats.compactions++;
      },
    };
  }

  private apply(e: Entry): KvResult | null {
    const d = this.deps;
    d.safety.onApply(d.id, e, d.storage.visible.hardState.term, !d.storage.syncing);
    d.trace.log(d.id, 'debug', 'sim: apply', { index: e.index, term: e.term });
    const result = this.sm.apply(e);
    d.stats.applied++;
    d.trace.digest.int(e.index);
    d.trace.digest.int(e.term);
    return result;
  }
}
