// The key-value state in the Durable Object's SQLite: the keys in kv_data,
// the session table in kv_sessions and kv_session_saved (sql-sessions.ts),
// the applied index in kv_meta. The machine's writes collect in memory while
// one Ready's entries are applied, then go out together in a few multi-row
// statements (sql-rows.ts), in the same event as the log writes.
import type { KvData } from '../kv/store';
import { compareCodePoints } from '../kv/snapshot-format';
import type { Index } from '../raft/types';
import { execIn, maxParams, RowWriter } from './sql-rows';

/** `SELECT ... WHERE key IN (?, ...)` texts by list size (getMany). */
const inLookups: string[] = [];

/** Each step upgrades the schema by one version; never edit a step once released. */
const migrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE kv_data (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
    // A session's row is written when it opens and when a request leaves no
    // saved result (a refusal); a saved result carries the rest: the session's
    // highest serial and last use are the larger of its row's and its results'.
    // Results sit in slot serial % window, so a new serial takes the place of
    // the one leaving the window with no delete; a slot left behind by a jump
    // holds a serial below the window and is skipped when read.
    `CREATE TABLE kv_sessions (
       client_id TEXT PRIMARY KEY,
       highest INTEGER NOT NULL,
       last_index INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE kv_session_saved (
       client_id TEXT NOT NULL,
       slot INTEGER NOT NULL,
       serial INTEGER NOT NULL,
       digest TEXT NOT NULL,
       result TEXT NOT NULL,
       idx INTEGER NOT NULL,
       PRIMARY KEY (client_id, slot)
     ) WITHOUT ROWID`,
    // The last entry the tables reflect: a restart hands out only entries after it.
    `CREATE TABLE kv_meta (id INTEGER PRIMARY KEY CHECK (id = 1), applied INTEGER NOT NULL)`,
    `INSERT INTO kv_meta (id, applied) VALUES (1, 0)`,
    // The copy an outgoing snapshot is read from, while the tables above move on.
    `CREATE TABLE kv_snap_data (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE kv_snap_sessions (
       client_id TEXT PRIMARY KEY,
       highest INTEGER NOT NULL,
       last_index INTEGER NOT NULL UNIQUE
     ) WITHOUT ROWID`,
    `CREATE TABLE kv_snap_saved (
       client_id TEXT NOT NULL,
       serial INTEGER NOT NULL,
       digest TEXT NOT NULL,
       result TEXT NOT NULL,
       PRIMARY KEY (client_id, serial)
     ) WITHOUT ROWID`,
  ],
  // The keys in rowid tables (the key's unique index beside): in a WITHOUT ROWID
  // table a row longer than about a quarter of a page (4 KiB) spills into an
  // overflow page of its own, so a 1 KiB value took more than 4 KiB on disk.
  [
    `CREATE TABLE kv_data_rowid (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `INSERT INTO kv_data_rowid (key, value) SELECT key, value FROM kv_data`,
    `DROP TABLE kv_data`,
    `ALTER TABLE kv_data_rowid RENAME TO kv_data`,
    `DROP TABLE kv_snap_data`,
    `CREATE TABLE kv_snap_data (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  ],
  // Saved results keyed by the log index of the entry that saved them, not by
  // (session, slot): a flush's new rows then fill the last page or two instead
  // of a page per session, and the rows leaving the windows (saved a window of
  // requests earlier) lie near each other too. The rows' newest serial and index
  // move into the session rows first, since the copied rows get ids of their own.
  [
    `UPDATE kv_sessions SET
       highest = max(highest, coalesce((SELECT max(v.serial) FROM kv_session_saved v WHERE v.client_id = kv_sessions.client_id), 0)),
       last_index = max(last_index, coalesce((SELECT max(v.idx) FROM kv_session_saved v WHERE v.client_id = kv_sessions.client_id), 0))`,
    `CREATE TABLE kv_session_saved_v3 (
       id INTEGER PRIMARY KEY,
       client_id TEXT NOT NULL,
       serial INTEGER NOT NULL,
       digest TEXT NOT NULL,
       result TEXT NOT NULL
     )`,
    `INSERT INTO kv_session_saved_v3 (id, client_id, serial, digest, result)
       SELECT -row_number() OVER (ORDER BY client_id, slot), client_id, serial, digest, result FROM kv_session_saved`,
    `DROP TABLE kv_session_saved`,
    `ALTER TABLE kv_session_saved_v3 RENAME TO kv_session_saved`,
  ],
];

