// The key-value state in the Durable Object's SQLite: the keys in kv_data,
// the session table in kv_sessions and kv_session_saved, the applied index in
// kv_meta. The machine's writes collect in memory while one Ready's entries
// are applied, then go out together in a few multi-row statements (each
// statement costs workerd a fixed overhead whatever it does), in the same
// event as the log writes.
import type { KvData } from '../kv/store';
import { compareCodePoints } from '../kv/snapshot-format';
import { resultJson } from '../kv/snapshot-format';
import type { SessionJournal, SessionRecord, SessionTable } from '../kv/sessions';
import type { Index } from '../raft/types';

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

/** A Durable Object binds at most this many parameters per statement. */
const maxParams = 100;

/**
 * Rows for one multi-row statement, sent once `rowsPerStatement` are waiting
 * or on flush(): `head VALUES (?, ...), ... tail`. The texts are reused, so
 * workerd's statement cache keeps them.
 */
export class RowWriter {
  private values: SqlStorageValue[] = [];
  private rows = 0;
  private readonly perStatement: number;
  private readonly texts: string[] = [];
  /** Statements sent, for tests and counters. */
  statements = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly head: string,
    private readonly columns: number,
    private readonly tail = '',
  ) {
    this.perStatement = Math.floor(maxParams / columns);
  }

  add(...row: SqlStorageValue[]): void {
    for (const v of row) this.values.push(v);
    if (++this.rows === this.perStatement) this.flush();
  }

  flush(): void {
    if (this.rows === 0) return;
    const text = (this.texts[this.rows] ??= `${this.head} VALUES ${Array(this.rows)
      .fill(`(${Array(this.columns).fill('?').join(', ')})`)
      .join(', ')} ${this.tail}`);
    this.sql.exec(text, ...this.values);
    this.statements++;
    this.values = [];
    this.rows = 0;
  }
}

/** `head (?, ?, ...)` with one placeholder per value, in statements of at most maxParams values. */
function execIn(sql: SqlStorage, head: string, values: readonly SqlStorageValue[], per = maxParams): number {
  let statements = 0;
  for (let at = 0; at < values.length; at += per) {
    const part = values.slice(at, at + per);
    sql.exec(`${head} (${part.map(() => '?').join(', ')})`, ...part);
    statements++;
  }
  return statements;
}

/**
 * The keys: reads go to SQLite, writes wait in `pending` until flush(), and
 * reads see them meanwhile. `pending` holds at most the keys of one Ready's
 * entries.
 */
export class SqlKvData implements KvData {
  /** Written since the last flush: a value, or null for deleted. */
  private readonly pending = new Map<string, string | null>();

  constructor(private readonly sql: SqlStorage) {}

