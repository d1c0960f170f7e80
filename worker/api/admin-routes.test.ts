import { beforeEach, describe, expect, it } from 'vitest';
import { FakeNode, TEST_SECRET, appWith, fakeStatus } from '../../test/doubles/fake-node';
import { createApp } from './app';
import { silentLogger } from '../raft/logger';

const base = 'http://127.0.0.1:8787';
const n2 = { id: 'n2', url: 'http://127.0.0.1:8788' };
const n3 = { id: 'n3', url: 'http://127.0.0.1:8789' };
const n4 = { id: 'n4', url: 'http://127.0.0.1:8790' };
const self = { id: fakeStatus.id, url: fakeStatus.url };
const auth = { Authorization: `Bearer ${TEST_SECRET}` };

let node: FakeNode;
let app: ReturnType<typeof appWith>;

beforeEach(() => {
  node = new FakeNode();
  node.statusNow = {
    ...fakeStatus,
    membership: { voters: [self, n2, n3], learners: [n4] },
    configIndex: 5,
    peers: [
      { ...n2, matchIndex: 7, nextIndex: 8, lastContactMs: 3, state: 'replicate' },
      { ...n4, matchIndex: 2, nextIndex: 3, lastContactMs: 9, state: 'probe' },
    ],
  };
  app = appWith(node);
});