/** Create or upgrade the tables; returns the version found (0: none, a fresh database or one from before them). */
export function migrateKv(storage: DurableObjectStorage): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS kv_schema (version INTEGER NOT NULL)');
  const row = sql.exec<{ version: number }>('SELECT version FROM kv_schema').toArray()[0];
  const from = row?.version ?? 0;
  if (from > migrations.length) {
    throw new Error(`stored kv schema version ${from} is newer than this code knows (${migrations.length})`);
  }
  if (from === migrations.length) return from;
  storage.transactionSync(() => {
    for (const step of migrations.slice(from)) for (const stmt of step) sql.exec(stmt);
    if (row === undefined) sql.exec('INSERT INTO kv_schema (version) VALUES (?)', migrations.length);
    else sql.exec('UPDATE kv_schema SET version = ?', migrations.length);
  });
  return from;
}

/** How much of the stored data SqlKvData keeps in memory for reads, by default. */
export const READ_CACHE_LIMITS = { entries: 8192, chars: 1 << 20 };

/**
 * The keys: reads go to SQLite, writes wait in `pending` until flush(), and
 * reads see them meanwhile. `pending` holds at most the keys of one Ready's
 * entries.
 *
 * Reads also remember what they found (a value, or that the key is absent)
 * in a bounded cache of the stored state, oldest out first: one lookup costs
 * workerd a SQL statement and a row object, several microseconds, and the
 * leader answers every linearizable read. A flush updates the keys the cache
 * holds; a wholesale change (replace, a snapshot installed) empties it.
 */
