// RaftKvClient against scripted fake nodes on 127.0.0.1 (test/doubles/fake-http-node.ts):
// results, leader discovery, redirects, retries, backoff, deadlines, sessions.
import { afterEach, describe, expect, it } from 'vitest';
import { RaftKvClient } from './client';
import { backoffDelayMs } from './client-backoff';
import { leaderFromHints } from './client-http';
import { closedPortUrl, leaderScript, redirectTo, startFakeNode } from '../test/doubles/fake-http-node';
import type { FakeNode, Script } from '../test/doubles/fake-http-node';

const nodes: FakeNode[] = [];
async function node(script: Script): Promise<FakeNode> {
  const n = await startFakeNode(script);
  nodes.push(n);
  return n;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

const fast = { backoff: { initialMs: 5, maxMs: 40 } };

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

describe('leader discovery', () => {
  it('follows a follower’s 307 to the leader, re-sending the body, and remembers it', async () => {
    const leader = await node(leaderScript());
    const follower = await node((req) => redirectTo(leader.url, req.path));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [follower.url, leader.url], ...fast });
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(leader.seen[0]).toMatchObject({ method: 'PUT', body: 'v' });
    expect(follower.seen[0]?.headers['request-serial']).toBe(leader.seen[0]?.headers['request-serial']);
    expect(c.leader).toBe(leader.url);
    expect(await c.get('k')).toEqual({ ok: true, value: 'v' });
    expect(follower.seen).toHaveLength(1);
  });

  it('uses the Location header when the body names no leader', async () => {
    const leader = await node(leaderScript());
    const follower = await node((req) => ({ status: 307, headers: { location: leader.url + req.path }, text: '' }));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [follower.url], ...fast });
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(c.leader).toBe(leader.url);
  });

  it('does not follow a redirect to another scheme', async () => {
    const follower = await node((req) => redirectTo('https://127.0.0.1:1', req.path));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [follower.url], retries: 3, ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable', outcomeUnknown: false } });
    expect(leaderFromHints('http://a:1', '/kv/k', 'https://b:2/kv/k', 'https://b:2')).toBeNull();
    expect(leaderFromHints('http://a:1', '/kv/k', '/kv/k', null)).toBe('http://a:1');
    expect(leaderFromHints('http://a:1', '/kv/k', 'http://b:2/base/kv/k', null)).toBe('http://b:2/base');
  });

  it('skips a node that refuses connections, and a node without a leader, with backoff', async () => {
    const dead = await closedPortUrl();
    const noLeader = await node(() => ({ status: 503, headers: { 'retry-after': '1' }, json: { error: 'no_leader' } }));
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [dead, noLeader.url, leader.url], backoff: { initialMs: 30, maxMs: 100 } });
    const t0 = Date.now();
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    // Two failures: waits of [15, 30) and [30, 60) ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(noLeader.seen[0]?.headers['request-serial']).toBe('1');
    expect(leader.seen[0]?.headers['request-serial']).toBe('1');
    expect(c.leader).toBe(leader.url);
  });

  it('forgets a leader that stops answering and finds the new one', async () => {
    const store = new Map<string, string>();
    const old = await node(leaderScript(store));
    const next = await node((req) => redirectTo(old.url, req.path));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [old.url, next.url], ...fast });
    expect(await c.set('k', '1')).toEqual({ ok: true });
    await old.close();
    next.script = leaderScript(store);
    expect(await c.set('k', '2')).toEqual({ ok: true });
    expect(c.leader).toBe(next.url);
  });

  it('a redirect loop is bounded by the deadline', async () => {
    const a = await node((req) => redirectTo(b.url, req.path));
    const b = await node((req) => redirectTo(a.url, req.path));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [a.url, b.url], timeoutMs: 1000, ...fast });
    const t0 = Date.now();
    const r = await c.get('k');
    expect(Date.now() - t0).toBeLessThan(3000);
    // Usually `unavailable` (not_leader); `timeout` if the deadline cut an attempt short.
    expect(r.ok ? 'ok' : r.error.type).toMatch(/^(unavailable|timeout)$/);
    expect(r.ok || r.error.outcomeUnknown).toBe(false);
  });
});

