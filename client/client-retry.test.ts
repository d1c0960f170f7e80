// RaftKvClient's retry loop (client-retry.ts) against scripted fake nodes on
// 127.0.0.1: leader discovery, redirects, deadlines and unknown outcomes,
// pinned requests, backoff.
import { afterEach, describe, expect, it } from 'vitest';
import { RaftKvClient } from './client';
import { backoffDelayMs } from './client-backoff';
import { leaderFromHints } from './client-http';
import { closedPortUrl, fakeNodesPerTest, fastBackoff, leaderScript, redirectTo } from '../test/doubles/fake-http-node';

const node = fakeNodesPerTest(afterEach);
const fast = fastBackoff;

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

describe('backoff', () => {
  it('doubles from the initial delay up to the cap, with jitter in [base/2, base)', () => {
    const policy = { initialMs: 20, maxMs: 500 };
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((f) => backoffDelayMs(f, policy, () => 0))).toEqual([10, 20, 40, 80, 160, 250, 250, 250]);
    expect(backoffDelayMs(1, policy, () => 0.999)).toBeCloseTo(19.99);
    expect(backoffDelayMs(9, policy, () => 0.999)).toBeLessThan(500);
  });
});
