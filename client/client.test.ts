// RaftKvClient against scripted fake nodes on 127.0.0.1 (test/doubles/fake-http-node.ts):
// results, sessions, bad arguments, status. Leader discovery, retries,
// deadlines and backoff: client-retry.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { RaftKvClient } from './client';
import { closedPortUrl, fakeNodesPerTest, fastBackoff, leaderScript, redirectTo } from '../test/doubles/fake-http-node';

const node = fakeNodesPerTest(afterEach);
const fast = fastBackoff;

describe('results of the API answers', () => {
  it('get, set, delete and cas map to typed results', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ nodes: [leader.url], ...fast }); // registers
    expect(await c.get('k')).toEqual({ ok: true, value: null });
    expect(await c.set('k', 'a b')).toEqual({ ok: true });
    expect(await c.get('k')).toEqual({ ok: true, value: 'a b' });
    expect(await c.cas('k', 'nope', 'x')).toEqual({ ok: true, swapped: false, current: 'a b' });
    expect(await c.cas('k', 'a b', 'x')).toEqual({ ok: true, swapped: true });
    expect(await c.delete('k')).toEqual({ ok: true });
    expect(await c.cas('k', 'x', 'y')).toEqual({ ok: true, swapped: false, current: null });
    expect(await c.cas('k', null, 'y')).toEqual({ ok: true, swapped: true });
  });

  it('writes carry Client-Id and a serial that counts from 1; reads carry none', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ nodes: [leader.url], clientId: 'session-3', ...fast });
    await c.set('a', '1');
    await c.get('a');
    await c.delete('a');
    await c.cas('a', null, '2');
    const writes = leader.seen.filter((r) => r.method !== 'GET');
    expect(writes.map((r) => [r.method, r.headers['client-id'], r.headers['request-serial']])).toEqual([
      ['PUT', 'session-3', '1'],
      ['DELETE', 'session-3', '2'],
      ['POST', 'session-3', '3'],
    ]);
    expect(leader.seen.find((r) => r.method === 'GET')?.headers['request-serial']).toBeUndefined();
    expect(JSON.parse(leader.seen.at(-1)?.body ?? '')).toEqual({ expected: null, value: '2' });
  });

  it('without a clientId, registers a session before the first write and uses it', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ nodes: [leader.url], ...fast });
    expect(c.clientId).toBeNull();
    await Promise.all([c.set('a', '1'), c.set('b', '2')]); // one registration shared by both
    await c.delete('a');
    expect(c.clientId).toBe('session-1');
    expect(leader.seen.map((r) => [r.method, r.path, r.headers['client-id'], r.headers['request-serial']])).toEqual([
      ['POST', '/sessions', undefined, undefined],
      ['PUT', '/kv/a', 'session-1', '1'],
      ['PUT', '/kv/b', 'session-1', '2'],
      ['DELETE', '/kv/a', 'session-1', '3'],
    ]);
  });

  it('after session_expired: the write fails (outcome known if no earlier attempt reached a node), the next one re-registers', async () => {
    let expire = true;
    const store = leaderScript();
    const leader = await node((req, n) => {
      if (req.method === 'PUT' && expire) {
        expire = false;
        return { status: 409, json: { error: 'session_expired', message: 'session "session-1" is unknown or has expired' } };
      }
      return store(req, n);
    });
    const c = new RaftKvClient({ nodes: [leader.url], ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'session', code: 'session_expired', outcomeUnknown: false, clientId: 'session-1', serial: 1 },
    });
    expect(c.clientId).toBeNull();
    expect(await c.set('k', 'w')).toEqual({ ok: true });
    expect(c.clientId).toBe('session-2');
    expect(leader.seen.at(-1)?.headers).toMatchObject({ 'client-id': 'session-2', 'request-serial': '1' });
  });

  it('a write pinned to a follower registers through the leader, then reports not_leader itself', async () => {
    const leader = await node(leaderScript());
    const follower = await node((req) => redirectTo(leader.url, req.path));
    const c = new RaftKvClient({ nodes: [leader.url, follower.url], ...fast });
    const r = await c.set('k', 'v', { node: follower.url, followRedirects: false });
    expect(r).toMatchObject({ ok: false, error: { type: 'not_leader', leader: leader.url } });
    expect(c.clientId).toBe('session-1');
    expect(follower.seen.map((q) => [q.method, q.path])).toEqual([
      ['POST', '/sessions'],
      ['PUT', '/kv/k'],
    ]);
    expect(leader.seen.map((q) => [q.method, q.path])).toEqual([['POST', '/sessions']]);
  });

  it('a given session that expired is dropped too: the next write registers a new one', async () => {
    let expire = true;
    const store = leaderScript();
    const leader = await node((req, n) => {
      if (req.method === 'PUT' && expire) {
        expire = false;
        return { status: 409, json: { error: 'session_expired', message: 'session "session-40" is unknown or has expired' } };
      }
      return store(req, n);
    });
    const c = new RaftKvClient({ nodes: [leader.url], clientId: 'session-40', firstSerial: 5, ...fast });
    expect(await c.set('k', 'v')).toMatchObject({ ok: false, error: { code: 'session_expired', clientId: 'session-40', serial: 5 } });
    expect(c.clientId).toBeNull();
    expect(await c.set('k', 'w')).toEqual({ ok: true });
    expect(leader.seen.map((r) => [r.method, r.path, r.headers['client-id'], r.headers['request-serial']]).slice(1)).toEqual([
      ['POST', '/sessions', undefined, undefined],
      ['PUT', '/kv/k', 'session-1', '1'],
    ]);
  });

  it('session_expired after an attempt that may have been applied: outcome unknown', async () => {
    let calls = 0;
    const store = leaderScript();
    const leader = await node((req, n) => {
      if (req.method !== 'PUT') return store(req, n);
      calls++;
      if (calls === 1) return { status: 504, json: { error: 'timeout' } };
      return { status: 409, json: { error: 'session_expired', message: 'gone' } };
    });
    const c = new RaftKvClient({ nodes: [leader.url], ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { code: 'session_expired', outcomeUnknown: true } });
  });

  it('a retry names its old session, so it is judged there even after the client moved on', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ nodes: [leader.url], ...fast });
    await c.set('k', 'v');
    await c.set('k', 'w', { clientId: 'session-1', serial: 1 });
    expect(leader.seen.at(-1)?.headers).toMatchObject({ 'client-id': 'session-1', 'request-serial': '1' });
    expect(() => c.set('k', 'w', { clientId: 'session-1' })).toThrow(/serial/);
  });

  it('an explicit serial is used as given and moves the counter past it', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [leader.url], ...fast });
    await c.set('a', '1', { serial: 10 });
    await c.set('a', '2');
    await c.set('a', '3', { serial: 4 });
    await c.set('a', '4');
    expect(leader.seen.map((r) => r.headers['request-serial'])).toEqual(['10', '11', '4', '12']);
  });

  it('keys are percent-encoded in the path', async () => {
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [leader.url], ...fast });
    await c.set('a/b c?d', 'v');
    expect(leader.seen[0]?.path).toBe('/kv/a%2Fb%20c%3Fd');
    expect(await c.get('a/b c?d')).toEqual({ ok: true, value: 'v' });
  });

  it('a session refusal is final, not retried, and names the serial', async () => {
    const leader = await node(() => ({ status: 409, json: { error: 'serial_reused', message: 'serial 1 was used' } }));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [leader.url], ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'session', code: 'serial_reused', outcomeUnknown: false, serial: 1 } });
    expect(leader.seen).toHaveLength(1);
  });

  it('a bad_request answer is final', async () => {
    const leader = await node(() => ({ status: 413, json: { error: 'bad_request', message: 'too big' } }));
    const r = await new RaftKvClient({ clientId: 'session-7', nodes: [leader.url], ...fast }).set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'bad_request', code: 'bad_request' } });
  });
});

