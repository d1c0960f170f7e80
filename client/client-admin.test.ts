// The client's membership calls against the real routes (served from the test double).
import { describe, expect, it } from 'vitest';
import { RaftKvClient } from './client';
import { FakeNode, TEST_SECRET, appWith, fakeStatus } from '../test/doubles/fake-node';

const n1 = { id: fakeStatus.id, url: fakeStatus.url };

function clientOf(node: FakeNode, adminToken?: string): RaftKvClient {
  const app = appWith(node);
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => app.request(String(input), init)) as typeof fetch;
  return new RaftKvClient({ nodes: [n1.url], fetch: fetchFn, timeoutMs: 500, ...(adminToken === undefined ? {} : { adminToken }) });
}

describe('RaftKvClient membership calls', () => {
  it('members(): the configuration as GET /cluster reports it', async () => {
    const node = new FakeNode();
    node.statusNow = {
      ...fakeStatus,
      membership: { voters: [n1], learners: [{ id: 'n4', url: 'http://127.0.0.1:8790' }] },
      configIndex: 4,
      peers: [],
    };
    const r = await clientOf(node).members();
    expect(r).toEqual({
      ok: true,
      leader: n1,
      members: [
        { ...n1, role: 'voter', matchIndex: fakeStatus.lastLogIndex },
        { id: 'n4', url: 'http://127.0.0.1:8790', role: 'learner', matchIndex: null },
      ],
      configIndex: 4,
    });
  });

  it('add, promote, remove, transfer send the admin token and report the outcome', async () => {
    const node = new FakeNode();
    const c = clientOf(node, TEST_SECRET);
    expect(await c.addMember('n4', '8790')).toEqual({ ok: true, configIndex: 8 });
    expect(await c.promote('n4')).toEqual({ ok: true, configIndex: 8 });
    expect(await c.removeMember('n4')).toEqual({ ok: true, configIndex: 8 });
    expect(await c.transferLeadership('n2')).toEqual({ ok: true, leader: 'n2' });
    expect(node.calls.filter((x) => x.method !== 'status')).toEqual([
      { method: 'changeMembership', change: { type: 'add', member: { id: 'n4', url: 'http://127.0.0.1:8790' }, role: 'learner' } },
      { method: 'changeMembership', change: { type: 'promote', id: 'n4' } },
      { method: 'changeMembership', change: { type: 'remove', id: 'n4' } },
      { method: 'transferLeadership', id: 'n2' },
    ]);
  });

  it('a refusal is type refused with the reason; no token is unauthorized; neither is retried', async () => {
    const node = new FakeNode();
    node.adminOutcomes.push({ type: 'rejected', reason: 'n1 is the last voter' });
    const refused = await clientOf(node, TEST_SECRET).removeMember('n1');
    expect(refused).toMatchObject({
      ok: false,
      error: { type: 'refused', code: 'membership_refused', message: 'remove n1: n1 is the last voter', outcomeUnknown: false },
    });
    const unauthorized = await clientOf(node).promote('n4');
    expect(unauthorized).toMatchObject({ ok: false, error: { type: 'unauthorized' } });
    expect(node.calls.filter((x) => x.method === 'changeMembership')).toHaveLength(1);
  });

  it('refuses an impossible member id locally', () => {
    expect(() => clientOf(new FakeNode()).promote('a b')).toThrow(RangeError);
  });
});