export class SqlKvData implements KvData {
  /** Written since the last flush: a value, or null for deleted. */
  private readonly pending = new Map<string, string | null>();
  /** Stored values (null: absent) that reads found, in the order they were added. */
  private readonly cache = new Map<string, string | null>();
  /** Characters of the cache's keys and values. */
  private cacheChars = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly cacheLimits: { entries: number; chars: number } = READ_CACHE_LIMITS,
  ) {}

  get(key: string): string | null {
    const p = this.pending.get(key);
    if (p !== undefined) return p;
    const c = this.cache.get(key);
    if (c !== undefined) return c;
    const value = this.stored(key);
    this.remember(key, value);
    return value;
  }

  /**
   * Several keys' values, in order: those not written since the last flush in
   * one SELECT per 100 distinct keys (a statement costs workerd more than the
   * rows it returns). The IN list is padded to a power of two with its last
   * key, so few statement texts come up and workerd's cache keeps them.
   */
  getMany(keys: readonly string[]): (string | null)[] {
    if (keys.length === 1) return [this.get(keys[0]!)];
    // What is known without SQL (undefined: not known), taken before remembering anything evicts.
    const known = keys.map((k) => {
      const p = this.pending.get(k);
      return p !== undefined ? p : this.cache.get(k);
    });
    const wanted = [...new Set(keys.filter((_, i) => known[i] === undefined))];
    const found = new Map<string, string>();
    for (let at = 0; at < wanted.length; at += maxParams) {
      const part = wanted.slice(at, at + maxParams);
      const size = Math.min(maxParams, 2 ** Math.ceil(Math.log2(part.length)));
      const last = part[part.length - 1]!;
      while (part.length < size) part.push(last);
      const text = (inLookups[size] ??= `SELECT key, value FROM kv_data WHERE key IN (${Array(size).fill('?').join(', ')})`);
      for (const row of this.sql.exec<{ key: string; value: string }>(text, ...part)) found.set(row.key, row.value);
    }
    for (const k of wanted) this.remember(k, found.get(k) ?? null);
    return keys.map((k, i) => {
      const v = known[i];
      return v !== undefined ? v : (found.get(k) ?? null);
    });
  }

  set(key: string, value: string): void {
    this.pending.set(key, value);
  }

  delete(key: string): boolean {
    const existed = this.get(key) !== null;
    this.pending.set(key, null);
    return existed;
  }

  count(): number {
    let n = this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM kv_data').one().n;
    for (const [key, value] of this.pending) {
      const stored = this.stored(key) !== null;
      if (stored && value === null) n--;
      else if (!stored && value !== null) n++;
    }
    return n;
  }

  *sorted(): Iterable<readonly [string, string]> {
    if (this.pending.size > 0) throw new Error('kv data read in order with writes not yet flushed');
    yield* pagesOf(this.sql, 'kv_data');
  }

  replace(pairs: Iterable<readonly [string, string]>): void {
    this.pending.clear();
    this.forgetAll();
    this.sql.exec('DELETE FROM kv_data');
    const w = new RowWriter(this.sql, 'INSERT INTO kv_data (key, value)', 2);
    for (const [key, value] of pairs) w.add(key, value);
    w.flush();
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** Forget unflushed writes and what reads found (a snapshot replaced everything). */
  discard(): void {
    this.pending.clear();
    this.forgetAll();
  }

  /** Write the pending changes; returns the number of statements. */
  flush(): number {
    if (this.pending.size === 0) return 0;
    const upserts = new RowWriter(
      this.sql,
      'INSERT INTO kv_data (key, value)',
      2,
      'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    const deletes: string[] = [];
    for (const [key, value] of this.pending) {
      if (value === null) deletes.push(key);
      else upserts.add(key, value);
    }
    upserts.flush();
    const statements = upserts.statements + execIn(this.sql, 'DELETE FROM kv_data WHERE key IN', deletes);
    for (const [key, value] of this.pending) if (this.cache.has(key)) this.remember(key, value);
    this.pending.clear();
    return statements;
  }

  /** Keys the read cache holds (tests). */
  get cachedKeys(): number {
    return this.cache.size;
  }

  private remember(key: string, value: string | null): void {
    const before = this.cache.get(key);
    if (before !== undefined) {
      this.cache.delete(key);
      this.cacheChars -= key.length + (before?.length ?? 0);
    }
    const size = key.length + (value?.length ?? 0);
    const { entries, chars } = this.cacheLimits;
    // A value that would push out a sixteenth of the cache or more is read from SQLite each time.
    if (size * 16 > chars) return;
    this.cache.set(key, value);
    this.cacheChars += size;
    for (const [oldest, v] of this.cache) {
      if (this.cache.size <= entries && this.cacheChars <= chars) break;
      this.cache.delete(oldest);
      this.cacheChars -= oldest.length + (v?.length ?? 0);
    }
  }

  private forgetAll(): void {
    this.cache.clear();
    this.cacheChars = 0;
  }

  private stored(key: string): string | null {
    const row = this.sql.exec<{ value: string }>('SELECT value FROM kv_data WHERE key = ?', key).toArray()[0];
    return row === undefined ? null : row.value;
  }
}

/** Every row of a key-value table in key order, read a page at a time. */
export function* pagesOf(sql: SqlStorage, table: 'kv_data' | 'kv_snap_data', page = 256): Generator<[string, string]> {
  let after: string | null = null;
  for (;;) {
    const rows: { key: string; value: string }[] =
      after === null
        ? sql.exec<{ key: string; value: string }>(`SELECT key, value FROM ${table} ORDER BY key LIMIT ?`, page).toArray()
        : sql
            .exec<{ key: string; value: string }>(`SELECT key, value FROM ${table} WHERE key > ? ORDER BY key LIMIT ?`, after, page)
            .toArray();
    for (const r of rows) yield [r.key, r.value];
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < page) return;
    after = last.key;
  }
}

export function readApplied(sql: SqlStorage): Index {
  return sql.exec<{ applied: number }>('SELECT applied FROM kv_meta').one().applied;
}

export function writeApplied(sql: SqlStorage, index: Index): void {
  sql.exec('UPDATE kv_meta SET applied = ?', index);
}

/** Sorted [key, value] pairs of an old (version 3) snapshot, for the one-time import at upgrade. */
export function sortPairs(pairs: [string, string][]): [string, string][] {
  return pairs.sort((a, b) => compareCodePoints(a[0], b[0]));
}
