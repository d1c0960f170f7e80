// The key-value state machine as the node's host sees it, with its snapshots
// kept in the Durable Object's SQLite (adapters/sql-storage.ts). The state
// itself lives in memory and is rebuilt at start from the latest snapshot and
// the log after it: a restart replays at most `snapshotEvery` entries plus the
// retained tail, however long the cluster has run.
import type { SqlRaftStorage } from '../adapters/sql-storage';
import type { HostStateMachine, SnapshotReader } from '../host/ports';
import type { KvResult } from '../kv/commands';
import { KvStateMachine } from '../kv/store';
import type { Index } from '../raft/types';

export type KvMachine = HostStateMachine<KvResult, string, string | null>;

/** The machine, restored from the stored snapshot if there is one. `applied` reads the host's applied index. */
export function kvMachine(storage: SqlRaftStorage, applied: () => Index): { machine: KvMachine; kv: KvStateMachine } {
  const kv = new KvStateMachine();
  const stored = storage.loadSnapshot();
  if (stored !== null) kv.restore(stored.data);
  const machine: KvMachine = {
    apply: (entry) => kv.apply(entry),
    query: (key) => kv.get(key),
    // Serialized at once, so it stays consistent at its index while later entries apply.
    openSnapshot: () => serializedReader(applied(), kv.snapshot()),
    stageSnapshot: (chunk) => storage.stageSnapshot(chunk.chunk, chunk.data),
    installSnapshot: (point) => {
      const data = storage.takeStaged();
      kv.restore(data); // throws on a malformed snapshot, before anything else changed
      storage.saveSnapshot({ ...point, data });
    },
    checkpoint: (point) => storage.saveSnapshot({ ...point, data: kv.snapshot() }),
  };
  return { machine, kv };
}

/** A snapshot read from one serialized string, `maxBytes` characters per chunk. */
export function serializedReader(index: Index, data: string): SnapshotReader {
  return {
    index,
    chunk: (n, maxBytes) => ({ data: data.slice(n * maxBytes, (n + 1) * maxBytes), done: (n + 1) * maxBytes >= data.length }),
  };
}
