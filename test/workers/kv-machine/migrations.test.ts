/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The SQLite key-value machine opening databases that older versions wrote.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage } from '../../../worker/adapters/sql-storage';
import { SqlKvMachine } from '../../../worker/node/kv-machine';
import type { RaftNodeObject } from '../../../worker/node/node-object';
import { KvStateMachine } from '../../../worker/kv/store';
import { entryOf, feed, limits, open, readAll, savedToSlots, workload } from './fixture';
import { nodeNamed } from '../nodes';

describe('SqlKvMachine', () => {
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
