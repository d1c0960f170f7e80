// The HTTP API of a real 5-node in-process cluster (one Miniflare/workerd per
// node), as a client on the network sees it: election, 307s from followers (by
// hand and followed by fetch), reads through every node, set/get/delete/cas,
// the seed routes, exactly-once over HTTP, an old leader frozen while the
// others move on, and losing two of five nodes (every write acknowledged by
// the tests before it must survive). Bad input and peer authentication are in
// cluster-refusals.test.ts.
// Ports 19700-19704. Every wait is a bounded poll; no timing is asserted.
import { describe, expect, it } from 'vitest';
import { eventually, http, identity, newSession, put, read, runId, settle, sleep, type Answer, type Send } from './cluster-http';
import { fiveNodeCluster } from './five-nodes';

describe('5-node in-process cluster', () => {
  const five = fiveNodeCluster(19_700);
  const { status, leader, followerOf } = five;
  /** Every write acknowledged so far: key → value (null: deleted). */
  const acked = new Map<string, string | null>();

  it('elects a leader; a follower answers 307 to it; the write lands and reads back through every node', async () => {
    const l = await leader();
    expect(five.cluster.members.map((m) => m.url)).toEqual([
      'http://127.0.0.1:19700',
      'http://127.0.0.1:19701',
      'http://127.0.0.1:19702',
      'http://127.0.0.1:19703',
      'http://127.0.0.1:19704',
    ]);
    const path = '/kv/via%20follower?x=1&y=two';
    const headers = await identity(five.urls);
    // The leader may change under load between asking and sending: try a few times.
    let redirect: Answer | undefined;
    let expectedLeader = l;
    for (let i = 0; i < 5 && redirect === undefined; i++) {
      expectedLeader = await leader();
      const a = await http(`${followerOf(expectedLeader).url}${path}`, { method: 'PUT', body: 'v-follower', headers });
      if (a.status === 307 && a.json?.leader === expectedLeader.url) redirect = a;
      else await sleep(200);
    }
    expect(redirect, 'a follower answered 307 naming the agreed leader').toBeDefined();
    expect(redirect!.json).toEqual({ error: 'not_leader', leader: expectedLeader.url });
    expect(redirect!.headers.get('Location')).toBe(`${expectedLeader.url}${path}`);
    expect(redirect!.headers.get('Content-Type')).toMatch(/^application\/json/);

    // Follow it by hand: the same request, with the same identity, to the Location.
    let done = await http(redirect!.headers.get('Location')!, { method: 'PUT', body: 'v-follower', headers });
    if (done.status !== 200) done = await settle(five.urls, path, { method: 'PUT', body: 'v-follower', headers });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ ok: true });
    acked.set('via follower', 'v-follower');

    for (const m of five.cluster.members) {
      const a = await settle([m.url], '/kv/via%20follower');
      expect(a.status, `read through ${m.id}`).toBe(200);
      expect(a.json).toEqual({ key: 'via follower', value: 'v-follower' });
    }
    // GET from a follower without following: a 307 too (reads are served by the leader only).
    const l2 = await leader();
    const r = await http(`${followerOf(l2, 1).url}/kv/via%20follower`);
    expect([200, 307]).toContain(r.status); // 200 only if it became the leader meanwhile
    if (r.status === 307) expect(r.headers.get('Location')).toBe(`${r.json.leader}/kv/via%20follower`);
  });

  it("set/get/delete/cas through every node, with fetch's own redirect following", async () => {
    // fetch (undici) re-sends the method and a string body on a 307; check that it does,
    // then use it for the whole round trip, once starting from each node.
    for (const [i, m] of five.cluster.members.entries()) {
      const key = `any-${i}`;
      const follow = async (path: string, init: Send): Promise<Answer> => {
        // A 503/504/500 can happen during an election on a loaded machine: retry (writes carry an identity).
        const a = await eventually(
          () => http(`${m.url}${path}`, { ...init, redirect: 'follow' }),
          (x) => ![500, 503, 504].includes(x.status),
          20_000,
        );
        if (a === undefined) throw new Error(`${m.id}: no answer for ${path}`);
        return a;
      };
      const set = await follow(`/kv/${key}`, { method: 'PUT', body: `v${i}`, headers: await identity(five.urls) });
      expect(set.status, `PUT via ${m.id}`).toBe(200);
      expect(set.json).toEqual({ ok: true });
      expect((await follow(`/kv/${key}`, {})).json).toEqual({ key, value: `v${i}` });

      const casHeaders = { ...(await identity(five.urls)), 'Content-Type': 'application/json' };
      const swapped = await follow(`/kv/${key}/cas`, {
        method: 'POST',
        body: JSON.stringify({ expected: `v${i}`, value: `w${i}` }),
        headers: casHeaders,
      });
      expect(swapped.status, `cas via ${m.id}`).toBe(200);
      expect(swapped.json).toEqual({ ok: true });
      const mismatch = await follow(`/kv/${key}/cas`, {
        method: 'POST',
        body: JSON.stringify({ expected: 'nope', value: 'x' }),
        headers: { ...(await identity(five.urls)), 'Content-Type': 'application/json' },
      });
      expect(mismatch.status).toBe(409);
      expect(mismatch.json).toEqual({ error: 'cas_mismatch', current: `w${i}` });
      const fromAbsent = await follow(`/kv/${key}-new/cas`, {
        method: 'POST',
        body: JSON.stringify({ expected: null, value: 'born' }),
        headers: { ...(await identity(five.urls)), 'Content-Type': 'application/json' },
      });
      expect(fromAbsent.status).toBe(200);
      acked.set(`${key}-new`, 'born');
      expect((await follow(`/kv/${key}`, {})).json).toEqual({ key, value: `w${i}` });

      const del = await follow(`/kv/${key}`, { method: 'DELETE', headers: await identity(five.urls) });
      expect(del.status, `DELETE via ${m.id}`).toBe(200);
      expect(del.json).toEqual({ ok: true });
      const gone = await follow(`/kv/${key}`, {});
      expect(gone.status).toBe(404);
      expect(gone.json).toEqual({ error: 'not_found', key });
      // Deleting again still succeeds.
      expect((await follow(`/kv/${key}`, { method: 'DELETE', headers: await identity(five.urls) })).status).toBe(200);
      acked.set(key, null);
    }
  });

  it("serves the seed project's routes", async () => {
    const key = `seed-${runId}`;
    const clientId = 4242;
    let requestSerial = 0;
    const seedWrite = async (op: 'set' | 'delete', value?: string): Promise<Answer> => {
      const body = JSON.stringify({ clientId, ...(value === undefined ? {} : { value }), requestSerial: requestSerial++ });
      // The seed's routes never redirect: find the leader, and retry (same serial) if it moved.
      for (let i = 0; ; i++) {
        const l = await leader();
        const a = await http(`${l.url}/${op}/${key}`, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
        if ((a.status === 200 && a.text === 'ok') || i >= 10) return a;
        await sleep(200);
      }
    };

    const l = await leader();
    // A follower refuses in the seed's words, and does not redirect.
    const f = followerOf(l);
    const refused = await http(`${f.url}/set/${key}`, {
      method: 'POST',
      body: JSON.stringify({ clientId, value: 'nope', requestSerial: 999 }),
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(refused.status).toBe(400);
    expect(refused.text).toBe('This Raft node is not the leader');
    expect(refused.headers.get('Location')).toBeNull();

    const set = await seedWrite('set', 'seed value');
    expect(set.status).toBe(200);
    expect(set.text).toBe('ok');
    acked.set(key, 'seed value');

    const got = await eventually(
      async () => http(`${(await leader()).url}/get/${key}`),
      (a) => a.status === 200,
      15_000,
    );
    expect(got?.status).toBe(200);
    expect(got?.text).toBe('seed value'); // the raw value, not JSON
    expect(got?.headers.get('Content-Type')).toMatch(/^text\/plain/);
    // The same key through the JSON API.
    expect((await read(five.urls, key)).json).toEqual({ key, value: 'seed value' });

    const absent = await eventually(
      async () => http(`${(await leader()).url}/get/never-${key}`),
      (a) => a.status === 204,
      15_000,
    );
    expect(absent?.status).toBe(204);
    expect(absent?.text).toBe('');

    const del = await seedWrite('delete');
    expect(del.status).toBe(200);
    expect(del.text).toBe('ok');
    acked.set(key, null);
    const afterDelete = await eventually(
      async () => http(`${(await leader()).url}/get/${key}`),
      (a) => a.status === 204,
      15_000,
    );
    expect(afterDelete?.status).toBe(204);
  });

  it('applies a retried write once: the same identity returns the first result; a different command gets serial_reused', async () => {
    const key = `once-${runId}`;
    const clientId = await newSession(five.urls);
    const cas = (expected: string | null, value: string, s: number) =>
      settle(five.urls, `/kv/${key}/cas`, {
        method: 'POST',
        body: JSON.stringify({ expected, value }),
        headers: { 'Client-Id': clientId, 'Request-Serial': String(s), 'Content-Type': 'application/json' },
      });
    const value = async () => (await read(five.urls, key)).json;

    expect((await put(five.urls, key, 'v0')).status).toBe(200);
    const first = await cas('v0', 'v1', 1);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ ok: true });
    expect(await value()).toEqual({ key, value: 'v1' });

    // Put the old value back (another identity); a retry that were applied again would swap it to v1.
    expect((await put(five.urls, key, 'v0')).status).toBe(200);
    const retry = await cas('v0', 'v1', 1);
    expect(retry.status).toBe(200);
    expect(retry.json).toEqual({ ok: true });
    expect(await value()).toEqual({ key, value: 'v0' });

    // A mismatch is remembered as a mismatch, with the value current back then.
    const miss = await cas('zzz', 'v2', 2);
    expect(miss.status).toBe(409);
    expect(miss.json).toEqual({ error: 'cas_mismatch', current: 'v0' });
    expect((await put(five.urls, key, 'zzz')).status).toBe(200);
    const missAgain = await cas('zzz', 'v2', 2);
    expect(missAgain.json).toEqual({ error: 'cas_mismatch', current: 'v0' });
    expect(await value()).toEqual({ key, value: 'zzz' });

    // Same serial, different command: refused, and nothing changes.
    const reused = await cas('zzz', 'other', 1);
    expect(reused.status).toBe(409);
    expect(reused.json?.error).toBe('serial_reused');
    expect(typeof reused.json?.message).toBe('string');
    const reusedPut = await settle(five.urls, `/kv/${key}`, {
      method: 'PUT',
      body: 'other',
      headers: { 'Client-Id': clientId, 'Request-Serial': '2' },
    });
    expect(reusedPut.status).toBe(409);
    expect(reusedPut.json?.error).toBe('serial_reused');
    expect(await value()).toEqual({ key, value: 'zzz' });
    acked.set(key, 'zzz');
  });

  it('an old leader frozen while the others elect and write never answers with the old value', async () => {
    const key = `frozen-${runId}`;
    expect((await put(five.urls, key, 'old')).status).toBe(200);
    const old = await leader();
    await five.cluster.pause(old.id);
    let resumed = false;
    try {
      const others = five.cluster.members.filter((m) => m.id !== old.id);
      const next = await five.cluster.waitForLeader(30_000); // a majority of the 5, all among the other 4
      expect(next.id).not.toBe(old.id);
      expect(
        (
          await put(
            others.map((m) => m.url),
            key,
            'new',
          )
        ).status,
      ).toBe(200);
      acked.set(key, 'new');

      // Asked after the new value was acknowledged: the old leader must not answer "old".
      const pending = http(`${old.url}/kv/${key}`, { timeoutMs: 15_000 }).catch(
        (err: unknown) => ({ status: 0, json: String(err) }) as Answer,
      );
      await sleep(200);
      await five.cluster.resume(old.id);
      resumed = true;
      const first = await pending;
      expect(first.status === 200 && first.json?.value === 'old', `stale read: ${JSON.stringify(first.json)}`).toBe(false);
      expect([0, 200, 307, 503, 504]).toContain(first.status);
      if (first.status === 200) expect(first.json).toEqual({ key, value: 'new' });

      // Then for a while: 307 / 503 / 504, or the new value; never the old one.
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        const a = await http(`${old.url}/kv/${key}`).catch(() => null);
        if (a === null) continue;
        expect(a.status === 200 && a.json?.value === 'old', 'stale read after resume').toBe(false);
        if (a.status === 200) expect(a.json).toEqual({ key, value: 'new' });
        await sleep(100);
      }
      expect((await read([old.url], key)).json).toEqual({ key, value: 'new' });
    } finally {
      if (!resumed) await five.cluster.resume(old.id);
    }
  });

  it('loses the leader and one more node: the other three elect a leader, take writes, and keep every acknowledged write', async () => {
    const l = await leader();
    const second = followerOf(l);
    await five.cluster.kill(l.id);
    await five.cluster.kill(second.id);
    const alive = five.cluster.members.filter((m) => m.id !== l.id && m.id !== second.id);
    const next = await five.cluster.waitForLeader(30_000);
    expect(alive.map((m) => m.id)).toContain(next.id);

    const aliveUrls = alive.map((m) => m.url);
    // A write through a surviving follower (followed by hand) and through the leader.
    const f = alive.find((m) => m.id !== next.id)!;
    const w1 = await settle([f.url, ...aliveUrls], `/kv/after-failover`, {
      method: 'PUT',
      body: 'three left',
      headers: await identity(aliveUrls),
    });
    expect(w1.status).toBe(200);
    acked.set('after-failover', 'three left');
    const w2 = await settle(aliveUrls, `/kv/after-failover-cas/cas`, {
      method: 'POST',
      body: '{"expected":null,"value":"x"}',
      headers: await identity(five.urls),
    });
    expect(w2.status).toBe(200);
    acked.set('after-failover-cas', 'x');

    expect(acked.size).toBeGreaterThan(5);
    for (const [key, value] of acked) {
      const a = await read(aliveUrls, key);
      if (value === null) expect(a.status, key).toBe(404);
      else expect(a.json, key).toEqual({ key, value });
    }
    // Each survivor has applied them all.
    const target = (await status(next.id)).commitIndex;
    for (const m of alive) {
      const s = await eventually(
        () => status(m.id),
        (v) => v.appliedIndex >= target,
        10_000,
      );
      expect(s?.appliedIndex, m.id).toBeGreaterThanOrEqual(target);
    }
  });
});
