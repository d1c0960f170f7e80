// WsLoadClient (--client ws) against a client-socket server played by the
// test with the `ws` package: frames out, answers in, the policy's redirects
// and retries, and a socket lost with requests in flight.
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { frameRequest, WsLoadClient } from './ws-client';

interface Req {
  id: number;
  op: string;
  key?: string;
  value?: string;
  clientId?: string;
  serial?: number;
}

const servers: WebSocketServer[] = [];
const clients: WsLoadClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A node: `answer` gets each request and the socket; it answers with [status, body] or not at all (undefined). */
async function node(
  answer: (r: Req, ws: WebSocket) => [number, unknown] | undefined,
): Promise<{ url: string; seen: Req[]; paths: string[]; clients: () => number }> {
  const seen: Req[] = [];
  const paths: string[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  server.on('connection', (ws, req) => {
    paths.push(req.url ?? '');
    ws.on('message', (data: Buffer) => {
      const reqs = [JSON.parse(data.toString('utf8')) as Req | Req[]].flat();
      const out = [];
      for (const r of reqs) {
        seen.push(r);
        const a = answer(r, ws);
        if (a !== undefined) out.push({ id: r.id, status: a[0], body: a[1] });
      }
      if (out.length > 0) ws.send(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, paths, clients: () => [...server.clients].filter((ws) => ws.readyState === ws.OPEN).length };
}

const client = (urls: string[], timeoutMs = 2000) => {
  const c = new WsLoadClient(urls, timeoutMs);
  clients.push(c);
  return c;
};

describe('frameRequest', () => {
  it("turns the policy's exchanges into frame requests", () => {
    expect(frameRequest('POST', '/sessions', {}, undefined)).toEqual({ op: 'register' });
    expect(frameRequest('GET', '/kv/a%2Fb', {}, undefined)).toEqual({ op: 'get', key: 'a/b' });
    expect(frameRequest('PUT', '/kv/k', { 'Client-Id': 'session-3', 'Request-Serial': '7' }, 'v')).toEqual({
      op: 'put',
      key: 'k',
      value: 'v',
      clientId: 'session-3',
      serial: 7,
    });
    expect(() => frameRequest('DELETE', '/kv/k', {}, undefined)).toThrow(/no frame/);
  });
});

describe('WsLoadClient', () => {
  it('registers a session over the socket, then writes in it with serials from 1, on one socket', async () => {
    const n = await node((r) =>
      r.op === 'register'
        ? [200, { clientId: 'session-9' }]
        : r.op === 'get'
          ? [404, { error: 'not_found', key: r.key }]
          : [200, { ok: true }],
    );
    const c = client([n.url]);
    expect(await c.set('a', '1')).toEqual({ ok: true });
    expect(await c.set('b', '2')).toEqual({ ok: true });
    expect(await c.get('a')).toEqual({ ok: true });
    expect(n.paths).toEqual(['/v1/socket']);
    expect(n.seen.map(({ id: _id, ...r }) => r)).toEqual([
      { op: 'register' },
      { op: 'put', key: 'a', value: '1', clientId: 'session-9', serial: 1 },
      { op: 'put', key: 'b', value: '2', clientId: 'session-9', serial: 2 },
      { op: 'get', key: 'a' },
    ]);
  });

  it('follows not_leader to the leader it names, over a socket to that node', async () => {
    const leader = await node((r) => (r.op === 'register' ? [200, { clientId: 'session-1' }] : [200, { ok: true }]));
    const follower = await node(() => [307, { error: 'not_leader', leader: leader.url }]);
    const c = client([follower.url, leader.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(follower.seen.map((r) => r.op)).toEqual(['register']);
    expect(leader.seen.map((r) => r.op)).toEqual(['register', 'put']);
    // The follower's socket was closed once it redirected; the leader's stays open.
    for (let i = 0; i < 100 && follower.clients() > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(follower.clients()).toBe(0);
    expect(leader.clients()).toBe(1);
  });

  it('a socket lost with a write in flight: the write is retried with the same session and serial on a new socket', async () => {
    let drop = true;
    const n = await node((r, ws) => {
      if (r.op === 'register') return [200, { clientId: 'session-4' }];
      if (drop) {
        drop = false;
        ws.terminate(); // the answer is lost: the outcome is unknown
        return undefined;
      }
      return [200, { ok: true }];
    });
    const c = client([n.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    const puts = n.seen.filter((r) => r.op === 'put');
    expect(puts.map((r) => [r.clientId, r.serial])).toEqual([
      ['session-4', 1],
      ['session-4', 1],
    ]);
    expect(n.paths).toHaveLength(2);
  });

  it('session_expired: the next write registers a new session', async () => {
    let sessions = 0;
    const n = await node((r) => {
      if (r.op === 'register') return [200, { clientId: `session-${++sessions}` }];
      return r.clientId === 'session-1' ? [409, { error: 'session_expired', message: 'gone' }] : [200, { ok: true }];
    });
    const c = client([n.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: false, error: { type: 'refused', code: 'session_expired' } });
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(n.seen.filter((r) => r.op === 'put').map((r) => [r.clientId, r.serial])).toEqual([
      ['session-1', 1],
      ['session-2', 1],
    ]);
  });
});
