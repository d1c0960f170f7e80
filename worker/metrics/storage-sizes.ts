// How big the node's stored log and database are, read from SQLite when
// metrics are scraped (a full scan of the log, so not on every status call).
import type { StorageSizes } from './node-metrics';

export function readStorageSizes(sql: SqlStorage): StorageSizes {
  // CAST to BLOB so length() counts bytes, not characters.
  const row = sql
    .exec<{ n: number; bytes: number }>('SELECT count(*) AS n, coalesce(sum(length(CAST(data AS BLOB))), 0) AS bytes FROM raft_log')
    .toArray()[0];
  return { logEntries: row?.n ?? 0, logBytes: row?.bytes ?? 0, databaseBytes: sql.databaseSize };
}
