/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The Durable Object node inside workerd: SQL storage round trip, restart from
// storage (also with a log far longer than the payload window), alarm
// multiplexing, and a single-node cluster serving writes and reads through
// the RPC methods. The project's timeouts are long (see
// vitest.config.ts), so alarms fire only when a test forces them.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage, commitWriteLag, rowsPerInsert, snapshotPartChars } from '../../worker/adapters/sql-storage';
import { inspectNode, type RaftNodeObject } from '../../worker/node/node-object';
import { defaultConfig } from '../../worker/raft/config';
import type { Entry } from '../../worker/raft/types';
import { decodeRequest, encodeCommand, encodeRequest } from '../../worker/kv/commands';
import { fingerprint } from '../../worker/kv/sessions';
import { applyFlushEntries } from '../../worker/host/node-host';
import { electAlone, nodeFromLongLog, nodeNamed, set } from './nodes';

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

describe('alarm multiplexing', () => {
  it('arms the earliest deadline, skips needless setAlarm writes, and fires all that are due', async () => {
    const stub = nodeNamed('alarms');
    const fired: string[] = [];
    const before = await runInDurableObject(stub, async (obj: RaftNodeObject, state) => {
      const { timers, now } = obj[inspectNode]();
      const tick = timers.armedAt;
      // Only the core's election deadline so far: [now + t, now + 2t) with t = 10 s (§5.2).
      expect(tick).not.toBeNull();
      expect(tick! - now).toBeGreaterThanOrEqual(10_000);
      expect(tick! - now).toBeLessThan(20_000);
      expect(await state.storage.getAlarm()).toBe(tick);
      const writes = timers.armWrites;

      timers.set('later', now + 60_000, () => fired.push('later'));
      expect(timers.armWrites).toBe(writes); // later than the armed alarm: no write
      timers.set('soon', now + 5_000, () => fired.push('soon'));
      timers.set('soon-too', now + 5_000, () => fired.push('soon-too'));
      timers.set('cancelled', now + 4_000, () => fired.push('cancelled'));
      timers.clear('cancelled');
      expect(timers.armWrites).toBe(writes + 2); // 'soon' and 'cancelled' each moved it earlier
      expect(await state.storage.getAlarm()).toBe(now + 4_000);
      return { now, tick: tick! };
    });

    // The alarm armed for the cleared timer fires early, finds nothing, and re-arms.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(fired).toEqual([]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(fired).toEqual(['soon', 'soon-too']);
    await runInDurableObject(stub, async (obj: RaftNodeObject, state) => {
      expect(obj[inspectNode]().timers.armedAt).toBe(before.tick);
      expect(await state.storage.getAlarm()).toBe(before.tick);
    });

    // The next alarm is the core's: the lone node starts campaigning; 'later' stays pending.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.status()).role).not.toBe('follower');
    expect(fired).toEqual(['soon', 'soon-too']);
    await runInDurableObject(stub, (obj: RaftNodeObject) => {
      expect(obj[inspectNode]().timers.has('later')).toBe(true);
    });
  });
});