describe('bad arguments throw', () => {
  const c = new RaftKvClient({ clientId: 'session-7', nodes: ['http://127.0.0.1:1'] });
  it.each([
    ['an empty key', () => c.get('')],
    ['a key over 512 bytes', () => c.set('é'.repeat(257), 'v')],
    ['a value over 64 KiB', () => c.set('k', 'x'.repeat(64 * 1024 + 1))],
    ['a serial of 0', () => c.delete('k', { serial: 0 })],
    ['a fractional serial', () => c.cas('k', null, 'v', { serial: 1.5 })],
    ['a value with a lone surrogate', () => c.set('k', 'a\ud800')],
    ['a key with a lone surrogate', () => c.get('\udc00')],
    ['a cas expectation with a lone surrogate', () => c.cas('k', '\ud83d', 'v')],
  ])('%s', (_name, call) => {
    expect(call).toThrow(RangeError);
  });
  it('no nodes, a bad URL, a bad client id', () => {
    expect(() => new RaftKvClient({ clientId: 'session-7', nodes: [] })).toThrow(RangeError);
    expect(() => new RaftKvClient({ clientId: 'session-7', nodes: ['ftp://x'] })).toThrow(TypeError);
    expect(() => new RaftKvClient({ nodes: ['8787'], clientId: '' })).toThrow(RangeError);
    expect(() => new RaftKvClient({ nodes: ['8787'], clientId: 'a, b' })).toThrow(/comma/);
  });
  it('a client id the cluster did not hand out (the server would refuse it with 400)', () => {
    for (const id of ['alice', '7', 'seed-7', 'session-0', 'session-07', 'session-1x']) {
      expect(() => new RaftKvClient({ nodes: ['8787'], clientId: id })).toThrow(/not a registered session id/);
    }
    const c = new RaftKvClient({ nodes: ['8787'] });
    expect(() => c.set('k', 'v', { clientId: 'alice', serial: 1 })).toThrow(/not a registered session id/);
  });
});

