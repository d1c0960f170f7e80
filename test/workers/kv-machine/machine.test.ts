/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The Durable Object's key-value machine in SQLite (node/kv-machine.ts)
// against the in-memory one the simulator uses: same results, same snapshot
// bytes, state that survives a restart without replay, and how it writes.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage } from '../../../worker/adapters/sql-storage';
import { SqlKvMachine } from '../../../worker/node/kv-machine';
import { migrateKv, SqlKvData } from '../../../worker/node/sql-kv';
import type { RaftNodeObject } from '../../../worker/node/node-object';
import { KvStateMachine } from '../../../worker/kv/store';
import { entryOf, feed, limits, open, readAll, workload } from './fixture';
import { nodeNamed } from '../nodes';

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

  it('answers many reads at once as it answers each: flushed, unflushed and missing keys, repeats, several statements', async () => {
    await runInDurableObject(nodeNamed('kv-query-many'), (_obj: RaftNodeObject, state) => {
      const { machine } = open(state);
      const sets = Array.from({ length: 150 }, (_, i) => entryOf(i + 1, { cmd: { op: 'set', key: `k${i}`, value: `v${i}` } }));
      feed(machine, sets, 3);
      // Applied but not flushed yet: a new value, a delete, a new key.
      machine.apply(entryOf(151, { cmd: { op: 'set', key: 'k1', value: 'new' } }));
      machine.apply(entryOf(152, { cmd: { op: 'delete', key: 'k2' } }));
      machine.apply(entryOf(153, { cmd: { op: 'set', key: 'fresh', value: 'f' } }));
      expect(machine.queryMany(['k1', 'k2', 'fresh', 'missing', 'k3', 'k1'])).toEqual(['new', null, 'f', null, 'v3', 'new']);
      for (const n of [1, 2, 3, 5, 17, 64, 65, 100, 101, 150, 230]) {
        const keys = Array.from({ length: n }, (_, i) => (i % 11 === 10 ? 'missing' : `k${(i * 7) % 150}`));
        expect(machine.queryMany(keys)).toEqual(keys.map((k) => machine.query(k)));
      }
      machine.flushApplied();
      const keys = ['k1', 'k2', 'fresh', 'k149', 'k0'];
      expect(machine.queryMany(keys)).toEqual(['new', null, 'f', 'v149', 'v0']);
    });
  });

  it('keeps what reads found in a bounded cache that flushes and replacements keep true to the table', async () => {
    await runInDurableObject(nodeNamed('kv-read-cache'), (_obj: RaftNodeObject, state) => {
      migrateKv(state.storage);
      const sql = state.storage.sql;
      let selects = 0;
      const counted = {
        exec: (query: string, ...bindings: unknown[]) => {
          if (query.startsWith('SELECT')) selects++;
          return sql.exec(query, ...bindings);
        },
      } as unknown as SqlStorage;
      const data = new SqlKvData(counted, { entries: 4, chars: 256 });
      for (const k of ['a', 'b', 'c']) data.set(k, `${k}1`);
      data.flush();
      expect(data.getMany(['a', 'b', 'missing'])).toEqual(['a1', 'b1', null]);
      selects = 0;
      expect([data.get('a'), data.get('missing'), ...data.getMany(['b', 'a'])]).toEqual(['a1', null, 'b1', 'a1']);
      expect(selects).toBe(0); // all from the cache, the absent key too
      // A flush updates what the cache holds; a key it does not hold stays out.
      data.set('a', 'a2');
      data.delete('b');
      data.set('c', 'c2');
      expect(data.getMany(['a', 'b'])).toEqual(['a2', null]); // unflushed writes come first
      data.flush();
      selects = 0;
      expect(data.getMany(['a', 'b', 'missing'])).toEqual(['a2', null, null]);
      expect(selects).toBe(0);
      expect(data.get('c')).toBe('c2');
      // Bounded: at most 4 keys, and a value of a sixteenth of the characters or more is never kept.
      for (const k of ['d', 'e', 'f', 'g']) data.set(k, k);
      data.set('big', 'x'.repeat(20));
      data.flush();
      expect(data.getMany(['d', 'e', 'f', 'g', 'big', 'a'])).toEqual(['d', 'e', 'f', 'g', 'x'.repeat(20), 'a2']);
      expect(data.cachedKeys).toBe(4);
      selects = 0;
      expect(data.get('big')).toBe('x'.repeat(20));
      expect(selects).toBe(1);
      // Something else rewrote the table (a snapshot installed): discard forgets what reads found.
      sql.exec("UPDATE kv_data SET value = 'z' WHERE key = 'a'");
      data.discard();
      expect(data.cachedKeys).toBe(0);
      expect(data.get('a')).toBe('z');
      data.replace([['only', '1']]);
      expect(data.getMany(['only', 'a', 'z'])).toEqual(['1', null, null]);
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
});
