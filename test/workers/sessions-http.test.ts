// Sessions over HTTP through the real Worker and its Durable Object (issue 20,
// docs/sessions.md): a write may only name a session the cluster handed out,
// and a retry in a registered session is answered from the session, not
// applied again (Raft thesis §6.3).
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { electAlone, nodeNamed } from './nodes';

const base = 'http://127.0.0.1:8787';
/** The object the Worker sends client requests to (worker/front/index.ts). */
const workerNode = () => nodeNamed('node');

const put = (key: string, value: string, clientId: string, serial: number) =>
  SELF.fetch(`${base}/kv/${key}`, { method: 'PUT', body: value, headers: { 'Client-Id': clientId, 'Request-Serial': String(serial) } });

describe('sessions over HTTP', () => {
  it('refuses a write whose Client-Id the cluster did not hand out with 400, and applies nothing', async () => {
    await electAlone(workerNode());
    for (const clientId of ['alice', '42', 'seed-42']) {
      const res = await put('k', 'v', clientId, 1);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message).toContain(`Client-Id ${JSON.stringify(clientId)} is not a registered session`);
    }
    expect((await SELF.fetch(`${base}/kv/k`)).status).toBe(404);
  });

  it('a registered session: the write applies once, its late retry is answered from the session', async () => {
    await electAlone(workerNode());
    const register = async () => {
      const res = await SELF.fetch(`${base}/sessions`, { method: 'POST' });
      expect(res.status).toBe(200);
      return ((await res.json()) as { clientId: string }).clientId;
    };
    const mine = await register();
    expect(mine).toMatch(/^session-[1-9][0-9]*$/);
    expect((await put('k', 'mine', mine, 1)).status).toBe(200);
    expect((await put('k', 'theirs', await register(), 1)).status).toBe(200);
    // The retry of my write (its answer "lost") must not overwrite theirs.
    expect((await put('k', 'mine', mine, 1)).status).toBe(200);
    expect(await (await SELF.fetch(`${base}/kv/k`)).json()).toEqual({ key: 'k', value: 'theirs' });
    // A session never registered (an index past the log's end) is refused, not opened.
    const never = await put('k', 'ghost', 'session-999999', 1);
    expect(never.status).toBe(409);
    expect(((await never.json()) as { error: string }).error).toBe('session_expired');
    expect(await (await SELF.fetch(`${base}/kv/k`)).json()).toEqual({ key: 'k', value: 'theirs' });
  });
});
