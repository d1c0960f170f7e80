// What the SqlKvMachine tests share: a seeded workload of requests, feeding
// entries in Readies as the host does, reading a snapshot in chunks, older
// schemas' layouts, and a machine opened over a Durable Object's storage.
import { SqlRaftStorage } from '../../../worker/adapters/sql-storage';
import { SqlKvMachine } from '../../../worker/node/kv-machine';
import { encodeRequest, type KvCommand, type KvRequest } from '../../../worker/kv/commands';
import type { SessionLimits } from '../../../worker/kv/sessions';
import type { SnapshotReader } from '../../../worker/host/ports';
import type { Entry } from '../../../worker/raft/types';

/** Small limits, so sessions are evicted and saved results leave their windows. */
export const limits: SessionLimits = { maxSessions: 12, window: 6 };

/** A seeded workload: sets, deletes, cas, registered and named sessions, retries, reused and stale serials. */
export function workload(seed: number, count: number): KvRequest[] {
  let s = seed >>> 0;
  const next = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 16) % n;
  };
  const out: KvRequest[] = [];
  const serials = new Map<string, number>();
  const registered: string[] = [];
  for (let i = 0; i < count; i++) {
    // Keys of several scripts, so their order tests code point order too.
    const key = ['a', 'b', 'é', '\uFF21', '\u{1F600}', 'k'][next(6)]! + String(next(15));
    const cmds: KvCommand[] = [
      { op: 'set', key, value: `v${i}`.repeat(1 + next(40)) },
      { op: 'delete', key },
      { op: 'cas', key, expected: next(2) ? null : `v${next(i + 1)}`, value: `c${i}` },
    ];
    const cmd = cmds[next(3)]!;
    const r = next(12);
    if (r === 0) {
      out.push({ register: true });
      registered.push(`session-${i + 1}`); // a register entry's index names its session
      continue;
    }
    if (r === 1) {
      out.push({ cmd });
      continue;
    }
    const clientId = r < 5 && registered.length > 0 ? registered[next(registered.length)]! : `client-${next(20)}`;
    const highest = serials.get(clientId) ?? 0;
    const serial = Math.max(1, next(12) === 0 ? highest - 8 : highest + next(4) - 1);
    serials.set(clientId, Math.max(highest, serial));
    out.push({ cmd, session: { clientId, serial } });
  }
  return out;
}

export const entryOf = (index: number, req: KvRequest): Entry => ({ index, term: 1, kind: 'command', data: encodeRequest(req) });

/** Applies entries in Readies of varied sizes, flushing after each, as the host does. */
export function feed(machine: SqlKvMachine, entries: readonly Entry[], seed: number): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  let s = seed;
  while (at < entries.length) {
    s = (s * 7 + 3) % 41;
    const size = 1 + s;
    for (const e of entries.slice(at, at + size)) out.push(machine.apply(e));
    machine.flushApplied();
    at += size;
  }
  return out;
}

export function readAll(reader: SnapshotReader, maxBytes: number): string[] {
  const chunks: string[] = [];
  for (let n = 0; ; n++) {
    const { data, done } = reader.chunk(n, maxBytes);
    chunks.push(data);
    if (done) return chunks;
  }
}

/** The saved results back in the layout of schema versions 1 and 2: a slot per serial % window, and the saving entry's index (0 if unknown). */
export function savedToSlots(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE kv_session_saved_slots (
       client_id TEXT NOT NULL,
       slot INTEGER NOT NULL,
       serial INTEGER NOT NULL,
       digest TEXT NOT NULL,
       result TEXT NOT NULL,
       idx INTEGER NOT NULL,
       PRIMARY KEY (client_id, slot)
     ) WITHOUT ROWID`);
  sql.exec(
    'INSERT INTO kv_session_saved_slots SELECT client_id, serial % ?, serial, digest, result, max(id, 0) FROM kv_session_saved',
    limits.window,
  );
  sql.exec('DROP TABLE kv_session_saved');
  sql.exec('ALTER TABLE kv_session_saved_slots RENAME TO kv_session_saved');
}

export function open(state: DurableObjectState): { raft: SqlRaftStorage; machine: SqlKvMachine } {
  const raft = new SqlRaftStorage(state.storage);
  raft.migrate();
  return { raft, machine: new SqlKvMachine(state.storage, raft, { sessionLimits: limits }) };
}
