/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The SQLite key-value machine's snapshots: they stay at their index while
// entries are applied, free their copy when closed, hold no cursor open, and
// installs are all or nothing.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage } from '../../../worker/adapters/sql-storage';
import { SqlKvMachine, SqlSnapshotReader } from '../../../worker/node/kv-machine';
import type { RaftNodeObject } from '../../../worker/node/node-object';
import { KvStateMachine } from '../../../worker/kv/store';
import { entryOf, feed, limits, open, readAll, workload } from './fixture';
import { nodeNamed } from '../nodes';

describe('SqlKvMachine', () => {
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
});
