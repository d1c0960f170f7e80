/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The Durable Object's key-value machine in SQLite (node/kv-machine.ts)
// against the in-memory one the simulator uses: same results, same snapshot
// bytes, state that survives a restart without replay, snapshots that stay at
// their index, and installs that are all or nothing.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../worker/env';
import { SqlRaftStorage } from '../../worker/adapters/sql-storage';
import { SqlKvMachine, SqlSnapshotReader } from '../../worker/node/kv-machine';
import type { RaftNodeObject } from '../../worker/node/node-object';
import { KvStateMachine } from '../../worker/kv/store';
import { encodeRequest, type KvCommand, type KvRequest } from '../../worker/kv/commands';
import type { SessionLimits } from '../../worker/kv/sessions';
import type { SnapshotReader } from '../../worker/host/ports';
import type { Entry } from '../../worker/raft/types';

const bindings = env as unknown as Env;
const nodeNamed = (name: string) => bindings.RAFT_NODE.get(bindings.RAFT_NODE.idFromName(name));

/** Small limits, so sessions are evicted and saved results leave their windows. */
const limits: SessionLimits = { maxSessions: 12, window: 6 };

/** A seeded workload: sets, deletes, cas, registered and named sessions, retries, reused and stale serials. */
function workload(seed: number, count: number): KvRequest[] {
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

const entryOf = (index: number, req: KvRequest): Entry => ({ index, term: 1, kind: 'command', data: encodeRequest(req) });

/** Applies entries in Readies of varied sizes, flushing after each, as the host does. */
function feed(machine: SqlKvMachine, entries: readonly Entry[], seed: number): unknown[] {
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

function readAll(reader: SnapshotReader, maxBytes: number): string[] {
  const chunks: string[] = [];
  for (let n = 0; ; n++) {
    const { data, done } = reader.chunk(n, maxBytes);
    chunks.push(data);
    if (done) return chunks;
  }
}

/** The saved results back in the layout of schema versions 1 and 2: a slot per serial % window, and the saving entry's index (0 if unknown). */
function savedToSlots(sql: SqlStorage): void {
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

function open(state: DurableObjectState): { raft: SqlRaftStorage; machine: SqlKvMachine } {
  const raft = new SqlRaftStorage(state.storage);
  raft.migrate();
  return { raft, machine: new SqlKvMachine(state.storage, raft, { sessionLimits: limits }) };
}

describe('SqlKvMachine', () => {
  it('gives the same results and the same snapshot bytes as the in-memory machine, and keeps them across a restart', async () => {
    await runInDurableObject(nodeNamed('kv-same'), (_obj: RaftNodeObject, state) => {
      const entries = workload(11, 1500).map((r, i) => entryOf(i + 1, r));
      const memory = new KvStateMachine({ sessionLimits: limits });
      const { raft, machine } = open(state);
      const half = 900;
      const expected = entries.slice(0, half).map((e) => memory.apply(e));
      expect(feed(machine, entries.slice(0, half), 5)).toEqual(expected);
      const bytes = memory.snapshot();
      expect(machine.kv.snapshot()).toBe(bytes);
      expect(machine.kv.sessionCount()).toBe(limits.maxSessions); // eviction happened
      // Chunks cut anywhere, read in order or not, are slices of the same bytes.
      for (const max of [1000, 97, bytes.length, bytes.length + 1]) {
        const reader = machine.openSnapshot();
        expect(reader.index).toBe(half);
        expect(readAll(reader, max).join('')).toBe(bytes);
        const chunks = readAll(reader, max);
        for (const c of chunks) {
          expect(c.length).toBeLessThanOrEqual(max);
          expect(c.length).toBeGreaterThanOrEqual(c === chunks[chunks.length - 1] ? 1 : max - 1); // one less only to keep a pair whole
          expect(() => encodeURIComponent(c)).not.toThrow(); // no lone surrogate
        }
        const n = Math.floor(chunks.length / 2);
        expect(reader.chunk(n, max).data).toBe(chunks[n]);
        expect(reader.chunk(0, max).data).toBe(chunks[0]);
      }

      // A restart: a new machine on the same database, at the same index, with nothing to replay.
      const again = new SqlKvMachine(state.storage, raft, { sessionLimits: limits });
      expect(again.appliedIndex).toBe(half);
      expect(again.kv.snapshot()).toBe(bytes);
      const rest = entries.slice(half);
      expect(feed(again, rest, 9)).toEqual(rest.map((e) => memory.apply(e)));
      expect(again.kv.snapshot()).toBe(memory.snapshot());
      expect(again.query('missing')).toBeNull();
      // Every row the journal wrote is exactly the table in memory.
      const third = new SqlKvMachine(state.storage, raft, { sessionLimits: limits });
      expect(third.kv.snapshot()).toBe(memory.snapshot());
    });
  });

  it('a flush and the log write after it share one transaction: one savepoint, and a throw undoes both', async () => {
    await runInDurableObject(nodeNamed('kv-one-transaction'), (_obj: RaftNodeObject, state) => {
      let transactions = 0;
      // The storage with its transactions counted.
      const counted = new Proxy(state.storage, {
        get(target, prop) {
          if (prop === 'transactionSync') {
            return <T>(work: () => T): T => {
              transactions++;
              return target.transactionSync(work);
            };
          }
          const v: unknown = Reflect.get(target, prop);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const raft = new SqlRaftStorage(counted);
      raft.migrate();
      const machine = new SqlKvMachine(counted, raft, { sessionLimits: limits });
      const entries = Array.from({ length: 90 }, (_, i) =>
        entryOf(i + 1, {
          cmd: { op: 'set', key: `k${i}`, value: `v${i}` },
          session: { clientId: `c${i % 3}`, serial: 1 + Math.floor(i / 3) },
        }),
      );
      const applied = () => state.storage.sql.exec<{ applied: number }>('SELECT applied FROM kv_meta').one().applied;
      const lastLog = () => state.storage.sql.exec<{ idx: number | null }>('SELECT max(idx) AS idx FROM raft_log').one().idx;
      raft.save({ term: 1, vote: 'n1', commit: 0 }, entries.slice(0, 30));
      for (const e of entries.slice(0, 30)) machine.apply(e);

      transactions = 0;
      raft.atomically(() => {
        machine.flushApplied();
        raft.save(null, entries.slice(30, 60)); // two INSERTs: a transaction of its own if alone
      });
      expect(transactions).toBe(1);
      expect(applied()).toBe(30);
      expect(lastLog()).toBe(60);

      for (const e of entries.slice(30, 60)) machine.apply(e);
      expect(() =>
        raft.atomically(() => {
          machine.flushApplied();
          raft.save(null, entries.slice(60, 90));
          throw new Error('disk full');
        }),
      ).toThrow('disk full');
      expect(applied()).toBe(30); // neither the flush nor the log write stayed
      expect(lastLog()).toBe(60);
      expect(state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM kv_data WHERE key = 'k45'").one().n).toBe(0);
    });
  });

  it('writes one Ready of entries in a few statements, not one per entry', async () => {
    await runInDurableObject(nodeNamed('kv-batched'), (_obj: RaftNodeObject, state) => {
      const { machine } = open(state);
      const batch = Array.from({ length: 40 }, (_, i) =>
        entryOf(i + 1, { cmd: { op: 'set', key: `k${i}`, value: 'v' }, session: { clientId: `c${i % 8}`, serial: 1 + Math.floor(i / 8) } }),
      );
      for (const e of batch) machine.apply(e);
      const before = machine.statements;
      machine.flushApplied();
      // Keys, session rows, saved results, the windows' floors, the applied index.
      expect(machine.statements - before).toBeLessThanOrEqual(6);
      expect(machine.query('k39')).toBe('v');
    });
  });

  it('a snapshot opened at index i stays at i while later entries are applied', async () => {
    await runInDurableObject(nodeNamed('kv-snapshot-stays'), (_obj: RaftNodeObject, state) => {
      const entries = workload(3, 600).map((r, i) => entryOf(i + 1, r));
      const memory = new KvStateMachine({ sessionLimits: limits });
      const { machine } = open(state);
      feed(machine, entries.slice(0, 300), 1);
      entries.slice(0, 300).forEach((e) => memory.apply(e));
      const at300 = memory.snapshot();
      const reader = machine.openSnapshot();
      const first = reader.chunk(0, 500).data;
      feed(machine, entries.slice(300), 2); // the live tables move on
      expect(machine.appliedIndex).toBe(600);
      expect(reader.index).toBe(300);
      expect(first + readAll(reader, 500).slice(1).join('')).toBe(at300);
      expect(machine.kv.snapshot()).not.toBe(at300);
    });
  });

  it('closing the snapshot frees its copy; an older reader closed late leaves a newer copy; a restart clears a leftover', async () => {
    const copied = (state: DurableObjectState): number[] =>
      ['kv_snap_data', 'kv_snap_sessions', 'kv_snap_saved'].map(
        (t) => state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${t}`).one().n,
      );
    const entries = workload(5, 400).map((r, i) => entryOf(i + 1, r));
    await runInDurableObject(nodeNamed('kv-snapshot-close'), (_obj: RaftNodeObject, state) => {
      const { machine } = open(state);
      feed(machine, entries.slice(0, 200), 1);
      const reader = machine.openSnapshot();
      expect(copied(state)[0]).toBeGreaterThan(0);
      expect(copied(state)[1]).toBeGreaterThan(0);
      reader.close!();
      expect(copied(state)).toEqual([0, 0, 0]);
      expect(() => reader.chunk(0, 500)).toThrow(/read after it was closed/);

      const older = machine.openSnapshot();
      feed(machine, entries.slice(200, 300), 2);
      const newer = machine.openSnapshot();
      const whole = readAll(newer, 500).join('');
      older.close!();
      expect(readAll(newer, 500).join('')).toBe(whole);
      expect(copied(state)[0]).toBeGreaterThan(0); // left for the restart below
    });
    await runInDurableObject(nodeNamed('kv-snapshot-close'), (_obj: RaftNodeObject, state) => {
      expect(copied(state)[0]).toBeGreaterThan(0);
      open(state);
      expect(copied(state)).toEqual([0, 0, 0]);
    });
  });

  it('reading a chunk leaves no SQL cursor open (an open one keeps the WAL from being checkpointed)', async () => {
    await runInDurableObject(nodeNamed('kv-snapshot-cursors'), (_obj: RaftNodeObject, state) => {
      const { machine } = open(state);
      const sets = Array.from({ length: 700 }, (_, i) => entryOf(i + 1, { cmd: { op: 'set', key: `key${i}`, value: 'x'.repeat(50) } }));
      feed(machine, sets, 4);
      machine.openSnapshot(); // fills the copy the reader below reads
      const real = state.storage.sql;
      let iterating = 0;
      // Counts cursors iterated but not to their end; toArray() and one() read a cursor whole.
      const tracked = new Proxy(real, {
        get(target, prop) {
          if (prop !== 'exec') {
            const v: unknown = Reflect.get(target, prop);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          }
          return (query: string, ...bindings: SqlStorageValue[]) => {
            const cursor = target.exec(query, ...bindings);
            return new Proxy(cursor, {
              get(c, p) {
                if (p !== Symbol.iterator) {
                  const v: unknown = Reflect.get(c, p);
                  return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(c) : v;
                }
                return () => {
                  iterating++;
                  let ended = false;
                  const it = {
                    next: () => {
                      const r = c.next();
                      if (r.done && !ended) {
                        ended = true;
                        iterating--;
                      }
                      return r;
                    },
                    [Symbol.iterator]: () => it,
                  };
                  return it;
                };
              },
            });
          };
        },
      });
      const reader = new SqlSnapshotReader(tracked, 700, 'header\n');
      const first = reader.chunk(0, 300);
      expect(first.done).toBe(false);
      expect(iterating).toBe(0);
      reader.chunk(5, 300);
      expect(iterating).toBe(0);
    });
  });

  it('installs a staged snapshot, replacing everything, and a bad one halfway leaves the old state', async () => {
    await runInDurableObject(nodeNamed('kv-install'), (_obj: RaftNodeObject, state) => {
      const source = new KvStateMachine({ sessionLimits: limits });
      workload(5, 800).forEach((r, i) => source.apply(entryOf(i + 1, r)));
      const incoming = source.snapshot();
      const { machine } = open(state);
      const mine = workload(6, 200).map((r, i) => entryOf(i + 1, r));
      feed(machine, mine, 4);
      const old = machine.kv.snapshot();
      const stage = (text: string, size: number) => {
        // Cut as a sender does: never inside a surrogate pair.
        for (let n = 0, at = 0; at < text.length; n++) {
          let end = Math.min(at + size, text.length);
          if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
          machine.stageSnapshot({ chunk: n, data: text.slice(at, end) });
          at = end;
        }
      };

      // A snapshot whose lines are fine until one in the middle: the pairs before it were already written.
      const lines = incoming.split('\n');
      const broken = [...lines.slice(0, 20), '["zzz"', ...lines.slice(21)].join('\n');
      stage(broken, 333);
      expect(() => machine.installSnapshot({ index: 800, term: 1 })).toThrow(/invalid kv snapshot/);
      expect(machine.kv.snapshot()).toBe(old);
      expect(machine.appliedIndex).toBe(200);
      // A chunk that splits a surrogate pair is refused before it is stored.
      expect(() => machine.stageSnapshot({ chunk: 0, data: 'x\uD83D' })).toThrow(/surrogate/);
      // So does one cut short.
      stage(incoming.slice(0, incoming.length - 50), 333);
      expect(() => machine.installSnapshot({ index: 800, term: 1 })).toThrow(/invalid kv snapshot/);
      expect(machine.kv.snapshot()).toBe(old);

      stage(incoming, 333);
      machine.installSnapshot({ index: 800, term: 1 });
      expect(machine.appliedIndex).toBe(800);
      expect(machine.kv.snapshot()).toBe(incoming);
      const raft = new SqlRaftStorage(state.storage);
      expect([...raft.stagedParts()]).toEqual([]); // the staging is emptied
      // It goes on from there exactly as the machine it came from, also after a restart.
      const next = workload(8, 100).map((r, i) => entryOf(801 + i, r));
      const again = new SqlKvMachine(state.storage, raft, { sessionLimits: limits });
      expect(feed(again, next, 3)).toEqual(next.map((e) => source.apply(e)));
      expect(again.kv.snapshot()).toBe(source.snapshot());
    });
  });

  it('keeps a 1 KiB value in about its own size on disk, not in an overflow page of its own', async () => {
    await runInDurableObject(nodeNamed('kv-large-values'), (_obj: RaftNodeObject, state) => {
      const { machine } = open(state);
      const before = state.storage.sql.databaseSize;
      const sets = Array.from({ length: 2000 }, (_, i) =>
        entryOf(i + 1, { cmd: { op: 'set', key: `bench-${i}`, value: 'v'.repeat(1024) } }),
      );
      feed(machine, sets, 6);
      const perRow = (state.storage.sql.databaseSize - before) / 2000;
      expect(perRow).toBeLessThan(2048); // more than 4 KiB each in a WITHOUT ROWID table
      expect(machine.query('bench-1999')).toBe('v'.repeat(1024));
    });
  });

  it('moves the keys of a version-1 database (WITHOUT ROWID) into the rowid table, in order', async () => {
    await runInDurableObject(nodeNamed('kv-schema-v1'), (_obj: RaftNodeObject, state) => {
      const sql = state.storage.sql;
      const { machine } = open(state);
      feed(
        machine,
        workload(9, 300).map((r, i) => entryOf(i + 1, r)),
        3,
      );
      const bytes = machine.kv.snapshot();
      // Back to version 1's tables, with the same rows.
      sql.exec('CREATE TABLE kv_data_v1 (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
      sql.exec('INSERT INTO kv_data_v1 SELECT key, value FROM kv_data');
      sql.exec('DROP TABLE kv_data');
      sql.exec('ALTER TABLE kv_data_v1 RENAME TO kv_data');
      sql.exec('DROP TABLE kv_snap_data');
      sql.exec('CREATE TABLE kv_snap_data (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
      savedToSlots(sql);
      sql.exec('UPDATE kv_schema SET version = 1');
      const ddl = () =>
        sql
          .exec<{ sql: string }>(`SELECT sql FROM sqlite_master WHERE name IN ('kv_data', 'kv_snap_data') ORDER BY name`)
          .toArray()
          .map((r) => r.sql);
      expect(ddl().every((d) => d.includes('WITHOUT ROWID'))).toBe(true);
      const again = open(state).machine;
      expect(ddl().some((d) => d.includes('WITHOUT ROWID'))).toBe(false);
      expect(sql.exec<{ version: number }>('SELECT version FROM kv_schema').one().version).toBe(3);
      expect(again.kv.snapshot()).toBe(bytes);
      expect(readAll(again.openSnapshot(), 97).join('')).toBe(bytes);
    });
  });

  it('moves the saved results of a version-2 database out of their slots, and serves and goes on from them', async () => {
    await runInDurableObject(nodeNamed('kv-schema-v2'), (_obj: RaftNodeObject, state) => {
      const sql = state.storage.sql;
      const entries = workload(21, 1200).map((r, i) => entryOf(i + 1, r));
      const memory = new KvStateMachine({ sessionLimits: limits });
      const half = 700;
      const { raft, machine } = open(state);
      expect(feed(machine, entries.slice(0, half), 4)).toEqual(entries.slice(0, half).map((e) => memory.apply(e)));
      const bytes = memory.snapshot();
      savedToSlots(sql);
      sql.exec('UPDATE kv_schema SET version = 2');
      // A slot a jump left behind in version 2: a serial below its session's window, never read.
      const free = sql
        .exec<{ client_id: string; highest: number; slot: number }>(
          `WITH RECURSIVE slots(slot) AS (SELECT 0 UNION ALL SELECT slot + 1 FROM slots WHERE slot + 1 < ?)
           SELECT h.client_id, h.highest, slots.slot FROM (SELECT client_id, max(serial) AS highest FROM kv_session_saved GROUP BY client_id) h
           JOIN slots WHERE NOT EXISTS (SELECT 1 FROM kv_session_saved v WHERE v.client_id = h.client_id AND v.slot = slots.slot)
           LIMIT 1`,
          limits.window,
        )
        .toArray()[0];
      expect(free).toBeDefined();
      let old = free!.highest - limits.window;
      while (old % limits.window !== free!.slot) old--;
      sql.exec(
        'INSERT INTO kv_session_saved VALUES (?, ?, ?, ?, ?, ?)',
        free!.client_id,
        free!.slot,
        old,
        'A'.repeat(22),
        '{"ok":true,"op":"set"}',
        1,
      );

      const again = new SqlKvMachine(state.storage, raft, { sessionLimits: limits });
      expect(sql.exec<{ version: number }>('SELECT version FROM kv_schema').one().version).toBe(3);
      expect(again.appliedIndex).toBe(half);
      expect(again.kv.snapshot()).toBe(bytes);
      expect(readAll(again.openSnapshot(), 97).join('')).toBe(bytes);
      const held = again.kv.sessions.dump().reduce((n, r) => n + r.saved.length, 0);
      expect(sql.exec<{ n: number }>('SELECT count(*) AS n FROM kv_session_saved').one().n).toBe(held); // the left-behind row went
      const rest = entries.slice(half);
      expect(feed(again, rest, 8)).toEqual(rest.map((e) => memory.apply(e)));
      expect(new SqlKvMachine(state.storage, raft, { sessionLimits: limits }).kv.snapshot()).toBe(memory.snapshot());
    });
  });

  it('keeps saved results in the order of the entries that saved them, so a flush appends them together', async () => {
    await runInDurableObject(nodeNamed('kv-saved-order'), (_obj: RaftNodeObject, state) => {
      const sql = state.storage.sql;
      const raft = new SqlRaftStorage(state.storage);
      raft.migrate();
      const machine = new SqlKvMachine(state.storage, raft, { sessionLimits: { maxSessions: 100, window: 6 } });
      // 30 sessions taking turns, as many clients at once do: by (session, serial) their rows would interleave.
      const requests = Array.from({ length: 600 }, (_, i) => ({ clientId: `c${(i * 7) % 30}`, serial: 1 + Math.floor(i / 30) }));
      const entries = requests.map((session, i) => entryOf(i + 1, { cmd: { op: 'set', key: `k${i % 50}`, value: 'v' }, session }));
      feed(machine, entries, 2);
      const stored = sql
        .exec<{ client_id: string; serial: number }>('SELECT client_id, serial FROM kv_session_saved ORDER BY rowid')
        .toArray()
        .map((r) => `${r.client_id}/${r.serial}`);
      // Each session's newest 6, in the order they were applied; the older ones were deleted.
      expect(stored).toEqual(requests.slice(600 - 30 * 6).map((r) => `${r.clientId}/${r.serial}`));
    });
  });

  it('imports the serialized snapshot a node stored before its state moved into tables', async () => {
    await runInDurableObject(nodeNamed('kv-legacy'), (_obj: RaftNodeObject, state) => {
      const sql = state.storage.sql;
      // Back to a database from before the kv tables: the raft tables, a v3 snapshot at 7.
      for (const t of [
        'kv_schema',
        'kv_data',
        'kv_sessions',
        'kv_session_saved',
        'kv_meta',
        'kv_snap_data',
        'kv_snap_sessions',
        'kv_snap_saved',
      ])
        sql.exec(`DROP TABLE IF EXISTS ${t}`);
      const raft = new SqlRaftStorage(state.storage);
      raft.migrate();
      const digest = 'A'.repeat(21) + 'A';
      const v3 = JSON.stringify({
        version: 3,
        data: [
          ['b', '2'],
          ['a', '1'],
        ],
        sessions: [{ clientId: 'c', highest: 2, lastIndex: 6, saved: [[2, digest, { ok: true, op: 'set' }]] }],
      });
      raft.saveSnapshot({ index: 7, term: 1, data: v3 });
      const machine = new SqlKvMachine(state.storage, raft);
      expect(machine.appliedIndex).toBe(7);
      expect(machine.query('a')).toBe('1');
      expect(machine.kv.snapshot()).toBe(
        `{"version":4,"keys":2,"sessions":1}\n["a","1"]\n["b","2"]\n["c",2,6,[[2,"${digest}",{"ok":true,"op":"set"}]]]\n`,
      );
      expect(raft.loadSnapshot()).toBeNull();
      expect(raft.load(machine.appliedIndex).applied).toBe(7);
    });
  });
});
