// The key-value state machine of a Durable Object node, kept in its SQLite
// (sql-kv.ts): memory holds only the session table (bounded by its limits), a
// bounded cache of what reads found, and the changes applied since the last
// flush, whatever the size of the data.
// The host flushes them, with the applied index in one transaction, just
// before a later log write (the same durable write; host/storage-writes.ts says when),
// so a restart resumes from the stored applied index and applies again only
// what came after it.
//
// Snapshots: openSnapshot copies the tables into snapshot tables in a few SQL
// statements (no JavaScript memory), and chunks are read from the copy with a
// key cursor while the live tables move on. An incoming snapshot is staged in
// rows (SqlRaftStorage) and installed in one transaction, streamed from the
// staging, so a failure halfway leaves the old state.
import type { SqlRaftStorage } from '../adapters/sql-storage';
import type { HostStateMachine, SnapshotReader } from '../host/ports';
import type { KvResult } from '../kv/commands';
import { SessionTable } from '../kv/sessions';
import type { SessionLimits, SessionRecord } from '../kv/sessions';
import { SnapshotParser, headerLine, pairLine, recordLine, sessionLine } from '../kv/snapshot-format';
import { KvStateMachine } from '../kv/store';
import type { SnapshotPoint } from '../raft/log';
import type { Entry, Index } from '../raft/types';
import { SqlKvData, migrateKv, readApplied, sortPairs, writeApplied } from './sql-kv';
import { RowWriter } from './sql-rows';
import { copySessions, readSessions, SqlSessionJournal, writeSessions } from './sql-sessions';

export type KvMachine = HostStateMachine<KvResult, string, string | null>;

export interface SqlKvOptions {
  sessionLimits?: Partial<SessionLimits>;
}

export class SqlKvMachine implements KvMachine {
  /** The rules, shared with the in-memory machine; its data and session changes land in SQL. */
  readonly kv: KvStateMachine;
  private readonly data: SqlKvData;
  private readonly journal: SqlSessionJournal;
  private readonly sql: SqlStorage;
  private applied: Index;
  /** The reader of the copy in kv_snap_*, until it is closed or replaced. */
  private snapshotOpen: SqlSnapshotReader | null = null;
  /** Statements written by flush(), for tests and counters. */
  statements = 0;

