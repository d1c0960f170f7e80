// How big the node's stored log, state and database are, read from SQLite
// (a scan of the log and of the data table, so not on every status call).
import type { SnapshotSize, StorageSizes } from './node-metrics';

// CAST to BLOB so length() counts bytes, not characters.
export function readStorageSizes(sql: SqlStorage): StorageSizes {
  const row = sql
    .exec<{ n: number; bytes: number }>('SELECT count(*) AS n, coalesce(sum(length(CAST(data AS BLOB))), 0) AS bytes FROM raft_log')
    .toArray()[0];
  return { logEntries: row?.n ?? 0, logBytes: row?.bytes ?? 0, databaseBytes: sql.databaseSize, snapshotBytes: snapshotBytes(sql) };
}

/**
 * The state a snapshot stands for: the key-value data the state machine keeps
 * in SQLite (worker/node/sql-kv.ts), which is what a follower would be sent.
 */
function snapshotBytes(sql: SqlStorage): number {
  const row = sql
    .exec<{ bytes: number }>('SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) AS bytes FROM kv_data')
    .toArray()[0];
  return row?.bytes ?? 0;
}

/**
 * The latest snapshot's size for the dashboard, which asks several times a
 * second: measured again only when the snapshot's index moves.
 */
export class SnapshotSizeCache {
  private last: SnapshotSize | null = null;

  get(sql: SqlStorage, index: number): SnapshotSize | null {
    if (index === 0) return null;
    if (this.last?.index !== index) this.last = { index, bytes: snapshotBytes(sql) };
    return this.last;
  }
}
