/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The Durable Object node inside workerd: alarm multiplexing, and a
// single-node cluster serving writes and reads through the RPC methods,
// restarting from storage (also with a log far longer than the payload
// window). SQL storage on its own is in sql-storage.test.ts. The project's
// timeouts are long (see vitest.config.ts), so alarms fire only when a test
// forces them.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SqlRaftStorage } from '../../worker/adapters/sql-storage';
import { inspectNode, type RaftNodeObject } from '../../worker/node/node-object';
import { defaultConfig } from '../../worker/raft/config';
import type { Entry } from '../../worker/raft/types';
import { decodeRequest, encodeCommand, encodeRequest } from '../../worker/kv/commands';
import { fingerprint } from '../../worker/kv/sessions';
import { applyFlushEntries } from '../../worker/host/applied-effects';
import { electAlone, nodeFromLongLog, nodeNamed, set } from './nodes';

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
