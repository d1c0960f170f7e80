import { beforeEach, describe, expect, it } from 'vitest';
import { FakeNode, MachineNode, appWith } from '../../test/doubles/fake-node';

const base = 'http://127.0.0.1:8787';
let node: FakeNode;
let app: ReturnType<typeof appWith>;

beforeEach(() => {
  node = new FakeNode();
  app = appWith(node);
});

/** What the seed's client sends: JSON labelled text/plain. */
const seedPost = (path: string, body: unknown) =>
  app.request(`${base}${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'text/plain' },
  });

describe('POST /set/:key', () => {
  it('answers ok in text and maps the numeric client to a session', async () => {
    // The seed's serials may start at 0; sessions start at 1, so the node sees serial + 1.
    const res = await seedPost('/set/color', { clientId: 7, value: 'blue', requestSerial: 0 });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(node.store.get('color')).toBe('blue');
    expect(node.calls).toEqual([
      {
        method: 'write',
        req: { cmd: { op: 'set', key: 'color', value: 'blue' }, session: { clientId: 'seed-7', serial: 1 } },
      },
    ]);
  });

  it('works with an application/json body too', async () => {
    const res = await app.request(`${base}/set/k`, {
      method: 'POST',
      body: JSON.stringify({ clientId: 1, value: 'v', requestSerial: 2 }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('answers 400 in text on a follower, without redirecting', async () => {
    node.refuseNext({ type: 'notLeader', leader: { id: 'n2', url: 'http://127.0.0.1:8788' } });
    const res = await seedPost('/set/k', { clientId: 1, value: 'v', requestSerial: 1 });
    expect(res.status).toBe(400);
    expect(res.headers.get('Location')).toBeNull();
    expect(await res.text()).toBe('This Raft node is not the leader');
  });

  it('answers 400 in text when no leader is known either', async () => {
    node.refuseNext({ type: 'notLeader', leader: null });
    const res = await seedPost('/set/k', { clientId: 1, value: 'v', requestSerial: 1 });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('This Raft node is not the leader');
  });

  it('answers 503 on timeout', async () => {
    node.refuseNext({ type: 'timeout' });
    const res = await seedPost('/set/k', { clientId: 1, value: 'v', requestSerial: 1 });
    expect(res.status).toBe(503);
  });

  it('requires a value', async () => {
    const res = await seedPost('/set/k', { clientId: 1, requestSerial: 1 });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request', message: expect.stringContaining('value') });
    expect(node.calls).toEqual([]);
  });
});

describe('POST /delete/:key', () => {
  it('answers ok and ignores a value', async () => {
    node.store.set('k', 'v');
    const res = await seedPost('/delete/k', { clientId: 3, requestSerial: 5, value: 'ignored' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(node.store.has('k')).toBe(false);
    expect(node.calls).toEqual([{ method: 'write', req: { cmd: { op: 'delete', key: 'k' }, session: { clientId: 'seed-3', serial: 6 } } }]);
  });

  it('answers 400 in text on a follower', async () => {
    node.refuseNext({ type: 'notLeader', leader: null });
    const res = await seedPost('/delete/k', { clientId: 3, requestSerial: 5 });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('This Raft node is not the leader');
  });
});

describe('GET /get/:key', () => {
  it('answers the raw value as text', async () => {
    node.store.set('k', '{"raw":true}');
    const res = await app.request(`${base}/get/k`, { headers: { 'Content-Type': 'text/plain' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('{"raw":true}');
  });

  it('answers 204 with no body when the key is absent', async () => {
    const res = await app.request(`${base}/get/nothing`);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('answers 400 in text on a follower and 503 on timeout', async () => {
    node.refuseNext({ type: 'notLeader', leader: null }).refuseNext({ type: 'timeout' });
    const follower = await app.request(`${base}/get/k`);
    expect(follower.status).toBe(400);
    expect(await follower.text()).toBe('This Raft node is not the leader');
    expect((await app.request(`${base}/get/k`)).status).toBe(503);
  });
});

describe('bad seed bodies', () => {
  const cases: [string, string, unknown][] = [
    ['malformed JSON', '/set/k', '{clientId: 1'],
    ['empty body', '/set/k', ''],
    ['clientId as a string', '/set/k', { clientId: '1', value: 'v', requestSerial: 1 }],
    ['fractional clientId', '/set/k', { clientId: 1.5, value: 'v', requestSerial: 1 }],
    ['missing requestSerial', '/delete/k', { clientId: 1 }],
    ['requestSerial negative', '/delete/k', { clientId: 1, requestSerial: -1 }],
    ['value as a number', '/set/k', { clientId: 1, value: 5, requestSerial: 1 }],
    ['body is an array', '/set/k', [1, 2]],
  ];
  it.each(cases)('%s → 400 JSON, nothing delivered', async (_, path, body) => {
    const res = await seedPost(path, body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; message: string };
    expect(json.error).toBe('bad_request');
    expect(json.message.length).toBeGreaterThan(0);
    expect(node.calls).toEqual([]);
  });

  it('an oversized value → 413', async () => {
    const res = await seedPost('/set/k', { clientId: 1, value: 'x'.repeat(64 * 1024 + 1), requestSerial: 1 });
    expect(res.status).toBe(413);
    expect(node.calls).toEqual([]);
  });
});

describe('session refusals name what the seed client sent', () => {
  it('serial_reused names the requestSerial, not the session serial', async () => {
    const real = appWith(new MachineNode());
    const post = (body: unknown) =>
      real.request(`${base}/set/g`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'text/plain' } });
    expect((await post({ clientId: 80, value: 'v', requestSerial: 3 })).status).toBe(200);
    const res = await post({ clientId: 80, value: 'w', requestSerial: 3 });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('serial_reused');
    expect(body.message).toMatch(/^requestSerial 3 of clientId 80 was already used/);
  });
});