describe('deadlines and unknown outcomes', () => {
  it('504s until the deadline: timeout, outcome unknown, the same serial every time', async () => {
    const a = await node(() => ({ status: 504, json: { error: 'timeout' } }));
    const b = await node(() => ({ status: 504, json: { error: 'timeout' } }));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [a.url, b.url], timeoutMs: 300, ...fast });
    const r = await c.cas('k', null, 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'timeout', outcomeUnknown: true, serial: 1 } });
    const serials = new Set([...a.seen, ...b.seen].map((s) => s.headers['request-serial']));
    expect(serials).toEqual(new Set(['1']));
    expect(a.seen.length + b.seen.length).toBeGreaterThanOrEqual(2);
    expect(c.nextSerial).toBe(2);
  });

  it('a hanging node hits the per-attempt timeout; a retry elsewhere succeeds with the same serial', async () => {
    const hung = await node(() => 'hang');
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [hung.url, leader.url], attemptTimeoutMs: 100, ...fast });
    expect(await c.set('k', 'v', { serial: 7 })).toEqual({ ok: true });
    expect(hung.seen[0]?.headers['request-serial']).toBe('7');
    expect(leader.seen[0]?.headers['request-serial']).toBe('7');
  });

  it('a read that times out is a timeout whose outcome is known (reads change nothing)', async () => {
    const hung = await node(() => 'hang');
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [hung.url], timeoutMs: 250, attemptTimeoutMs: 100, ...fast });
    const t0 = Date.now();
    const r = await c.get('k');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r).toMatchObject({ ok: false, error: { type: 'timeout', outcomeUnknown: false } });
  });

  it('a dropped connection after sending means the write may have happened', async () => {
    const dropper = await node(() => 'drop');
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [dropper.url], retries: 3, ...fast });
    const r = await c.delete('k');
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable', outcomeUnknown: true } });
  });

  it('refused connections only: unavailable, and the outcome is known (nothing was sent)', async () => {
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [await closedPortUrl(), await closedPortUrl()], retries: 3, ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable', outcomeUnknown: false } });
    expect(r.ok ? '' : r.error.message).toMatch(/connection refused/);
  });

  it('a port fetch refuses to use (bad port) is known not to have been sent', async () => {
    const c = new RaftKvClient({ clientId: 'session-7', nodes: ['http://127.0.0.1:1'], retries: 2, ...fast });
    const r = await c.set('k', 'v');
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable', outcomeUnknown: false } });
    expect(r.ok ? '' : r.error.message).toMatch(/bad port/);
  });

  it('retries bounds the attempts', async () => {
    const a = await node(() => ({ status: 503, json: { error: 'no_leader' } }));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [a.url], retries: 2, ...fast });
    const r = await c.get('k');
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable', code: 'no_leader' } });
    expect(a.seen).toHaveLength(3);
  });

  it('an answer that breaks the contract counts as a failed attempt', async () => {
    const broken = await node(() => ({ status: 200, text: 'hello' }));
    const leader = await node(leaderScript());
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [broken.url, leader.url], ...fast });
    expect(await c.set('k', 'v')).toEqual({ ok: true });
  });
});

describe('one node only (followRedirects: false)', () => {
  it('reports not_leader with the leader instead of following', async () => {
    const leader = await node(leaderScript());
    const follower = await node((req) => redirectTo(leader.url, req.path));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [leader.url], ...fast });
    const r = await c.set('k', 'v', { node: follower.url, followRedirects: false });
    expect(r).toMatchObject({ ok: false, error: { type: 'not_leader', leader: leader.url, outcomeUnknown: false } });
    expect(leader.seen).toHaveLength(0);
    expect(await c.set('k', 'v', { node: leader.url, followRedirects: false })).toEqual({ ok: true });
  });

  it('retries stay on that node', async () => {
    const other = await node(leaderScript());
    const none = await node(() => ({ status: 503, json: { error: 'no_leader' } }));
    const c = new RaftKvClient({ clientId: 'session-7', nodes: [other.url, none.url], retries: 2, ...fast });
    const r = await c.get('k', { node: none.url, followRedirects: false });
    expect(r).toMatchObject({ ok: false, error: { type: 'unavailable' } });
    expect(none.seen).toHaveLength(3);
    expect(other.seen).toHaveLength(0);
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

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, with jitter in [base/2, base)', () => {
    const policy = { initialMs: 20, maxMs: 500 };
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((f) => backoffDelayMs(f, policy, () => 0))).toEqual([10, 20, 40, 80, 160, 250, 250, 250]);
    expect(backoffDelayMs(1, policy, () => 0.999)).toBeCloseTo(19.99);
    expect(backoffDelayMs(9, policy, () => 0.999)).toBeLessThan(500);
  });
});