describe('single-node cluster through the RPC methods', () => {
  it('refuses clients until elected, then serves writes and linearizable reads', async () => {
    const stub = nodeNamed('single');
    const s0 = await stub.status();
    expect(s0).toMatchObject({ id: 'n1', role: 'follower', term: 0, leader: null, lastLogIndex: 0 });
    expect(await stub.write(set('a', '1'))).toEqual({ type: 'notLeader', leader: null });
    expect(await stub.read('a')).toEqual({ type: 'notLeader', leader: null });

    await electAlone(stub);
    const s1 = await stub.status();
    expect(s1.term).toBeGreaterThanOrEqual(1);
    expect(s1.leader).toEqual({ id: 'n1', url: 'http://127.0.0.1:8787' });

    expect(await stub.read('a')).toEqual({ type: 'ok', value: null });
    expect(await stub.write(set('a', '1'))).toEqual({ type: 'ok', result: { ok: true, op: 'set' } });
    expect(await stub.read('a')).toEqual({ type: 'ok', value: '1' });
    expect(await stub.write({ cmd: { op: 'cas', key: 'a', expected: '0', value: '2' } })).toEqual({
      type: 'ok',
      result: { ok: true, op: 'cas', swapped: false, current: '1' },
    });
    expect(await stub.write({ cmd: { op: 'delete', key: 'a' } })).toEqual({
      type: 'ok',
      result: { ok: true, op: 'delete', existed: true },
    });
    expect(await stub.read('a')).toEqual({ type: 'ok', value: null });

    // Concurrent writes all settle, each with its own result.
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => stub.write(set(`k${i}`, `v${i}`))));
    expect(many.every((o) => o.type === 'ok')).toBe(true);
    expect(await stub.read('k19')).toEqual({ type: 'ok', value: 'v19' });

    const s2 = await stub.status();
    expect(s2.commitIndex).toBe(s2.lastLogIndex);
    expect(s2.appliedIndex).toBe(s2.lastLogIndex);
    await runInDurableObject(stub, (obj: RaftNodeObject) => {
      expect(obj[inspectNode]().pendingRequests).toBe(0);
    });
  });

  it('writeBatch and readBatch answer each request of a batch in order, as separate writes and reads would', async () => {
    const stub = nodeNamed('batches');
    expect(await stub.writeBatch([set('a', '1'), set('b', '2')])).toEqual([
      { type: 'notLeader', leader: null },
      { type: 'notLeader', leader: null },
    ]);
    await electAlone(stub);
    const before = (await stub.status()).lastLogIndex;
    const session = { clientId: 'batcher', serial: 1 };
    expect(
      await stub.writeBatch([
        set('a', '1', session),
        { cmd: { op: 'cas', key: 'a', expected: '1', value: '2' } },
        set('a', '1', session), // a retry inside the same batch: the first result, applied once
        { cmd: { op: 'delete', key: 'missing' } },
      ]),
    ).toEqual([
      { type: 'ok', result: { ok: true, op: 'set' } },
      { type: 'ok', result: { ok: true, op: 'cas', swapped: true, current: '2' } },
      { type: 'ok', result: { ok: true, op: 'set' } },
      { type: 'ok', result: { ok: true, op: 'delete', existed: false } },
    ]);
    expect((await stub.status()).lastLogIndex).toBe(before + 4);
    expect(await stub.readBatch(['a', 'missing', 'a'])).toEqual([
      { type: 'ok', value: '2' },
      { type: 'ok', value: null },
      { type: 'ok', value: '2' },
    ]);
    expect(await stub.writeBatch([])).toEqual([]);
    expect(await stub.readBatch([])).toEqual([]);
  });

  it('a retried write with the same session returns the first result (thesis §6.3)', async () => {
    const stub = nodeNamed('sessions');
    await electAlone(stub);
    const session = { clientId: 'c1', serial: 1 };
    expect(await stub.write(set('x', 'first', session))).toEqual({ type: 'ok', result: { ok: true, op: 'set' } });
    expect(await stub.write(set('y', 'other'))).toMatchObject({ type: 'ok' });
    expect(await stub.write(set('x', 'first', session))).toEqual({ type: 'ok', result: { ok: true, op: 'set' } });
    expect(await stub.write(set('x', 'changed', session))).toMatchObject({ type: 'ok', result: { ok: false, error: 'serial_reused' } });
    expect(await stub.read('x')).toEqual({ type: 'ok', value: 'first' });
    // The node put the command's fingerprint in each entry with a session, so replicas apply it without hashing.
    const logged = await runInDurableObject(stub, (_obj: RaftNodeObject, state) =>
      state.storage.sql.exec<{ data: string }>("SELECT data FROM raft_log WHERE kind = 'command' ORDER BY idx").toArray(),
    );
    const requests = logged.map((r) => decodeRequest(r.data));
    expect(requests.filter((r) => 'session' in r && r.session !== undefined)).toHaveLength(3);
    for (const r of requests) {
      if (!('cmd' in r)) continue;
      expect('digest' in r ? r.digest : undefined).toBe(r.session === undefined ? undefined : fingerprint(encodeCommand(r.cmd)));
    }
  });

  it('writes applied effects with a later log write; one acknowledged before that survives a restart from the log', async () => {
    const name = 'apply-later';
    const stub = nodeNamed(name);
    await electAlone(stub);
    expect(await stub.write(set('first', '1'))).toMatchObject({ type: 'ok' });
    const stored = () =>
      runInDurableObject(nodeNamed(name), (_obj: RaftNodeObject, state) => ({
        applied: state.storage.sql.exec<{ applied: number }>('SELECT applied FROM kv_meta').one().applied,
        first: state.storage.sql.exec<{ value: string }>("SELECT value FROM kv_data WHERE key = 'first'").toArray()[0]?.value,
        lastLog: state.storage.sql.exec<{ idx: number }>('SELECT max(idx) AS idx FROM raft_log').one().idx,
      }));
    const afterFirst = await stored();
    // The entry is in the log; its effect is not in the tables yet.
    expect(afterFirst.first).toBeUndefined();
    expect(afterFirst.applied).toBeLessThan(afterFirst.lastLog);
    expect(await stub.read('first')).toEqual({ type: 'ok', value: '1' }); // served from memory meanwhile

    // Once applyFlushEntries entries wait (or they are applyFlushMs old, which this test's alarm-driven clock
    // does not reach), the next log write carries them.
    const filler = Array.from({ length: applyFlushEntries }, (_, i) => set(`filler-${i}`, 'x'));
    expect((await stub.writeBatch(filler)).every((o) => o.type === 'ok')).toBe(true);
    const afterFiller = await stored();
    expect(afterFiller.first).toBeUndefined();
    expect(await stub.write(set('second', '2'))).toMatchObject({ type: 'ok' });
    const afterSecond = await stored();
    expect(afterSecond.first).toBe('1');
    expect(afterSecond.applied).toBe(afterFiller.lastLog);
    expect(afterSecond.lastLog).toBe(afterFiller.lastLog + 1);

    // A crash now: `second` is acknowledged but only in the log. The restart applies it again.
    await abortAllDurableObjects();
    const again = nodeNamed(name);
    await electAlone(again);
    expect(await again.read('second')).toEqual({ type: 'ok', value: '2' });
    expect(await again.read('first')).toEqual({ type: 'ok', value: '1' });
  });

  it('comes back from storage after a restart with its term, log and data', async () => {
    const name = 'restart';
    await electAlone(nodeNamed(name));
    await nodeNamed(name).write(set('kept', 'yes'));
    const before = await nodeNamed(name).status();

    await abortAllDurableObjects(); // drops every instance; storage stays
    const stub = nodeNamed(name);
    const after = await stub.status();
    expect(after).toMatchObject({
      role: 'follower',
      term: before.term,
      lastLogIndex: before.lastLogIndex,
      lastLogTerm: before.lastLogTerm,
    });
    // Replayed into a fresh state machine up to the stored commit index, which
    // may lag (it is written lazily); the rest is relearned from a leader.
    expect(after.commitIndex).toBeLessThanOrEqual(before.commitIndex);
    expect(after.appliedIndex).toBe(after.commitIndex);
    // The alarm survived the restart, so the node campaigns again on its own.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await electAlone(stub);
    expect((await stub.status()).term).toBeGreaterThan(before.term);
    expect(await stub.read('kept')).toEqual({ type: 'ok', value: 'yes' });
  });

  it('§7: compacts a long log, and a restart resumes from the stored applied index, not from index 1', async () => {
    const name = 'compaction';
    const count = 3000; // SNAPSHOT_EVERY 500, LOG_RETAIN 2048 in vitest.config.ts
    const stub = await nodeFromLongLog(name, count);
    const status = await stub.status();
    expect(status.snapshotIndex).toBeGreaterThanOrEqual(count - 2048);
    expect(status.firstLogIndex).toBe(status.snapshotIndex + 1);
    const rows = await runInDurableObject(stub, (_obj: RaftNodeObject, state) => ({
      log: state.storage.sql.exec<{ n: number; lo: number }>('SELECT count(*) AS n, min(idx) AS lo FROM raft_log').one(),
      applied: state.storage.sql.exec<{ applied: number }>('SELECT applied FROM kv_meta').one().applied,
      keys: state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM kv_data').one().n,
    }));
    expect(rows.log.lo).toBe(status.firstLogIndex);
    expect(rows.log.n).toBe(status.lastLogIndex - status.snapshotIndex);
    // The state is in SQL as of the applied index: nothing to replay at restart.
    expect(rows.applied).toBe(status.appliedIndex);
    expect(rows.keys).toBe(8);

    await abortAllDurableObjects();
    const again = nodeNamed(name);
    const restarted = await again.status();
    expect(restarted.firstLogIndex).toBe(status.firstLogIndex);
    expect(restarted.appliedIndex).toBe(rows.applied);
    await electAlone(again);
    expect(await again.read('k6')).toEqual({ type: 'ok', value: `v${count - ((count - 7) % 7)}` });
    expect(await again.read('after')).toEqual({ type: 'ok', value: 'compaction' });
  });

  it('restarts with a stored log far longer than the payload window: replays all of it, holds a bounded window', async () => {
    const name = 'long-log';
    const window = defaultConfig.payloadWindowEntries;
    const count = 5 * window;
    const keys = 50;
    const value = (i: number) => `${i}:`.padEnd(150, 'v');
    // Write the log behind the node's back, then drop the instance: it starts again from this storage.
    await runInDurableObject(nodeNamed(name), (_obj: RaftNodeObject, state) => {
      const s = new SqlRaftStorage(state.storage);
      s.migrate();
      const log = Array.from({ length: count }, (_, i): Entry => {
        return { index: i + 1, term: 1, kind: 'command', data: encodeRequest(set(`k${i % keys}`, value(i))) };
      });
      s.save({ term: 1, vote: 'n1', commit: count }, log);
    });
    await abortAllDurableObjects();

    const stub = nodeNamed(name);
    // Handed out in batches of maxCommittedEntriesPerReady, all before the first request is served.
    expect(await stub.status()).toMatchObject({ role: 'follower', term: 1, lastLogIndex: count, commitIndex: count, appliedIndex: count });
    await runInDurableObject(stub, (obj: RaftNodeObject) => {
      expect(obj[inspectNode]().appliedIndex).toBe(count);
      expect(obj[inspectNode]().payloadsHeld).toBe(0); // all of it applied, and none read into memory to stay
    });
    await electAlone(stub);
    for (const k of [0, 1, keys - 1]) {
      const last = count - 1 - ((count - 1 - k) % keys); // the last write of key k
      expect(await stub.read(`k${k}`)).toEqual({ type: 'ok', value: value(last) });
    }

    // New writes fill the window and no more.
    for (let round = 0; round < 12; round++) {
      const batch = Array.from({ length: 100 }, (_, i) => stub.write(set(`n${i}`, `${round}`)));
      expect((await Promise.all(batch)).every((o) => o.type === 'ok')).toBe(true);
    }
    expect(await stub.read('n99')).toEqual({ type: 'ok', value: '11' });
    await runInDurableObject(stub, (obj: RaftNodeObject) => {
      const { payloadsHeld, appliedIndex } = obj[inspectNode]();
      expect(appliedIndex).toBeGreaterThan(count + 1200);
      expect(payloadsHeld).toBeLessThanOrEqual(window);
      expect(payloadsHeld).toBeGreaterThan(window / 2);
    });
  });
});