const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  app.request(`${base}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });
const del = (path: string, headers: Record<string, string> = auth) => app.request(`${base}${path}`, { method: 'DELETE', headers });
const adminCalls = () => node.calls.filter((c) => c.method === 'changeMembership' || c.method === 'transferLeadership');

describe('GET /cluster', () => {
  it("on the leader: members with roles and the leader's match indexes, no token needed", async () => {
    const res = await app.request(`${base}/cluster`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      leader: self,
      members: [
        { ...self, role: 'voter', matchIndex: fakeStatus.lastLogIndex },
        { ...n2, role: 'voter', matchIndex: 7 },
        { ...n3, role: 'voter', matchIndex: null }, // the leader has no progress for it yet
        { ...n4, role: 'learner', matchIndex: 2 },
      ],
      configIndex: 5,
    });
  });

  it('on a follower: 307 to the leader', async () => {
    node.statusNow = { ...node.statusNow, id: 'n2', url: n2.url, role: 'follower', leader: self, peers: [] };
    const res = await app.request(`${n2.url}/cluster`);
    expect(res.status).toBe(307);
    expect(res.headers.get('Location')).toBe(`${self.url}/cluster`);
  });

  it('a node outside its configuration (removed, or joining) and knowing no leader: 503, so clients ask another', async () => {
    node.statusNow = { ...node.statusNow, role: 'follower', leader: null, membership: { voters: [n2, n3], learners: [] }, peers: [] };
    const res = await app.request(`${base}/cluster`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'no_leader' });
  });

  it('with no leader known: its own configuration, leader null, match indexes unknown', async () => {
    node.statusNow = { ...node.statusNow, role: 'follower', leader: null, peers: [] };
    const res = await app.request(`${base}/cluster`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { leader: unknown; members: { matchIndex: unknown }[] };
    expect(body.leader).toBeNull();
    expect(body.members.map((m) => m.matchIndex)).toEqual([null, null, null, null]);
  });
});

describe('admin changes: authentication', () => {
  const attempts: [string, () => Response | Promise<Response>][] = [
    ['add', () => post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791' }, {})],
    ['promote', () => post('/cluster/members/n4/promote', '', {})],
    ['remove', () => del('/cluster/members/n4', {})],
    ['transfer', () => post('/cluster/leader', { id: 'n2' }, {})],
  ];
  for (const [name, send] of attempts) {
    it(`${name} without a token: 401, the node is never asked`, async () => {
      const res = await send();
      expect(res.status).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: string }).error).toBe('unauthorized');
      expect(adminCalls()).toEqual([]);
    });
  }

  it('a wrong token or a malformed header: 401', async () => {
    for (const header of ['Bearer not-the-secret', `Basic ${TEST_SECRET}`, TEST_SECRET]) {
      const res = await post('/cluster/leader', { id: 'n2' }, { Authorization: header });
      expect(res.status).toBe(401);
    }
    expect(adminCalls()).toEqual([]);
  });

  it('ADMIN_TOKEN, when set, replaces the cluster secret', async () => {
    const admin = createApp<object>({
      node: () => node,
      clusterSecret: () => TEST_SECRET,
      adminToken: () => 'the-admin-token',
      logger: () => silentLogger,
    });
    const send = (token: string) =>
      admin.request(`${base}/cluster/leader`, { method: 'POST', body: '{"id":"n2"}', headers: { Authorization: `Bearer ${token}` } });
    expect((await send(TEST_SECRET)).status).toBe(401);
    expect((await send('the-admin-token')).status).toBe(200);
  });

  it('no secret configured at all: 503, never open', async () => {
    const res = await appWith(node, '').request(`${base}/cluster/leader`, {
      method: 'POST',
      body: '{"id":"n2"}',
      headers: { Authorization: 'Bearer ' },
    });
    expect(res.status).toBe(503);
    expect(adminCalls()).toEqual([]);
  });
});

describe('POST /cluster/members', () => {
  it('adds a learner by default and answers once done', async () => {
    const res = await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791/' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, id: 'n5', url: 'http://127.0.0.1:8791', role: 'learner', configIndex: 8 });
    expect(adminCalls()).toEqual([
      { method: 'changeMembership', change: { type: 'add', member: { id: 'n5', url: 'http://127.0.0.1:8791' }, role: 'learner' } },
    ]);
  });

  it('adds a voter when asked', async () => {
    const res = await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791', role: 'voter' });
    expect(res.status).toBe(200);
    expect(adminCalls()[0]).toMatchObject({ change: { role: 'voter' } });
  });

  it('refuses malformed bodies with 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      ['not json', /not valid JSON/],
      [{ url: 'http://127.0.0.1:8791' }, /id/],
      [{ id: 'n 5', url: 'http://127.0.0.1:8791' }, /id: must be letters/],
      [{ id: 'n5', url: 'ftp://x' }, /url: must be an http/],
      [{ id: 'n5', url: 'http://127.0.0.1:8791', role: 'boss' }, /role/],
      [{ id: 'n5', url: 'http://127.0.0.1:8791', extra: 1 }, /extra/],
    ];
    for (const [body, message] of cases) {
      const res = await post('/cluster/members', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const json = (await res.json()) as { error: string; message: string };
      expect(json.error).toBe('bad_request');
      expect(json.message).toMatch(message);
    }
    expect(adminCalls()).toEqual([]);
  });

  it("a refusal by the core is 409 membership_refused with the core's reason", async () => {
    node.adminOutcomes.push({ type: 'rejected', reason: 'a membership change is already in progress (index 9)' });
    const res = await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: 'membership_refused', message: 'a membership change is already in progress (index 9)' });
  });

  it('a follower answers 307 to the leader; no leader 503; a timeout 504', async () => {
    node.adminOutcomes.push({ type: 'notLeader', leader: n2 }, { type: 'notLeader', leader: null }, { type: 'timeout' });
    const redirected = await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791' });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get('Location')).toBe(`${n2.url}/cluster/members`);
    expect((await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791' })).status).toBe(503);
    expect((await post('/cluster/members', { id: 'n5', url: 'http://127.0.0.1:8791' })).status).toBe(504);
  });
});

describe('promote, remove, transfer', () => {
  it('promote: 200 with the config index', async () => {
    const res = await post('/cluster/members/n4/promote', '');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, id: 'n4', role: 'voter', configIndex: 8 });
    expect(adminCalls()).toEqual([{ method: 'changeMembership', change: { type: 'promote', id: 'n4' } }]);
  });

  it('remove: 200; a refusal (last voter, unknown member) is 409', async () => {
    expect((await del('/cluster/members/n3')).status).toBe(200);
    node.adminOutcomes.push({ type: 'rejected', reason: 'n9 is not a member' });
    const res = await del('/cluster/members/n9');
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toBe('n9 is not a member');
    expect(adminCalls().map((c) => c.method === 'changeMembership' && c.change)).toEqual([
      { type: 'remove', id: 'n3' },
      { type: 'remove', id: 'n9' },
    ]);
  });

  it('an id in the path that no node could have: 400', async () => {
    const res = await del('/cluster/members/a%20b');
    expect(res.status).toBe(400);
    expect(adminCalls()).toEqual([]);
  });

  it('transfer: 200 naming the new leader; refusals 409; a bad body 400', async () => {
    const res = await post('/cluster/leader', { id: 'n2' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, leader: 'n2' });
    node.adminOutcomes.push({ type: 'rejected', reason: 'n4 is not a voter' });
    expect((await post('/cluster/leader', { id: 'n4' })).status).toBe(409);
    expect((await post('/cluster/leader', { leader: 'n2' })).status).toBe(400);
    expect(adminCalls()).toEqual([
      { method: 'transferLeadership', id: 'n2' },
      { method: 'transferLeadership', id: 'n4' },
    ]);
  });
});