  get(key: string): string | null {
    const p = this.pending.get(key);
    if (p !== undefined) return p;
    return this.stored(key);
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
    this.sql.exec('DELETE FROM kv_data');
    const w = new RowWriter(this.sql, 'INSERT INTO kv_data (key, value)', 2);
    for (const [key, value] of pairs) w.add(key, value);
    w.flush();
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** Forget unflushed writes (a snapshot replaced everything). */
  discard(): void {
    this.pending.clear();
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
    this.pending.clear();
    return upserts.statements + execIn(this.sql, 'DELETE FROM kv_data WHERE key IN', deletes);
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

/**
 * Collects what changed in the session table while one Ready's entries are
 * applied, and writes only that: evicted sessions go, opened ones get a row,
 * new saved results are inserted and those that left their window deleted,
 * and a session whose last use saved no result (a refusal) gets its row updated.
 */
export class SqlSessionJournal implements SessionJournal {
  private readonly openedIds = new Set<string>();
  private readonly touchedIds = new Set<string>();
  private readonly evictedIds = new Set<string>();
  /** Per session, serial -> index of the entry that saved it, and the index of its last save. */
  private readonly savedSerials = new Map<string, Map<number, Index>>();
  private readonly lastSave = new Map<string, Index>();
  /**
   * The stored saved-result rows, per session: serial -> row id. Rows are
   * found by id (the table has no index by session, which every insert
   * would have to write into), so the ids of a session's rows are kept here.
   */
  private readonly rows = new Map<string, Map<number, number>>();

  constructor(private readonly sql: SqlStorage) {}

  opened(clientId: string): void {
    this.openedIds.add(clientId);
  }
  touched(clientId: string): void {
    this.touchedIds.add(clientId);
  }
  evicted(clientId: string): void {
    this.evictedIds.add(clientId);
    this.openedIds.delete(clientId);
    this.savedSerials.delete(clientId);
  }
  saved(clientId: string, serial: number, index: Index): void {
    let serials = this.savedSerials.get(clientId);
    if (serials === undefined) this.savedSerials.set(clientId, (serials = new Map<number, Index>()));
    serials.set(serial, index);
    this.lastSave.set(clientId, index);
  }

  get dirty(): boolean {
    return this.openedIds.size + this.touchedIds.size + this.evictedIds.size + this.savedSerials.size > 0;
  }

  discard(): void {
    this.openedIds.clear();
    this.touchedIds.clear();
    this.evictedIds.clear();
    this.savedSerials.clear();
    this.lastSave.clear();
  }

  /**
   * Learn the stored rows' ids, with nothing pending; deletes the rows `table`
   * does not hold (a slot a jump left behind in a database from before
   * version 3), so every stored row is one the table holds.
   */
  load(table: SessionTable): void {
    this.discard();
    this.rows.clear();
    const stale: number[] = [];
    for (const r of this.sql.exec<{ id: number; client_id: string; serial: number }>(
      'SELECT id, client_id, serial FROM kv_session_saved',
    )) {
      if (table.peek(r.client_id)?.saved.has(r.serial) !== true) {
        stale.push(r.id);
        continue;
      }
      let ids = this.rows.get(r.client_id);
      if (ids === undefined) this.rows.set(r.client_id, (ids = new Map<number, number>()));
      ids.set(r.serial, r.id);
    }
    execIn(this.sql, 'DELETE FROM kv_session_saved WHERE id IN', stale);
  }

  /** Write the changes as `table` now holds them; returns the number of statements. */
  flush(table: SessionTable): number {
    const sql = this.sql;
    let statements = 0;
    const deletes: number[] = [];
    // Evicted first: a session evicted and opened again in the same batch is written afresh below.
    const evicted = [...this.evictedIds];
    for (const id of evicted) {
      for (const rowId of this.rows.get(id)?.values() ?? []) deletes.push(rowId);
      this.rows.delete(id);
    }
    statements += execIn(sql, 'DELETE FROM kv_sessions WHERE client_id IN', evicted);
    const rows = new RowWriter(
      sql,
      'INSERT INTO kv_sessions (client_id, highest, last_index)',
      3,
      'ON CONFLICT (client_id) DO UPDATE SET highest = excluded.highest, last_index = excluded.last_index',
    );
    for (const id of this.openedIds) {
      const s = table.peek(id);
      if (s !== undefined) rows.add(id, s.highest, s.lastIndex);
    }
    for (const id of this.touchedIds) {
      const s = table.peek(id);
      // Its last use saved a result, whose row tells the same: nothing more to write.
      if (s === undefined || this.openedIds.has(id) || this.lastSave.get(id) === s.lastIndex) continue;
      rows.add(id, s.highest, s.lastIndex);
    }
    rows.flush();
    // A row's id is the index of the entry that saved it: one entry saves at most one result.
    const saved = new RowWriter(sql, 'INSERT INTO kv_session_saved (id, client_id, serial, digest, result)', 5);
    for (const [id, serials] of this.savedSerials) {
      const s = table.peek(id);
      if (s === undefined) continue;
      let ids = this.rows.get(id);
      if (ids === undefined) this.rows.set(id, (ids = new Map<number, number>()));
      // Only a session that saved something moved its window.
      for (const [serial, rowId] of ids) {
        if (s.saved.has(serial)) continue;
        deletes.push(rowId);
        ids.delete(serial);
      }
      for (const [serial, index] of serials) {
        const r = s.saved.get(serial);
        if (r === undefined) continue;
        saved.add(index, id, serial, r.digest, resultJson(r.result));
        ids.set(serial, index);
      }
    }
    statements += execIn(sql, 'DELETE FROM kv_session_saved WHERE id IN', deletes);
    saved.flush();
    this.discard();
    return statements + rows.statements + saved.statements;
  }
}

/**
 * The sessions as they stand (client_id, highest, last_index): a row's values,
 * or its newest saved result's where that is later (a row id that is an entry's
 * index; rows copied in by a snapshot or a migration have ids below zero).
 */
const currentSessions = `SELECT s.client_id AS client_id,
    max(s.highest, coalesce(v.highest, 0)) AS highest,
    max(s.last_index, coalesce(v.last_index, 0)) AS last_index
  FROM kv_sessions s LEFT JOIN (
    SELECT client_id, max(serial) AS highest, max(id) AS last_index FROM kv_session_saved GROUP BY client_id
  ) v ON v.client_id = s.client_id`;

/** Copy the session table as it stands into the snapshot tables (emptied before), saved results by serial. */
export function copySessions(sql: SqlStorage, window: number): void {
  sql.exec(`INSERT INTO kv_snap_sessions (client_id, highest, last_index) ${currentSessions}`);
  sql.exec(
    `INSERT INTO kv_snap_saved (client_id, serial, digest, result)
     SELECT v.client_id, v.serial, v.digest, v.result FROM kv_session_saved v JOIN kv_snap_sessions s ON s.client_id = v.client_id
     WHERE v.serial > s.highest - ?`,
    window,
  );
}

/** Write a whole session table (after `DELETE`s). */
export function writeSessions(sql: SqlStorage, records: readonly SessionRecord[]): void {
  const rows = new RowWriter(sql, 'INSERT INTO kv_sessions (client_id, highest, last_index)', 3);
  const saved = new RowWriter(sql, 'INSERT INTO kv_session_saved (id, client_id, serial, digest, result)', 5);
  // Ids below zero: no entry index, and out of the way of the rows entries will save.
  let id = 0;
  for (const r of records) {
    rows.add(r.clientId, r.highest, r.lastIndex);
    for (const [serial, digest, result] of r.saved) saved.add(--id, r.clientId, serial, digest, resultJson(result));
  }
  rows.flush();
  saved.flush();
}

/** The session table as stored, least recently used first, in the shape SessionTable.load takes. */
export function readSessions(sql: SqlStorage, window: number): SessionRecord[] {
  const byId = new Map<string, SessionRecord>();
  const out: SessionRecord[] = [];
  for (const r of sql.exec<{ client_id: string; highest: number; last_index: number }>(
    `SELECT client_id, highest, last_index FROM (${currentSessions}) ORDER BY last_index`,
  )) {
    const rec: SessionRecord = { clientId: r.client_id, highest: r.highest, lastIndex: r.last_index, saved: [] };
    byId.set(r.client_id, rec);
    out.push(rec);
  }
  for (const r of sql.exec<{ client_id: string; serial: number; digest: string; result: string }>(
    `SELECT client_id, serial, digest, result FROM kv_session_saved ORDER BY client_id, serial`,
  )) {
    const rec = byId.get(r.client_id);
    if (rec === undefined) throw new Error(`stored saved result for unknown session "${r.client_id}"`);
    if (r.serial <= rec.highest - window) continue; // a slot a jump left behind
    rec.saved.push([r.serial, r.digest, JSON.parse(r.result) as SessionRecord['saved'][number][2]]);
  }
  return out;
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
