/// <reference types="@cloudflare/vitest-pool-workers/types" />
// SQL storage of the Raft log and hard state (worker/adapters/sql-storage.ts)
// inside a Durable Object: round trips, batched inserts, ranges, the lazy
// commit index, compaction and snapshots.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage, commitWriteLag, rowsPerInsert, snapshotPartChars } from '../../worker/adapters/sql-storage';
import { type RaftNodeObject } from '../../worker/node/node-object';
import type { Entry } from '../../worker/raft/types';
import { nodeNamed } from './nodes';

const entry = (index: number, term: number, data = `cmd-${index}-${term}`): Entry => ({ index, term, kind: 'command', data });

describe('SqlRaftStorage', () => {
  it('round-trips hard state and entries, and replaces a conflicting suffix (§5.3)', async () => {
    await runInDurableObject(nodeNamed('storage-round-trip'), (_obj: RaftNodeObject, state) => {
      const a = new SqlRaftStorage(state.storage);
      a.migrate();
      a.migrate(); // idempotent
      expect(a.load()).toEqual({
        hardState: { term: 0, vote: null, commit: 0 },
        compacted: { index: 0, term: 0 },
        applied: 0,
        configEntries: [],
        terms: [],
        tail: [],
      });
      a.save({ term: 2, vote: 'n1', commit: 1 }, [entry(1, 1), entry(2, 1), entry(3, 2)]);
      a.save({ term: 3, vote: null, commit: 2 }, [entry(2, 3, 'new-2')]);
      a.save(null, [entry(3, 3, 'new-3')]);

      // A second adapter on the same database sees exactly what was stored:
      // every term, and in full only the entries after the commit index.
      const b = new SqlRaftStorage(state.storage);
      b.migrate();
      expect(b.load()).toEqual({
        hardState: { term: 3, vote: null, commit: 2 },
        compacted: { index: 0, term: 0 },
        applied: 0,
        configEntries: [],
        terms: [1, 3, 3],
        tail: [entry(3, 3, 'new-3')],
      });
      expect(b.loadEntries(1, 3, Infinity)).toEqual([entry(1, 1), entry(2, 3, 'new-2'), entry(3, 3, 'new-3')]);
    });
  });

  it(`stores batches of more than ${rowsPerInsert} entries in several statements, all or nothing`, async () => {
    await runInDurableObject(nodeNamed('storage-big-batches'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      const count = 2 * rowsPerInsert + 3;
      const log = Array.from({ length: count }, (_, i) => entry(i + 1, 1, `v${i + 1}`));
      s.save({ term: 1, vote: null, commit: 0 }, log);
      // A follower's conflicting suffix replaced by a batch of its own spanning two statements.
      const from = rowsPerInsert;
      const replaced = Array.from({ length: rowsPerInsert + 1 }, (_, i) => entry(from + i, 2, `w${from + i}`));
      s.save({ term: 2, vote: null, commit: 0 }, replaced);
      const expected = [...log.slice(0, from - 1), ...replaced];
      expect(s.loadEntries(1, expected.length, Infinity)).toEqual(expected);
      // A row the second statement cannot store undoes the first statement too.
      const bad = Array.from({ length: rowsPerInsert + 2 }, (_, i) => entry(expected.length + 1 + i, 2));
      bad[rowsPerInsert + 1] = { ...bad[rowsPerInsert + 1]!, data: null as unknown as string };
      expect(() => s.save(null, bad)).toThrow(/NOT NULL/);
      const fresh = new SqlRaftStorage(state.storage);
      fresh.migrate();
      expect(fresh.load().terms).toHaveLength(expected.length);
    });
  });

  it('loadEntries reads a range, stops after the entry that passes the byte limit, and throws on a gap', async () => {
    await runInDurableObject(nodeNamed('storage-load-entries'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      const log = Array.from({ length: 6 }, (_, i) => entry(i + 1, 1, 'x'.repeat(10)));
      s.save({ term: 1, vote: null, commit: 6 }, log);
      expect(s.loadEntries(2, 4, Infinity)).toEqual(log.slice(1, 4));
      expect(s.loadEntries(2, 6, 15)).toEqual(log.slice(1, 3)); // 20 bytes: the second passes 15
      expect(s.loadEntries(2, 6, 0)).toEqual(log.slice(1, 2)); // always one
      expect(s.load()).toMatchObject({ terms: [1, 1, 1, 1, 1, 1], tail: [] });
      expect(() => s.loadEntries(5, 8, Infinity)).toThrow(/lacks entries 7..8/);
      state.storage.sql.exec('DELETE FROM raft_log WHERE idx = 3');
      expect(() => s.loadEntries(2, 4, Infinity)).toThrow(/expected index 3, found 4/);
    });
  });

  it('writes the commit index lazily: with a new term or vote, or with entries once it lags commitWriteLag', async () => {
    await runInDurableObject(nodeNamed('storage-commit'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      const stored = () => new SqlRaftStorage(state.storage).load().hardState;
      s.save({ term: 1, vote: 'n1', commit: 0 }, [entry(1, 1)]);
      s.save({ term: 1, vote: 'n1', commit: 1 }, []);
      expect(stored()).toEqual({ term: 1, vote: 'n1', commit: 0 });
      s.save(null, [entry(2, 1)]); // entries, but the commit lags by 1 only
      expect(stored()).toEqual({ term: 1, vote: 'n1', commit: 0 });
      s.save({ term: 2, vote: null, commit: 2 }, []); // a new term is written at once, with the commit
      expect(stored()).toEqual({ term: 2, vote: null, commit: 2 });
      const more = Array.from({ length: commitWriteLag }, (_, i) => entry(3 + i, 2));
      s.save(null, more);
      s.save({ term: 2, vote: null, commit: 2 + commitWriteLag }, []);
      expect(stored()).toEqual({ term: 2, vote: null, commit: 2 });
      s.save(null, [entry(3 + commitWriteLag, 2)]); // lagging commitWriteLag: rides along
      expect(stored()).toEqual({ term: 2, vote: null, commit: 2 + commitWriteLag });
    });
  });

  it('refuses to store a log with a hole, and stores nothing of that call', async () => {
    await runInDurableObject(nodeNamed('storage-holes'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      s.save({ term: 1, vote: null, commit: 0 }, [entry(1, 1)]);
      expect(() => s.save({ term: 9, vote: null, commit: 0 }, [entry(3, 1)])).toThrow(/stored log ends at 1/);
      expect(() => s.save(null, [entry(2, 1), entry(4, 1)])).toThrow(/not contiguous/);
      expect(s.load()).toEqual({
        hardState: { term: 1, vote: null, commit: 0 },
        compacted: { index: 0, term: 0 },
        applied: 0,
        configEntries: [],
        terms: [1],
        tail: [entry(1, 1)],
      });
      // A hole made behind the adapter's back is caught on load.
      state.storage.sql.exec("INSERT INTO raft_log (idx, term, kind, data) VALUES (5, 1, 'noop', '')");
      expect(() => s.load()).toThrow(/expected index 2, found 5/);
    });
  });
});

