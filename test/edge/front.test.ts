// The edge front (worker/edge/front.ts): the same KV API as a node, served for
// the cluster the path names, with no redirect ever reaching the client; and
// membership in this topology, where adding a member is naming another object.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, baseOf, fetchSelf, membersOf, sleep, waitForLeader } from './helpers';

const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };

/** Hands leadership to `id`; a transfer that times out (the target still catching up, a busy machine) is tried again. */
async function transfer(base: string, id: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    const moved = await fetchSelf(`${base}/cluster/leader`, { method: 'POST', headers: admin, body: JSON.stringify({ id }) });
    if (moved.status === 200) return;
    last = `${moved.status} ${await moved.text()}`;
    await sleep(100);
  }
  throw new Error(`leadership never moved to ${id}: ${last}`);
}

describe('edge front', () => {
  it('serves the KV API of the cluster in the path, and of the default cluster without a prefix', async () => {
    await waitForLeader('basic');
    expect((await fetchSelf(`${baseOf('basic')}/kv/k`, { method: 'PUT', body: 'in-basic' })).status).toBe(200);
    expect(await (await fetchSelf(`${baseOf('basic')}/kv/k`)).json()).toEqual({ key: 'k', value: 'in-basic' });
    // "basic" is the first of EDGE_CLUSTERS, so the default one.
    expect(await (await fetchSelf('http://edge.test/kv/k')).json()).toEqual({ key: 'k', value: 'in-basic' });
    // Another cluster is another set of objects: the key is not there.
    await waitForLeader('three');
    expect((await fetchSelf(`${baseOf('three')}/kv/k`)).status).toBe(404);
    const status = await (await fetchSelf(`${baseOf('basic')}/status`)).json();
    expect(status).toMatchObject({ role: 'leader' });
  });

  it('refuses a client socket with 404 naming HTTP as the way in (clients fall back to it)', async () => {
    const res = await fetchSelf(`${baseOf('basic')}/v1/socket`, { headers: { Upgrade: 'websocket' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found_route', message: expect.stringContaining('use the HTTP API') });
  });

  it('refuses clusters it does not serve, and admin routes without the token', async () => {
    const unknown = await fetchSelf('http://edge.test/c/nope/kv/k');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'unknown_cluster' });
    const reset = await fetchSelf(`${baseOf('basic')}/edge/leader/reset`, { method: 'POST' });
    expect(reset.status).toBe(401);
    // Peer messages never come in over HTTP here.
    const peer = await fetchSelf(`${baseOf('basic')}/raft/messages`, { method: 'POST', body: '{"messages":[]}' });
    expect(peer.status).toBe(503);
  });

  it('answers every request itself while leadership moves: no 307 reaches the client', async () => {
    const base = baseOf('moves');
    const first = await waitForLeader('moves');
    const statuses: number[] = [];
    for (const target of ['n1', 'n2', 'n3'].filter((m) => m !== first)) {
      await transfer(base, target);
      for (let i = 0; i < 5; i++) {
        statuses.push((await fetchSelf(`${base}/kv/x`, { method: 'PUT', body: `${target}-${i}` })).status);
        statuses.push((await fetchSelf(`${base}/kv/x`)).status);
      }
    }
    expect(statuses.filter((s) => s === 307)).toEqual([]);
    // 503 while an election runs, 504 when a busy machine makes a request outlast its deadline.
    expect(statuses.filter((s) => s !== 200 && s !== 503 && s !== 504)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
  });

  it('adds a member by naming another object: it joins, is promoted and can lead', async () => {
    const base = baseOf('moves');
    await waitForLeader('moves');
    const wrongUrl = await fetchSelf(`${base}/cluster/members`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ id: 'n4', url: 'http://elsewhere:1' }),
    });
    expect(wrongUrl.status).toBe(400);
    const added = await fetchSelf(`${base}/cluster/members`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'n4' }) });
    expect(added.status, await added.clone().text()).toBe(200);
    let promoted: Response | null = null;
    for (let i = 0; i < 100; i++) {
      // Promotion waits until the learner has caught up (thesis §4.2.1).
      promoted = await fetchSelf(`${base}/cluster/members/n4/promote`, { method: 'POST', headers: admin });
      if (promoted.status === 200) break;
      await sleep(50);
    }
    expect(promoted!.status).toBe(200);
    await transfer(base, 'n4');
    expect((await fetchSelf(`${base}/kv/after-join`, { method: 'PUT', body: 'n4 leads' })).status).toBe(200);
    const report = await membersOf('moves');
    expect(report.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(report.leader).toBe('n4');
    expect(await (await fetchSelf(`${base}/kv/after-join`)).json()).toEqual({ key: 'after-join', value: 'n4 leads' });
  });
});

describe('edge front, bad paths', () => {
  it('answers a cluster name with an encoding or an empty one with 404 unknown_cluster, not a crash', async () => {
    for (const path of ['/c/%E0%A4%A/kv/k', '/c/', '/c//kv/k', '/c/BASIC/kv/k']) {
      const res = await fetchSelf(`http://edge.test${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toMatchObject({ error: 'unknown_cluster' });
    }
    const reset = await fetchSelf(`${baseOf('basic')}/edge/members/%E0%A4%A/reset`, { method: 'POST', headers: admin });
    expect(reset.status).toBe(404);
  });
});
