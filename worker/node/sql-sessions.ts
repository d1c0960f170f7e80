// The session table in the Durable Object's SQLite (kv_sessions,
// kv_session_saved): what changed while one Ready's entries were applied goes
// out with the key-value writes (sql-kv.ts), and a snapshot copies the table.
import { resultJson } from '../kv/snapshot-format';
import type { SessionJournal, SessionRecord, SessionTable } from '../kv/sessions';
import type { Index } from '../raft/types';
import { execIn, RowWriter } from './sql-rows';

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