describe('SqlRaftStorage: compaction and snapshots (§7)', () => {
  const three = { voters: ['n1', 'n2', 'n3'].map((id, i) => ({ id, url: `http://127.0.0.1:${8787 + i}` })), learners: [] };
  it('compacts the log, keeps the snapshot in parts, and loads from where the log starts', async () => {
    await runInDurableObject(nodeNamed('storage-compaction'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      s.save(
        { term: 2, vote: 'n1', commit: 4 },
        Array.from({ length: 6 }, (_, i) => entry(i + 1, i < 3 ? 1 : 2, `v${i + 1}`)),
      );
      const data = 'x'.repeat(snapshotPartChars * 2 + 5); // three stored parts
      s.saveSnapshot({ index: 5, term: 2, data });
      s.compact({ index: 4, term: 2 }, three);
      expect(() => s.save(null, [entry(4, 2)])).toThrow(/entries start at 4/); // behind the compaction point
      const b = new SqlRaftStorage(state.storage);
      b.migrate();
      const loaded = b.load();
      expect(loaded.compacted).toEqual({ index: 4, term: 2 });
      expect(loaded.membership).toEqual(three);
      expect(loaded.applied).toBe(5);
      expect(loaded.terms).toEqual([2, 2]); // entries 5 and 6
      expect(loaded.tail.map((e) => e.index)).toEqual([6]); // after the snapshot and the commit
      expect(b.loadSnapshot()).toEqual({ index: 5, term: 2, data });
      expect(() => b.loadEntries(3, 6, Infinity)).toThrow();
    });
  });

  it('an installed snapshot keeps the log after it only when asked, and the staging is taken whole', async () => {
    await runInDurableObject(nodeNamed('storage-install'), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      s.save({ term: 1, vote: null, commit: 0 }, [entry(1, 1), entry(2, 1), entry(3, 1)]);
      s.stageSnapshot(0, 'ab');
      s.stageSnapshot(1, 'cd');
      s.stageSnapshot(0, 'new-'); // chunk 0 starts over
      s.stageSnapshot(1, 'state');
      expect(s.takeStaged()).toBe('new-state');
      expect(s.takeStaged()).toBe('');
      // The state machine stores the snapshot in the same event (node/kv-machine.ts).
      s.saveSnapshot({ index: 2, term: 1, data: 'at-2' });
      s.installSnapshot({ index: 2, term: 1 }, true, three);
      expect(s.load().terms).toEqual([1]);
      s.saveSnapshot({ index: 9, term: 4, data: 'at-9' });
      s.installSnapshot({ index: 9, term: 4 }, false, three);
      const loaded = s.load();
      expect(loaded.compacted).toEqual({ index: 9, term: 4 });
      expect(loaded.terms).toEqual([]);
      s.save(null, [entry(10, 4)]);
      expect(s.load().terms).toEqual([4]);
    });
  });
});