describe('status', () => {
  it('asks every node; unreachable ones are marked; the leader of the highest term wins', async () => {
    const st = (id: string, term: number, leader: string | null) => ({
      id,
      url: `http://${id}`,
      role: leader === id ? 'leader' : 'follower',
      term,
      leader: leader === null ? null : { id: leader, url: `http://${leader}` },
      commitIndex: 5,
      appliedIndex: 4,
      lastLogIndex: 5,
      lastLogTerm: term,
      peers: [{ id: 'n2', url: 'http://n2', matchIndex: 5, nextIndex: 6, lastContactMs: 3 }],
    });
    const a = await node(() => ({ status: 200, json: st('n1', 2, 'n1') }));
    const b = await node(() => ({ status: 200, json: st('n2', 3, 'n2') }));
    const dead = await closedPortUrl();
    const s = await new RaftKvClient({ clientId: 'session-7', nodes: [a.url, b.url, dead] }).status();
    expect(s.leader).toEqual({ id: 'n2', url: 'http://n2' });
    expect(s.nodes.map((n) => n.reachable)).toEqual([true, true, false]);
    expect(s.nodes[0]).toMatchObject({ reachable: true, status: { id: 'n1', commitIndex: 5, appliedIndex: 4 } });
    expect(s.nodes[2]).toMatchObject({ reachable: false, error: expect.stringMatching(/refused/) });
  });

  it('marks an answer whose role is not one a node reports as malformed', async () => {
    const odd = await node(() => ({ status: 200, json: { id: 'n1', url: 'http://n1', role: 'king', term: 1, leader: null } }));
    const s = await new RaftKvClient({ nodes: [odd.url] }).status();
    expect(s.nodes[0]).toMatchObject({ reachable: false, error: expect.stringMatching(/malformed status/) });
  });
});
