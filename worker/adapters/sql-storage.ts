// Durable storage of a node's Raft state in the Durable Object's SQLite
// database: the hard state (term, vote, commit) in a one-row table and the log
// one row per entry. Writes are synchronous (ctx.storage.sql), so the caller
// persists a Ready before it sends anything; the output gate then holds those
// messages until the write is durable (§5.1: a vote or an entry must survive a
// crash before anyone is told about it).
import type { HostStorage } from '../host/ports';
import type { SnapshotPoint } from '../raft/log';
import { decodeMembership, encodeMembership, type Membership } from '../raft/membership';
import type { Persisted } from '../raft/node';
import type { Entry, EntryKind, HardState, Index, Term } from '../raft/types';

/** Each step upgrades the schema by one version; never edit a step once released. */
const migrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE raft_hard_state (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       term INTEGER NOT NULL,
       vote TEXT,
       commit_index INTEGER NOT NULL
     )`,
    `CREATE TABLE raft_log (
       idx INTEGER PRIMARY KEY,
       term INTEGER NOT NULL,
       kind TEXT NOT NULL,
       data TEXT NOT NULL
     )`,
  ],
  [
    // Log compaction (§7): where the stored log starts, and the state machine's
    // latest snapshot (a checkpoint or an installed one), cut in rows.
    `CREATE TABLE raft_compaction (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       idx INTEGER NOT NULL,
       term INTEGER NOT NULL,
       membership TEXT NOT NULL
     )`,
    `CREATE TABLE raft_snapshot (
       id INTEGER PRIMARY KEY CHECK (id = 1),
       idx INTEGER NOT NULL,
       term INTEGER NOT NULL,
       parts INTEGER NOT NULL
     )`,
    `CREATE TABLE raft_snapshot_part (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)`,
    // An incoming snapshot's chunks until the last arrives; a restart forgets the transfer.
    `CREATE TABLE raft_snapshot_staging (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)`,
  ],
];

/**
 * Characters per stored row of a snapshot: a Durable Object refuses a value
 * over 2 MB, and a UTF-16 unit takes at most 3 bytes of UTF-8.
 */
export const snapshotPartChars = 512 * 1024;

/** A snapshot as stored: the point it covers and the state machine's serialized state. */
export interface StoredSnapshot extends SnapshotPoint {
  data: string;
}

/** How far the stored commit index may fall behind before it rides along with entries (see save). */
export const commitWriteLag = 256;

type HardStateRow = { term: number; vote: string | null; commit_index: number };
type EntryRow = { idx: number; term: number; kind: string; data: string };

const entryKinds: readonly EntryKind[] = ['command', 'noop', 'config'];

/**
 * Log rows per INSERT. Each SQL statement costs workerd a fixed overhead
 * whatever it does, so a batch of entries goes in as few statements as
 * possible; a Durable Object binds at most 100 parameters per statement, and
 * a row takes 4.
 */
export const rowsPerInsert = 25;
const insertTexts: string[] = [];

/** `INSERT ... VALUES (?, ?, ?, ?), ...` for `rows` rows (the texts are reused, so workerd's statement cache keeps them). */
function insertEntries(rows: number): string {
  return (insertTexts[rows] ??= `INSERT INTO raft_log (idx, term, kind, data) VALUES ${Array(rows).fill('(?, ?, ?, ?)').join(', ')}`);
}

export class SqlRaftStorage implements HostStorage {
  /** Index of the last stored entry, kept to check that appends stay contiguous. */
  private lastIndex: Index = 0;
  /** The log is compacted up to here. */
  private compacted: SnapshotPoint = { index: 0, term: 0 };
  /** The hard state as stored. */
  private stored: HardState = { term: 0, vote: null, commit: 0 };
  /** The newest commit index the core reported; written lazily (see save). */
  private latestCommit: Index = 0;
  /** Inside atomically(): the writes already share one transaction. */
  private inTransaction = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Create the tables, or upgrade them from an older version. Idempotent. */
  migrate(): void {
    const sql = this.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS raft_schema (version INTEGER NOT NULL)');
    const row = sql.exec<{ version: number }>('SELECT version FROM raft_schema').toArray()[0];
    const from = row?.version ?? 0;
    if (from > migrations.length) {
      throw new Error(`stored schema version ${from} is newer than this code knows (${migrations.length})`);
    }
    this.storage.transactionSync(() => {
      for (const step of migrations.slice(from)) for (const stmt of step) sql.exec(stmt);
      if (row === undefined) sql.exec('INSERT INTO raft_schema (version) VALUES (?)', migrations.length);
      else sql.exec('UPDATE raft_schema SET version = ?', migrations.length);
    });
  }

  /**
   * What the core needs after a (re)start: the hard state, the term of every
   * entry, and in full only the entries after the stored commit index. The
   * payloads before it stay on disk; the core reads them through loadEntries
   * when it replays them or a lagging follower needs them. Throws if the log
   * has holes. `applied` is the state machine's stored applied index (one
   * that keeps its state in SQL); without it, the stored snapshot's index.
   */
  load(applied?: Index): Persisted {
    const sql = this.storage.sql;
    const hs = sql.exec<HardStateRow>('SELECT term, vote, commit_index FROM raft_hard_state').toArray()[0];
    const hardState: HardState = hs ? { term: hs.term, vote: hs.vote, commit: hs.commit_index } : { term: 0, vote: null, commit: 0 };
    const c = sql.exec<{ idx: number; term: number; membership: string }>('SELECT idx, term, membership FROM raft_compaction').toArray()[0];
    const compacted = c ? { index: c.idx, term: c.term } : { index: 0, term: 0 };
    const membership = c ? decodeMembership(c.membership) : undefined;
    const configEntries: Entry[] = [];
    for (const row of sql.exec<EntryRow>("SELECT idx, term, kind, data FROM raft_log WHERE kind = 'config' ORDER BY idx")) {
      configEntries.push({ index: row.idx, term: row.term, kind: 'config', data: row.data });
    }
    const terms: Term[] = [];
    for (const row of sql.exec<{ idx: number; term: number }>('SELECT idx, term FROM raft_log ORDER BY idx')) {
      if (row.idx !== compacted.index + terms.length + 1) {
        throw new Error(`stored log is not contiguous: expected index ${compacted.index + terms.length + 1}, found ${row.idx}`);
      }
      terms.push(row.term);
    }
    const last = compacted.index + terms.length;
    if (applied === undefined) applied = sql.exec<{ idx: number }>('SELECT idx FROM raft_snapshot').toArray()[0]?.idx ?? 0;
    if (applied < compacted.index) throw new Error(`stored state at ${applied} is behind the compacted log (${compacted.index})`);
    const tailFrom = Math.max(compacted.index, Math.min(Math.max(hardState.commit, applied), last)) + 1;
    const tail = this.loadEntries(tailFrom, last, Infinity);
    this.lastIndex = last;
    this.compacted = compacted;
    this.stored = hardState;
    this.latestCommit = hardState.commit;
    return { hardState, compacted, applied, membership, configEntries, terms, tail };
  }

  /** The state machine's latest snapshot, or null if it never took one. */
  loadSnapshot(): StoredSnapshot | null {
    const sql = this.storage.sql;
    const meta = sql.exec<{ idx: number; term: number; parts: number }>('SELECT idx, term, parts FROM raft_snapshot').toArray()[0];
    if (meta === undefined) return null;
    const parts: string[] = [];
    for (const row of sql.exec<{ seq: number; data: string }>('SELECT seq, data FROM raft_snapshot_part ORDER BY seq')) {
      if (row.seq !== parts.length) throw new Error(`stored snapshot lacks part ${parts.length}`);
      parts.push(row.data);
    }
    if (parts.length !== meta.parts) throw new Error(`stored snapshot has ${parts.length} parts, expected ${meta.parts}`);
    return { index: meta.idx, term: meta.term, data: parts.join('') };
  }

  /** Replace the stored snapshot (same event as the log changes that rely on it, so atomic with them). */
  saveSnapshot(snap: StoredSnapshot): void {
    const sql = this.storage.sql;
    const parts = Math.max(1, Math.ceil(snap.data.length / snapshotPartChars));
    sql.exec('DELETE FROM raft_snapshot_part');
    for (let i = 0; i < parts; i++) {
      sql.exec(
        'INSERT INTO raft_snapshot_part (seq, data) VALUES (?, ?)',
        i,
        snap.data.slice(i * snapshotPartChars, (i + 1) * snapshotPartChars),
      );
    }
    sql.exec(
      `INSERT INTO raft_snapshot (id, idx, term, parts) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, parts = excluded.parts`,
      snap.index,
      snap.term,
      parts,
    );
  }

  /** Keep chunk `chunk` of an incoming snapshot (chunk 0 starts over). */
  stageSnapshot(chunk: number, data: string): void {
    const sql = this.storage.sql;
    if (chunk === 0) sql.exec('DELETE FROM raft_snapshot_staging');
    // A chunk is at most a peer message (bounded): store it in parts all the same, for the row limit.
    const base = chunk * 1024;
    for (let i = 0; i * snapshotPartChars < Math.max(1, data.length); i++) {
      sql.exec(
        'INSERT OR REPLACE INTO raft_snapshot_staging (seq, data) VALUES (?, ?)',
        base + i,
        data.slice(i * snapshotPartChars, (i + 1) * snapshotPartChars),
      );
    }
  }

  /** The staged snapshot's rows in order, read one at a time (the whole may not fit in memory). */
  *stagedParts(): Generator<string> {
    let seq = -1;
    for (;;) {
      const row = this.storage.sql
        .exec<{ seq: number; data: string }>('SELECT seq, data FROM raft_snapshot_staging WHERE seq > ? ORDER BY seq LIMIT 1', seq)
        .toArray()[0];
      if (row === undefined) return;
      seq = row.seq;
      yield row.data;
    }
  }

  clearStaged(): void {
    this.storage.sql.exec('DELETE FROM raft_snapshot_staging');
  }

  /** Forget the stored snapshot (the state machine took its state over into its own tables). */
  clearSnapshot(): void {
    this.storage.sql.exec('DELETE FROM raft_snapshot_part');
    this.storage.sql.exec('DELETE FROM raft_snapshot');
  }

  /** The staged snapshot's data, whole; the staging is emptied. */
  takeStaged(): string {
    const sql = this.storage.sql;
    const parts: string[] = [];
    for (const row of sql.exec<{ data: string }>('SELECT data FROM raft_snapshot_staging ORDER BY seq')) parts.push(row.data);
    sql.exec('DELETE FROM raft_snapshot_staging');
    return parts.join('');
  }

  /** Log compaction (§7): entries up to `point` go; the point and its term stay for the next consistency check. */
  compact(point: SnapshotPoint, membership: Membership): void {
    if (point.index <= this.compacted.index) return;
    if (point.index > this.lastIndex) throw new Error(`compacting to ${point.index} beyond the stored log's end ${this.lastIndex}`);
    this.storage.sql.exec('DELETE FROM raft_log WHERE idx <= ?', point.index);
    this.writeCompaction(point, membership);
  }

  /** An installed snapshot (§7): entries up to it go, and all after it too unless `keepLog`. */
  installSnapshot(point: SnapshotPoint, keepLog: boolean, membership: Membership): void {
    const sql = this.storage.sql;
    if (keepLog) sql.exec('DELETE FROM raft_log WHERE idx <= ?', point.index);
    else sql.exec('DELETE FROM raft_log');
    if (!keepLog) this.lastIndex = point.index;
    this.writeCompaction(point, membership);
  }

  private writeCompaction(point: SnapshotPoint, membership: Membership): void {
    this.storage.sql.exec(
      `INSERT INTO raft_compaction (id, idx, term, membership) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, membership = excluded.membership`,
      point.index,
      point.term,
      encodeMembership(membership),
    );
    this.compacted = { ...point };
  }

  /**
   * Stored entries `from` through `to`, in order, stopping early after the
   * one that takes their data past `maxBytes` (the core's EntryLoader).
   * Throws if any is missing.
   */
  loadEntries(from: Index, to: Index, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    const rows = this.storage.sql.exec<EntryRow>(
      'SELECT idx, term, kind, data FROM raft_log WHERE idx BETWEEN ? AND ? ORDER BY idx',
      from,
      to,
    );
    // The cursor reads rows as it is iterated, so stopping early reads no more.
    for (const row of rows) {
      if (row.idx !== from + out.length) {
        throw new Error(`stored log is not contiguous: expected index ${from + out.length}, found ${row.idx}`);
      }
      out.push({ index: row.idx, term: row.term, kind: toKind(row.kind, row.idx), data: row.data });
      bytes += row.data.length;
      if (bytes > maxBytes) break;
    }
    if (out.length < to - from + 1 && bytes <= maxBytes) {
      throw new Error(`stored log lacks entries ${from + out.length}..${to}`);
    }
    return out;
  }

  /**
   * Persist what a Ready asks for: the hard state if it changed, and the new
   * entries, replacing any stored suffix from entries[0].index on (§5.3: a
   * follower drops a conflicting suffix before taking the leader's entries).
   * Atomic: either all of it is stored or none.
   *
   * The commit index is written lazily. It is volatile state in Raft (§5,
   * Figure 2): after a restart the node relearns it from the leader, so
   * storing it only saves replay work. Written on its own it would cost a
   * client write one more durable storage round on the leader (the output
   * gate holds the reply until the write is durable), and written with every
   * append it would add a page to every commit. So it rides along when the
   * term or vote is written, or with entries once it is `commitWriteLag`
   * behind.
   */
  save(hardState: HardState | null, entries: readonly Entry[]): void {
    if (hardState !== null) this.latestCommit = hardState.commit;
    const termOrVote = this.changesTermOrVote(hardState);
    if (!termOrVote && entries.length === 0) return;
    checkContiguous(entries, this.lastIndex, this.compacted.index);
    const writeHard = termOrVote || this.latestCommit - this.stored.commit >= commitWriteLag;
    const hs: HardState = {
      term: hardState?.term ?? this.stored.term,
      vote: hardState === null ? this.stored.vote : hardState.vote,
      commit: this.latestCommit,
    };
    const sql = this.storage.sql;
    const first = entries[0];
    // Only a follower replacing a conflicting suffix has anything to delete.
    const truncate = first !== undefined && first.index <= this.lastIndex;
    const write = (): void => {
      if (writeHard) {
        sql.exec(
          `INSERT INTO raft_hard_state (id, term, vote, commit_index) VALUES (1, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index`,
          hs.term,
          hs.vote,
          hs.commit,
        );
      }
      if (truncate) sql.exec('DELETE FROM raft_log WHERE idx >= ?', first.index);
      for (let at = 0; at < entries.length; at += rowsPerInsert) {
        const rows = entries.slice(at, at + rowsPerInsert);
        sql.exec(insertEntries(rows.length), ...rows.flatMap((e) => [e.index, e.term, e.kind, e.data]));
      }
    };
    // One statement is atomic by itself; more need a transaction (a savepoint
    // inside the event's implicit one), which costs two statements more.
    const statements = (writeHard ? 1 : 0) + (truncate ? 1 : 0) + Math.ceil(entries.length / rowsPerInsert);
    if (statements > 1) this.atomically(write);
    else write();
    if (writeHard) this.stored = hs;
    const last = entries[entries.length - 1];
    if (last !== undefined) this.lastIndex = last.index;
  }

  /**
   * Run `work` as one transaction (a savepoint inside the event's implicit
   * one): a throw undoes all of it. Writes inside that would open their own
   * (save, the state machine's flush) join this one instead, which saves the
   * statements each transaction costs.
   */
  atomically(work: () => void): void {
    if (this.inTransaction) return work();
    this.inTransaction = true;
    try {
      this.storage.transactionSync(work);
    } finally {
      this.inTransaction = false;
    }
  }

  /** Whether storing `hardState` would change the stored term or vote, rather than only the commit index. */
  changesTermOrVote(hardState: HardState | null): boolean {
    return hardState !== null && (hardState.term !== this.stored.term || hardState.vote !== this.stored.vote);
  }
}

/** The core hands out a gap-free run that starts at or before the end of the stored log. */
function checkContiguous(entries: readonly Entry[], lastIndex: Index, compacted: Index): void {
  const first = entries[0];
  if (first === undefined) return;
  if (first.index <= compacted || first.index > lastIndex + 1) {
    throw new Error(`entries start at ${first.index} but the stored log ends at ${lastIndex}`);
  }
  entries.forEach((e, i) => {
    if (e.index !== first.index + i) throw new Error(`entries are not contiguous at position ${i} (index ${e.index})`);
  });
}

function toKind(kind: string, idx: Index): EntryKind {
  const k = entryKinds.find((x) => x === kind);
  if (k === undefined) throw new Error(`stored entry ${idx} has unknown kind "${kind}"`);
  return k;
}