  /** Create or upgrade the tables and load the session table. */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly raft: SqlRaftStorage,
    options: SqlKvOptions = {},
  ) {
    this.sql = storage.sql;
    const from = migrateKv(storage);
    this.data = new SqlKvData(this.sql);
    this.kv = new KvStateMachine({ sessionLimits: options.sessionLimits, data: this.data });
    this.journal = new SqlSessionJournal(this.sql);
    this.applied = readApplied(this.sql);
    clearSnapshotCopy(this.sql); // nothing is being sent at a start: a copy left from before is garbage
    if (from === 0) this.importLegacySnapshot();
    this.adopt(SessionTable.load(readSessions(this.sql, this.kv.limits.window), this.kv.limits));
  }

  /** The last entry the stored state reflects (what a restart resumes after). */
  get appliedIndex(): Index {
    return this.applied;
  }

  apply(entry: Entry): KvResult | null {
    if (entry.index !== this.applied + 1) throw new Error(`kv machine at ${this.applied} handed entry ${entry.index}`);
    const result = this.kv.apply(entry);
    this.applied = entry.index;
    return result;
  }

  /** Write the changes of the entries applied since the last flush and the applied index, all or nothing. */
  flushApplied(): void {
    if (!this.data.dirty && !this.journal.dirty) {
      writeApplied(this.sql, this.applied);
      this.statements++;
      return;
    }
    // Joins the log write's transaction when the host writes both together.
    this.raft.atomically(() => {
      this.statements += this.data.flush() + this.journal.flush(this.kv.sessions) + 1;
      writeApplied(this.sql, this.applied);
    });
  }

  query(key: string): string | null {
    return this.data.get(key);
  }

  queryMany(keys: readonly string[]): (string | null)[] {
    return this.data.getMany(keys);
  }

  openSnapshot(): SnapshotReader {
    this.requireFlushed();
    const sql = this.sql;
    this.storage.transactionSync(() => {
      clearSnapshotCopy(sql);
      sql.exec('INSERT INTO kv_snap_data (key, value) SELECT key, value FROM kv_data');
      copySessions(sql, this.kv.limits.window);
    });
    const keys = sql.exec<{ n: number }>('SELECT count(*) AS n FROM kv_snap_data').one().n;
    const sessions = sql.exec<{ n: number }>('SELECT count(*) AS n FROM kv_snap_sessions').one().n;
    // Closing an older reader must not clear the copy a newer one reads.
    const reader: SqlSnapshotReader = new SqlSnapshotReader(sql, this.applied, headerLine(keys, sessions), () => {
      if (this.snapshotOpen !== reader) return;
      this.snapshotOpen = null;
      clearSnapshotCopy(sql);
    });
    this.snapshotOpen = reader;
    return reader;
  }

  stageSnapshot(chunk: { chunk: number; data: string }): void {
    const { data } = chunk;
    // Stored as UTF-8, a lone half of a surrogate pair would turn into U+FFFD: refuse rather than corrupt.
    if (isHighSurrogate(data.charCodeAt(data.length - 1)) || isLowSurrogate(data.charCodeAt(0))) {
      throw new Error(`snapshot chunk ${chunk.chunk} splits a surrogate pair`);
    }
    this.raft.stageSnapshot(chunk.chunk, data);
  }

  installSnapshot(point: SnapshotPoint): void {
    this.install(this.raft.stagedParts(), point.index);
    this.raft.clearStaged();
  }

  /** The state is durable at its applied index already; the log must not be compacted past it. */
  checkpoint(point: SnapshotPoint): void {
    this.requireFlushed();
    if (point.index > this.applied) throw new Error(`checkpoint at ${point.index} asked of a kv machine at ${this.applied}`);
  }

  /**
   * Replace everything with the snapshot in `pieces`, at `index`, in one
   * transaction: a malformed snapshot throws and leaves the old state.
   */
  private install(pieces: Iterable<string>, index: Index): void {
    const sql = this.sql;
    let table: SessionTable | null = null;
    this.storage.transactionSync(() => {
      sql.exec('DELETE FROM kv_data');
      sql.exec('DELETE FROM kv_sessions');
      sql.exec('DELETE FROM kv_session_saved');
      const pairs = new RowWriter(sql, 'INSERT INTO kv_data (key, value)', 2);
      const records: SessionRecord[] = [];
      const parser = new SnapshotParser({ pair: (k, v) => pairs.add(k, v), session: (r) => records.push(r) });
      for (const piece of pieces) parser.feed(piece);
      parser.end();
      pairs.flush();
      const loaded = SessionTable.load(records, this.kv.limits); // validates every record
      writeSessions(sql, loaded.dump());
      writeApplied(sql, index);
      table = loaded;
    });
    // Only once the transaction is through does memory follow.
    this.data.discard();
    this.journal.discard();
    this.adopt(table!);
    this.applied = index;
  }

  private adopt(table: SessionTable): void {
    this.journal.load(table);
    table.journal = this.journal;
    this.kv.replaceSessions(table);
  }

  private requireFlushed(): void {
    if (this.data.dirty || this.journal.dirty) throw new Error('kv machine has applied entries not yet written');
  }

  /**
   * A node from before these tables kept its state in memory and a serialized
   * snapshot (format version 3) at each compaction: bring that snapshot into
   * the tables once, so the state the compacted log no longer holds survives.
   */
  private importLegacySnapshot(): void {
    const old = this.raft.loadSnapshot();
    if (old === null) return;
    const raw = JSON.parse(old.data) as { version?: unknown; data?: [string, string][]; sessions?: SessionRecord[] };
    if (raw.version !== 3 || !Array.isArray(raw.data) || !Array.isArray(raw.sessions)) {
      throw new Error(`stored snapshot at ${old.index} has an unknown format`);
    }
    const lines = [headerLine(raw.data.length, raw.sessions.length)];
    for (const [k, v] of sortPairs(raw.data)) lines.push(pairLine(k, v));
    for (const r of raw.sessions) lines.push(recordLine(r));
    this.install(lines, old.index);
    this.raft.clearSnapshot();
  }
}

function clearSnapshotCopy(sql: SqlStorage): void {
  sql.exec('DELETE FROM kv_snap_data');
  sql.exec('DELETE FROM kv_snap_sessions');
  sql.exec('DELETE FROM kv_snap_saved');
}

const isHighSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

type Phase = 'header' | 'data' | 'sessions' | 'end';

/**
 * Where a chunk starts: in `phase`, after the item `after` (a key, a session's
 * lastIndex, or null/-1 for none yet), `skip` characters into the next item's
 * line (a line longer than a chunk spans several).
 */
interface Position {
  phase: Phase;
  after: string | number | null;
  skip: number;
}

interface Item {
  phase: Phase;
  /** The item's own id, and the one before it in its phase (what a position inside it resumes after). */
  id: string | number;
  before: string | number | null;
  line: string;
}

const pageRows = 256;

/**
 * Reads the snapshot tables as the lines of the snapshot format, cut into
 * chunks of `maxBytes` characters (one less where the cut would split a
 * surrogate pair; the last shorter). Where each chunk starts is remembered
 * once known, so a resent or restarted chunk is read directly.
 */
export class SqlSnapshotReader implements SnapshotReader {
  private starts: Position[] = [{ phase: 'header', after: null, skip: 0 }];
  private maxBytes = -1;

