// Durable storage of a node's Raft state in the Durable Object's SQLite
// database: the hard state (term, vote, commit) in a one-row table and the log
// one row per entry. Writes are synchronous (ctx.storage.sql), so the caller
// persists a Ready before it sends anything; the output gate then holds those
// messages until the write is durable (§5.1: a vote or an entry must survive a
// crash before anyone is told about it).
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
];

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

export class SqlRaftStorage {
  /** Index of the last stored entry, kept to check that appends stay contiguous. */
  private lastIndex: Index = 0;
  /** The hard state as stored. */
  private stored: HardState = { term: 0, vote: null, commit: 0 };
  /** The newest commit index the core reported; written lazily (see save). */
  private latestCommit: Index = 0;

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
   * has holes.
   */
  load(): Persisted {
    const sql = this.storage.sql;
    const hs = sql.exec<HardStateRow>('SELECT term, vote, commit_index FROM raft_hard_state').toArray()[0];
    const hardState: HardState = hs ? { term: hs.term, vote: hs.vote, commit: hs.commit_index } : { term: 0, vote: null, commit: 0 };
    const terms: Term[] = [];
    for (const row of sql.exec<{ idx: number; term: number }>('SELECT idx, term FROM raft_log ORDER BY idx')) {
      if (row.idx !== terms.length + 1) {
        throw new Error(`stored log is not contiguous: expected index ${terms.length + 1}, found ${row.idx}`);
      }
      terms.push(row.term);
    }
    const tailFrom = Math.min(hardState.commit, terms.length) + 1;
    const tail = this.loadEntries(tailFrom, terms.length, Infinity);
    this.lastIndex = terms.length;
    this.stored = hardState;
    this.latestCommit = hardState.commit;
    return { hardState, terms, tail };
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
    checkContiguous(entries, this.lastIndex);
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
    if (statements > 1) this.storage.transactionSync(write);
    else write();
    if (writeHard) this.stored = hs;
    const last = entries[entries.length - 1];
    if (last !== undefined) this.lastIndex = last.index;
  }

  /** Whether storing `hardState` would change the stored term or vote, rather than only the commit index. */
  changesTermOrVote(hardState: HardState | null): boolean {
    return hardState !== null && (hardState.term !== this.stored.term || hardState.vote !== this.stored.vote);
  }
}

/** The core hands out a gap-free run that starts at or before the end of the stored log. */
function checkContiguous(entries: readonly Entry[], lastIndex: Index): void {
  const first = entries[0];
  if (first === undefined) return;
  if (first.index < 1 || first.index > lastIndex + 1) {
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
