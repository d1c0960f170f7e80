import { beforeEach, describe, expect, it } from 'vitest';
import { FakeNode, MachineNode, appWith } from '../../test/doubles/fake-node';

const base = 'http://127.0.0.1:8788';
const leader = { id: 'n1', url: 'http://127.0.0.1:8787' };

let node: FakeNode;
let app: ReturnType<typeof appWith>;

beforeEach(() => {
  node = new FakeNode();
  app = appWith(node);
});

const put = (path: string, body: string, headers: Record<string, string> = {}) =>
  app.request(`${base}${path}`, { method: 'PUT', body, headers });
const cas = (key: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(`${base}/kv/${key}/cas`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });

describe('GET /kv/:key', () => {
  it('returns the value', async () => {
    node.store.set('a', 'one');
    const res = await app.request(`${base}/kv/a`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ key: 'a', value: 'one' });
  });

  it('answers 404 not_found for an absent key', async () => {
    const res = await app.request(`${base}/kv/missing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', key: 'missing' });
  });

  it('decodes the percent-encoded key, including an encoded slash', async () => {
    node.store.set('a/b ü', 'x');
    const res = await app.request(`${base}/kv/a%2Fb%20%C3%BC`);
    expect(await res.json()).toEqual({ key: 'a/b ü', value: 'x' });
    expect(node.calls).toEqual([{ method: 'read', key: 'a/b ü' }]);
  });

  it('decodes %25 once, so "100%" is a key of its own', async () => {
    node.store.set('100%', 'full');
    const res = await app.request(`${base}/kv/100%25`);
    expect(await res.json()).toEqual({ key: '100%', value: 'full' });
  });
});

describe('PUT /kv/:key', () => {
  it('stores the raw body as the value, whatever the content type', async () => {
    const value = '{"not":"parsed"} \n\u00e9';
    const res = await put('/kv/k', value, { 'Content-Type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(node.store.get('k')).toBe(value);
  });

  it('accepts an empty value', async () => {
    const res = await put('/kv/k', '');
    expect(res.status).toBe(200);
    expect(node.store.get('k')).toBe('');
  });

  it('passes Client-Id and Request-Serial through as the session', async () => {
    await put('/kv/k', 'v', { 'Client-Id': 'session-12', 'Request-Serial': '42' });
    expect(node.calls).toEqual([
      { method: 'write', req: { cmd: { op: 'set', key: 'k', value: 'v' }, session: { clientId: 'session-12', serial: 42 } } },
    ]);
  });

  it('sends no session without the headers', async () => {
    await put('/kv/k', 'v');
    expect(node.calls).toEqual([{ method: 'write', req: { cmd: { op: 'set', key: 'k', value: 'v' } } }]);
  });

  it('maps session errors to 409', async () => {
    node.resultNext({ ok: false, error: 'stale_serial', message: 'serial 3 is older than 5' });
    const res = await put('/kv/k', 'v', { 'Client-Id': 'session-1', 'Request-Serial': '3' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: 'stale_serial', message: 'serial 3 is older than 5' });
  });
});

describe('DELETE /kv/:key', () => {
  it('answers ok whether or not the key existed', async () => {
    node.store.set('k', 'v');
    for (let i = 0; i < 2; i++) {
      const res = await app.request(`${base}/kv/k`, { method: 'DELETE' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    }
    expect(node.store.has('k')).toBe(false);
  });

  it('passes the session through', async () => {
    await app.request(`${base}/kv/k`, { method: 'DELETE', headers: { 'Client-Id': 'session-1', 'Request-Serial': '1' } });
    expect(node.calls).toEqual([
      { method: 'write', req: { cmd: { op: 'delete', key: 'k' }, session: { clientId: 'session-1', serial: 1 } } },
    ]);
  });
});

describe('POST /kv/:key/cas', () => {
  it('swaps when the expected value matches', async () => {
    node.store.set('k', 'old');
    const res = await cas('k', { expected: 'old', value: 'new' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(node.store.get('k')).toBe('new');
  });

  it('treats expected null as "absent"', async () => {
    const res = await cas('k', { expected: null, value: 'first' });
    expect(res.status).toBe(200);
    expect(node.store.get('k')).toBe('first');
  });

  it('answers 409 cas_mismatch with the current value', async () => {
    node.store.set('k', 'actual');
    const res = await cas('k', { expected: 'guess', value: 'new' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: 'cas_mismatch', current: 'actual' });
    expect(node.store.get('k')).toBe('actual');
  });

  it('reports current null when the key is absent', async () => {
    const res = await cas('k', { expected: 'x', value: 'y' });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: 'cas_mismatch', current: null });
  });

  it('passes the session through', async () => {
    await cas('k', { expected: null, value: 'v' }, { 'Client-Id': 'session-1', 'Request-Serial': '9' });
    expect(node.calls).toEqual([
      {
        method: 'write',
        req: { cmd: { op: 'cas', key: 'k', expected: null, value: 'v' }, session: { clientId: 'session-1', serial: 9 } },
      },
    ]);
  });
});

describe('when this node cannot answer', () => {
  const requests: [string, () => Response | Promise<Response>][] = [
    ['GET', () => app.request(`${base}/kv/a%2Fb?x=1&y=2`)],
    ['PUT', () => app.request(`${base}/kv/a%2Fb?x=1&y=2`, { method: 'PUT', body: 'v' })],
    ['DELETE', () => app.request(`${base}/kv/a%2Fb?x=1&y=2`, { method: 'DELETE' })],
  ];

  it.each(requests)('%s redirects to the leader with the same path and query', async (_, send) => {
    node.refuseNext({ type: 'notLeader', leader });
    const res = await send();
    expect(res.status).toBe(307);
    expect(res.headers.get('Location')).toBe('http://127.0.0.1:8787/kv/a%2Fb?x=1&y=2');
    expect(await res.json()).toEqual({ error: 'not_leader', leader: leader.url });
  });

  it('cas redirects too', async () => {
    node.refuseNext({ type: 'notLeader', leader: { id: 'n3', url: 'http://10.0.0.3:9000/' } });
    const res = await cas('k', { expected: null, value: 'v' });
    expect(res.status).toBe(307);
    expect(res.headers.get('Location')).toBe('http://10.0.0.3:9000/kv/k/cas');
  });

  it.each(requests)('%s answers 503 no_leader with Retry-After when no leader is known', async (_, send) => {
    node.refuseNext({ type: 'notLeader', leader: null });
    const res = await send();
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('1');
    expect(await res.json()).toEqual({ error: 'no_leader' });
  });

  it.each(requests)('%s answers 504 timeout', async (_, send) => {
    node.refuseNext({ type: 'timeout' });
    const res = await send();
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: 'timeout' });
  });
});

describe('POST /sessions and registered sessions', () => {
  it('registers a session whose id the client sends as Client-Id', async () => {
    const real = new MachineNode();
    const a = appWith(real);
    const reg = await a.request(`${base}/sessions`, { method: 'POST' });
    expect(reg.status).toBe(200);
    const { clientId } = (await reg.json()) as { clientId: string };
    expect(clientId).toBe('session-1');
    const headers = { 'Client-Id': clientId, 'Request-Serial': '1' };
    expect((await a.request(`${base}/kv/k`, { method: 'PUT', body: 'v', headers })).status).toBe(200);
    expect(real.machine.get('k')).toBe('v');
  });

  it('answers 409 session_expired for a session the state machine does not hold, and applies nothing', async () => {
    const real = new MachineNode();
    const a = appWith(real);
    const res = await a.request(`${base}/kv/k`, { method: 'PUT', body: 'v', headers: { 'Client-Id': 'session-5', 'Request-Serial': '1' } });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('session_expired');
    expect(body.message).toMatch(/not applied/);
    expect(real.machine.get('k')).toBeNull();
  });

  it('refuses a write whose Client-Id the client chose with 400 naming the rule, before it reaches the node', async () => {
    for (const clientId of ['alice', '7', 'seed-7', 'session-0', 'session-x']) {
      for (const send of [
        () => put('/kv/k', 'v', { 'Client-Id': clientId, 'Request-Serial': '1' }),
        () => app.request(`${base}/kv/k`, { method: 'DELETE', headers: { 'Client-Id': clientId, 'Request-Serial': '1' } }),
        () => cas('k', { expected: null, value: 'v' }, { 'Client-Id': clientId, 'Request-Serial': '1' }),
      ]) {
        const res = await send();
        expect(res.status).toBe(400);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe('bad_request');
        expect(body.message).toContain(`Client-Id ${JSON.stringify(clientId)} is not a registered session`);
        expect(body.message).toContain('POST /sessions');
      }
    }
    expect(node.calls).toEqual([]);
  });

  // Issue 20: a session the table evicted must never apply a late retry of
  // one of its writes again (thesis §6.3), whatever Client-Id it used.
  it.each([
    ['a registered session', 'registered'],
    ['a Client-Id the client chose', 'chosen'],
  ])('a late retry from %s after its session was evicted is never applied again', async (_name, kind) => {
    const real = new MachineNode({ maxSessions: 2 });
    const a = appWith(real);
    const register = async () =>
      ((await (await a.request(`${base}/sessions`, { method: 'POST' })).json()) as { clientId: string }).clientId;
    const write = (value: string, clientId: string, serial: number) =>
      a.request(`${base}/kv/k`, { method: 'PUT', body: value, headers: { 'Client-Id': clientId, 'Request-Serial': String(serial) } });

    const old = kind === 'registered' ? await register() : 'old-client';
    const first = await write('old', old, 1); // applied; say its answer was lost
    if (first.status === 200) {
      expect(await write('newer', await register(), 1)).toMatchObject({ status: 200 });
      await register(); // a third session: the table holds two, so the old one goes
      expect(real.machine.get('k')).toBe('newer');
      const retry = await write('old', old, 1); // the old client retries its lost write
      expect(retry.status).toBe(409);
      expect(((await retry.json()) as { error: string }).error).toBe('session_expired');
    } else {
      // Refused up front, so there is no session to evict and no retry to fear.
      expect(first.status).toBe(400);
    }
    expect(real.machine.get('k')).toBe(kind === 'registered' ? 'newer' : null);
  });

  it('redirects a follower’s registration to the leader', async () => {
    node.refuseNext({ type: 'notLeader', leader });
    const res = await app.request(`${base}/sessions`, { method: 'POST' });
    expect(res.status).toBe(307);
    expect(res.headers.get('Location')).toBe('http://127.0.0.1:8787/sessions');
  });
});
