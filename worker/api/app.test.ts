import { describe, expect, it } from 'vitest';
import { createApp } from './app';
import { FakeNode, appWith, fakeStatus } from '../../test/doubles/fake-node';
import { silentLogger, type Logger } from '../raft/logger';

const base = 'http://127.0.0.1:8787';

describe('GET /status', () => {
  it('returns the node status as JSON', async () => {
    const node = new FakeNode();
    const res = await appWith(node).request(`${base}/status`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(fakeStatus);
  });
});

describe('HEAD', () => {
  it('is answered like GET, without a body', async () => {
    const node = new FakeNode();
    node.store.set('k', 'v');
    const res = await appWith(node).request(`${base}/kv/k`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('a failure of the node', () => {
  it('is a 500 JSON naming the error, and is logged', async () => {
    const lines: string[] = [];
    const logger: Logger = { log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })) };
    const broken = new FakeNode();
    broken.read = () => Promise.reject(new Error('Durable Object reset'));
    const app = createApp<object>({ node: () => broken, clusterSecret: () => 's', logger: () => logger });
    const res = await app.request(`${base}/kv/k`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'internal', message: 'Durable Object reset' });
    expect(lines.join('\n')).toContain('Durable Object reset');
  });

  it('a result for another op is a bug, reported as 500', async () => {
    const node = new FakeNode().resultNext({ ok: true, op: 'delete', existed: false });
    const res = await createApp<object>({ node: () => node, clusterSecret: () => 's', logger: () => silentLogger }).request(
      `${base}/kv/k`,
      { method: 'PUT', body: 'v' },
    );
    expect(res.status).toBe(500);
  });
});

describe('reads and writes get the request keep-alive (ExecutionContext.waitUntil)', () => {
  it('hands the node a keepAlive that calls waitUntil when the request has a context, and none when it has not', async () => {
    const node = new FakeNode();
    const given: boolean[] = [];
    const app = createApp<object>({
      node: (_env, keepAlive) => {
        given.push(keepAlive !== undefined);
        keepAlive?.(Promise.resolve('work'));
        return node;
      },
      clusterSecret: () => 's',
      logger: () => silentLogger,
    });
    const waited: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => waited.push(p), passThroughOnException: () => {}, props: {} };
    expect((await app.fetch(new Request(`${base}/kv/k`, { method: 'PUT', body: 'v' }), {}, ctx)).status).toBe(200);
    expect((await app.fetch(new Request(`${base}/kv/k`), {}, ctx)).status).toBe(200);
    expect(waited).toHaveLength(2);
    await expect(waited[0]).resolves.toBe('work');
    expect((await app.request(`${base}/kv/k`)).status).toBe(200); // no context
    expect(given).toEqual([true, true, false]);
  });
});