  private closed = false;

  constructor(
    private readonly sql: SqlStorage,
    readonly index: Index,
    private readonly header: string,
    private readonly onClose: () => void = () => {},
  ) {}

  close(): void {
    this.closed = true;
    this.onClose();
  }

  chunk(n: number, maxBytes: number): { data: string; done: boolean } {
    if (this.closed) throw new Error(`snapshot at ${this.index} read after it was closed`);
    if (!(maxBytes >= 1)) throw new Error(`snapshot chunks of ${maxBytes} characters`);
    if (maxBytes !== this.maxBytes) {
      this.maxBytes = maxBytes;
      this.starts = [{ phase: 'header', after: null, skip: 0 }];
    }
    let k = Math.min(n, this.starts.length - 1);
    for (;;) {
      const start = this.starts[k]!;
      const { data, next } = this.read(start, maxBytes);
      if (next !== null) this.starts[k + 1] = next;
      if (k === n || next === null) return k === n ? { data, done: next === null } : { data: '', done: true };
      k++;
    }
  }

  /** `max` characters from `start`, and where the next chunk starts (null: nothing is left). */
  private read(start: Position, max: number): { data: string; next: Position | null } {
    let out = '';
    let skip = start.skip;
    const items = this.items(start)[Symbol.iterator]();
    for (let it = items.next(); !it.done; it = items.next()) {
      const item = it.value;
      const text = skip > 0 ? item.line.slice(skip) : item.line;
      let room = max - out.length;
      if (text.length > room) {
        // Never between the two halves of a surrogate pair: a lone half does not survive UTF-8 (the staging rows).
        if (isHighSurrogate(text.charCodeAt(room - 1))) room += room > 1 || out.length > 0 ? -1 : 1;
        out += text.slice(0, room);
        return { data: out, next: { phase: item.phase, after: item.before, skip: skip + room } };
      }
      out += text;
      skip = 0;
      if (out.length === max) {
        const more = !items.next().done;
        return { data: out, next: more ? { phase: item.phase, after: item.id, skip: 0 } : null };
      }
    }
    return { data: out, next: null };
  }

  /** The lines from `start` on (ignoring its skip), read a page at a time. */
  private *items(start: Position): Generator<Item> {
    const sql = this.sql;
    let phase = start.phase;
    let after = start.after;
    if (phase === 'header') {
      if (after === null) yield { phase, id: 'header', before: null, line: this.header };
      phase = 'data';
      after = null;
    }
    if (phase === 'data') {
      for (;;) {
        // Read whole (toArray), never held open across a yield: a chunk stops reading mid-page, and a
        // cursor left open keeps SQLite's read snapshot, so the WAL could not be checkpointed and grew.
        const rows = (
          after === null
            ? sql.exec<{ key: string; value: string }>('SELECT key, value FROM kv_snap_data ORDER BY key LIMIT ?', pageRows)
            : sql.exec<{ key: string; value: string }>(
                'SELECT key, value FROM kv_snap_data WHERE key > ? ORDER BY key LIMIT ?',
                after,
                pageRows,
              )
        ).toArray();
        let seen = 0;
        for (const r of rows) {
          seen++;
          yield { phase, id: r.key, before: after, line: pairLine(r.key, r.value) };
          after = r.key;
        }
        if (seen < pageRows) break;
      }
      phase = 'sessions';
      after = -1;
    }
    if (phase === 'sessions') {
      let last = after as number;
      for (;;) {
        const rows = sql.exec<{
          client_id: string;
          highest: number;
          last_index: number;
          serial: number | null;
          digest: string | null;
          result: string | null;
        }>(
          `WITH page AS (SELECT client_id, highest, last_index FROM kv_snap_sessions WHERE last_index > ? ORDER BY last_index LIMIT ?)
           SELECT p.client_id, p.highest, p.last_index, v.serial, v.digest, v.result
           FROM page p LEFT JOIN kv_snap_saved v ON v.client_id = p.client_id
           ORDER BY p.last_index, v.serial`,
          last,
          pageRows,
        );
        const sessions: { id: string; highest: number; lastIndex: number; saved: [number, string, string][] }[] = [];
        for (const r of rows) {
          let s = sessions[sessions.length - 1];
          if (s === undefined || s.lastIndex !== r.last_index) {
            s = { id: r.client_id, highest: r.highest, lastIndex: r.last_index, saved: [] };
            sessions.push(s);
          }
          if (r.serial !== null) s.saved.push([r.serial, r.digest!, r.result!]);
        }
        for (const s of sessions) {
          yield { phase, id: s.lastIndex, before: last, line: sessionLine(s.id, s.highest, s.lastIndex, s.saved) };
          last = s.lastIndex;
        }
        if (sessions.length < pageRows) break;
      }
    }
  }
}
