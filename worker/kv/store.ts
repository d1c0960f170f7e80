// The key-value state machine the Raft log drives. It is deterministic: it
// reads nothing but the entries it is given (no clock, no randomness), so
// every replica that applies the same entries holds the same state, down to
// the bytes of its snapshot.
import { unreachable } from '../raft/types';
import type { Entry } from '../raft/types';
import type { StateMachine } from '../raft/state-machine';
import { decodeRequest, isRegister } from './commands';
import type { KvCommand, KvResult, KvSuccess } from './commands';
import { SessionTable, defaultSessionLimits } from './sessions';
import type { SessionLimits, SessionRecord } from './sessions';
import { SnapshotParser, compareCodePoints, headerLine, pairLine, recordLine } from './snapshot-format';

/** Where the machine keeps its keys and values: a Map (memory) or a table (node/sql-kv.ts). */
export interface KvData {
  get(key: string): string | null;
  set(key: string, value: string): void;
  /** Whether the key was there. */
  delete(key: string): boolean;
  /** Number of keys. */
  count(): number;
  /** Every key and value, keys in code point order (compareCodePoints), for snapshots. */
  sorted(): Iterable<readonly [string, string]>;
  /** Replace everything with `pairs` (already validated, keys in order). */
  replace(pairs: Iterable<readonly [string, string]>): void;
}

/** The in-memory store of the simulator and the tests. */
export class MapData implements KvData {
  private map = new Map<string, string>();

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  set(key: string, value: string): void {
    this.map.set(key, value);
  }
  delete(key: string): boolean {
    return this.map.delete(key);
  }
  count(): number {
    return this.map.size;
  }
  sorted(): Iterable<readonly [string, string]> {
    return [...this.map].sort((a, b) => compareCodePoints(a[0], b[0]));
  }
  replace(pairs: Iterable<readonly [string, string]>): void {
    this.map = new Map(pairs);
  }
}

export interface KvStateMachineOptions {
  /** Every replica must use the same limits, or their session tables diverge. */
  sessionLimits?: Partial<SessionLimits>;
  /** Where the keys live; a fresh MapData by default. */
  data?: KvData;
  /** The session table to start from (as stored); an empty one by default. */
  sessions?: SessionTable;
}

/**
 * The rules of the key-value store: commands, sessions, results. Where the
 * data lives is the KvData's business, so the Durable Object (SQLite) and the
 * simulator (memory) run exactly this logic and produce the same snapshots.
 */
export class KvStateMachine implements StateMachine<KvResult> {
  readonly limits: SessionLimits;
  private readonly data: KvData;
  private table: SessionTable;

  constructor(options: KvStateMachineOptions = {}) {
    this.limits = { ...defaultSessionLimits, ...options.sessionLimits };
    this.data = options.data ?? new MapData();
    this.table = options.sessions ?? new SessionTable(this.limits);
  }

  /** The session table, for a store that persists it. */
  get sessions(): SessionTable {
    return this.table;
  }

  /** Swap in a session table (a snapshot installed by a store that wrote it itself). */
  replaceSessions(table: SessionTable): void {
    this.table = table;
  }

  apply(entry: Entry): KvResult | null {
    switch (entry.kind) {
      case 'noop':
      case 'config':
        return null;
      case 'command': {
        const req = decodeRequest(entry.data);
        if (isRegister(req)) return this.table.register(entry.index);
        const { cmd, session } = req;
        if (session === undefined) return this.execute(cmd);
        return this.table.run(session, cmd, entry.index, () => this.execute(cmd), req.digest);
      }
      default:
        return unreachable(entry.kind);
    }
  }

  get(key: string): string | null {
    return this.data.get(key);
  }

  /** Number of keys. */
  size(): number {
    return this.data.count();
  }

  /** Number of client sessions remembered (at most `maxSessions`). */
  sessionCount(): number {
    return this.table.size();
  }

  /**
   * The whole state in the snapshot format (snapshot-format.ts): keys in code
   * point order, sessions in order of last use. Both orders follow from the
   * entries applied, so replicas produce identical snapshots, and restore
   * keeps the session order so that eviction after a restore picks the same
   * session it would have picked before.
   */
  snapshot(): string {
    const parts = [headerLine(this.data.count(), this.table.size())];
    for (const [key, value] of this.data.sorted()) parts.push(pairLine(key, value));
    for (const r of this.table.dump()) parts.push(recordLine(r));
    return parts.join('');
  }

  /** Replace the whole state. Throws on a malformed snapshot, leaving the state as it was. */
  restore(snapshot: string): void {
    // Build everything first so a bad snapshot cannot leave a half-restored machine.
    const pairs: [string, string][] = [];
    const records: SessionRecord[] = [];
    const parser = new SnapshotParser({ pair: (k, v) => pairs.push([k, v]), session: (r) => records.push(r) });
    parser.feed(snapshot);
    parser.end();
    const table = SessionTable.load(records, this.limits);
    this.data.replace(pairs);
    this.table = table;
  }

  private execute(cmd: KvCommand): KvSuccess {
    switch (cmd.op) {
      case 'set':
        this.data.set(cmd.key, cmd.value);
        return { ok: true, op: 'set' };
      case 'delete':
        return { ok: true, op: 'delete', existed: this.data.delete(cmd.key) };
      case 'cas': {
        const current = this.get(cmd.key);
        if (current !== cmd.expected) return { ok: true, op: 'cas', swapped: false, current };
        this.data.set(cmd.key, cmd.value);
        return { ok: true, op: 'cas', swapped: true, current: cmd.value };
      }
      default:
        return unreachable(cmd);
    }
  }
}
