// RaftKvClient with `socket` on (client-socket.ts) against fake nodes on
// 127.0.0.1 that answer both HTTP and client-socket frames from one store:
// frames when the socket is accepted, HTTP when it is refused (and the socket
// tried again later), redirects to the leader's socket, and a socket lost
// with writes in flight (retried in the same session and serial).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws';
import { RaftKvClient } from './client';
import { frameOf, type WebSocketConstructor } from './client-socket';

interface Frame {
  id: number;
  op: string;
  key?: string;
  value?: string;
  clientId?: string;
  serial?: number;
}

interface FakeNode {
  url: string;
  http: string[];
  frames: Frame[][];
  upgrades: number;
  /** Refuse socket upgrades (404, as a node without client sockets). */
  refuse: boolean;
  /** Answer not_leader naming this URL, over HTTP and frames alike. */
  redirectTo: string | null;
  /** Drop the socket instead of answering the next write frame. */
  dropNextWrite: boolean;
  sockets: Set<WsWebSocket>;
  store: Map<string, string>;
}

const servers: Server[] = [];
const clients: RaftKvClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** The answer of one request, as the node's /kv routes would give it: [status, body]. */
function answer(n: FakeNode, op: string, key: string | undefined, value: string | undefined): [number, unknown] {
  if (n.redirectTo !== null) return [307, { error: 'not_leader', leader: n.redirectTo }];
  if (op === 'register') return [200, { clientId: 'session-5' }];
  if (op === 'get') return n.store.has(key!) ? [200, { key, value: n.store.get(key!) }] : [404, { error: 'not_found', key }];
  n.store.set(key!, value!);
  return [200, { ok: true }];
}

async function fakeNode(): Promise<FakeNode> {
  const n: FakeNode = {
    url: '',
    http: [],
    frames: [],
    upgrades: 0,
    refuse: false,
    redirectTo: null,
    dropNextWrite: false,
    sockets: new Set(),
    store: new Map(),
  };
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      n.http.push(`${req.method} ${req.url}`);
      const op = req.url === '/sessions' ? 'register' : req.method === 'GET' ? 'get' : 'put';
      const [status, json] = answer(n, op, decodeURIComponent((req.url ?? '').slice(4)), body);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    n.upgrades++;
    if (n.refuse || req.url !== '/v1/socket') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      n.sockets.add(ws);
      ws.on('message', (data: Buffer) => {
        const reqs = [JSON.parse(data.toString('utf8')) as Frame | Frame[]].flat();
        n.frames.push(reqs);
        if (n.dropNextWrite && reqs.some((r) => r.op === 'put')) {
          n.dropNextWrite = false;
          for (const r of reqs) answer(n, r.op, r.key, r.value); // applied, but the answers are lost
          ws.terminate();
          return;
        }
        ws.send(JSON.stringify(reqs.map((r) => ({ id: r.id, ...toAnswer(answer(n, r.op, r.key, r.value)) }))));
      });
    });
  });
  servers.push(server);
  server.on('close', () => n.sockets.forEach((s) => s.terminate()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  n.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return n;
}

const toAnswer = ([status, body]: [number, unknown]) => ({ status, body });

function socketClient(nodes: string[], debug: string[] = [], retryAfterMs = 100_000): RaftKvClient {
  const c = new RaftKvClient({
    nodes,
    backoff: { initialMs: 5, maxMs: 20 },
    socket: { webSocket: WsWebSocket as unknown as WebSocketConstructor, retryAfterMs },
    debug: (m) => debug.push(m),
  });
  clients.push(c);
  return c;
}

describe('frameOf', () => {
  it('maps the key-value requests to frame requests and leaves the rest to HTTP', () => {
    const session = { 'Client-Id': 'session-2', 'Request-Serial': '4' };
    expect(frameOf({ method: 'POST', path: '/sessions' })).toEqual({ op: 'register' });
    expect(frameOf({ method: 'GET', path: '/kv/a%2Fb' })).toEqual({ op: 'get', key: 'a/b' });
    expect(frameOf({ method: 'PUT', path: '/kv/k', headers: session, body: 'v' })).toEqual({
      op: 'put',
      key: 'k',
      value: 'v',
      clientId: 'session-2',
      serial: 4,
    });
    expect(frameOf({ method: 'DELETE', path: '/kv/k', headers: session })).toEqual({
      op: 'delete',
      key: 'k',
      clientId: 'session-2',
      serial: 4,
    });
    expect(frameOf({ method: 'POST', path: '/kv/k/cas', headers: session, body: '{"expected":null,"value":"x"}' })).toEqual({
      op: 'cas',
      key: 'k',
      expected: null,
      value: 'x',
      clientId: 'session-2',
      serial: 4,
    });
    expect(frameOf({ method: 'GET', path: '/status' })).toBeNull();
    expect(frameOf({ method: 'GET', path: '/cluster' })).toBeNull();
  });
});

describe('RaftKvClient over client sockets', () => {
  it('sends key-value requests and the session registration as frames on one socket; those of one turn share a frame', async () => {
    const n = await fakeNode();
    const c = socketClient([n.url]);
    expect(await c.set('a', '1')).toEqual({ ok: true });
    expect(await Promise.all([c.get('a'), c.get('b'), c.set('b', '2')])).toEqual([
      { ok: true, value: '1' },
      { ok: true, value: null },
      { ok: true },
    ]);
    expect(n.http).toEqual([]);
    expect(n.upgrades).toBe(1);
    // The write waits a turn for its session, so it follows the reads in a frame of its own.
    expect(n.frames.map((f) => f.map((r) => r.op))).toEqual([['register'], ['put'], ['get', 'get'], ['put']]);
    expect(n.frames[1]![0]).toMatchObject({ clientId: 'session-5', serial: 1 });
    expect(n.frames[3]![0]).toMatchObject({ clientId: 'session-5', serial: 2 });
    // Not key-value requests: HTTP.
    await c.status();
    expect(n.http).toEqual(['GET /status']);
  });

  it('falls back to HTTP when the socket is refused, says so, and tries the socket again later', async () => {
    const n = await fakeNode();
    n.refuse = true;
    const debug: string[] = [];
    const c = socketClient([n.url], debug, 200);
    expect(await c.set('a', '1')).toEqual({ ok: true });
    expect(await c.get('a')).toEqual({ ok: true, value: '1' });
    expect(n.http).toEqual(['POST /sessions', 'PUT /kv/a', 'GET /kv/a']);
    expect(n.upgrades).toBe(1); // not retried at every request
    expect(debug).toHaveLength(1);
    expect(debug[0]).toMatch(/client socket unavailable .*using HTTP, trying the socket again in 200 ms/);

    n.refuse = false;
    await new Promise((r) => setTimeout(r, 250));
    expect(await c.get('a')).toEqual({ ok: true, value: '1' });
    expect(n.upgrades).toBe(2);
    expect(n.frames.flat().map((r) => r.op)).toEqual(['get']);
    expect(debug[1]).toMatch(/trying the client socket again/);
  });

  it('follows not_leader to the leader and opens a socket there', async () => {
    const leader = await fakeNode();
    const follower = await fakeNode();
    follower.redirectTo = leader.url;
    const c = socketClient([follower.url, leader.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(c.leader).toBe(leader.url);
    expect(leader.frames.flat().map((r) => r.op)).toEqual(['register', 'put']);
    expect(follower.http).toEqual([]);
  });

  it('closes a follower’s socket once it redirects with nothing else in flight, and opens it again when needed', async () => {
    const leader = await fakeNode();
    const follower = await fakeNode();
    follower.redirectTo = leader.url;
    const debug: string[] = [];
    const c = socketClient([follower.url, leader.url], debug);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    await vi.waitFor(() => expect([...follower.sockets].map((s) => s.readyState)).toEqual([WsWebSocket.CLOSED]));
    expect(debug).toContain(`${follower.url}: not the leader; its client socket closed`);
    // The follower becomes the leader: a request pinned to it opens a new socket there.
    follower.redirectTo = null;
    expect(await c.get('k', { node: follower.url })).toEqual({ ok: true, value: null });
    expect(follower.upgrades).toBe(2);
  });

  it('a socket lost with writes in flight: each is retried on a new socket with its session and serial (outcome was unknown)', async () => {
    const n = await fakeNode();
    const c = socketClient([n.url]);
    expect(await c.set('warm', 'up')).toEqual({ ok: true }); // serial 1
    n.dropNextWrite = true;
    expect(await Promise.all([c.set('a', '1'), c.set('b', '2')])).toEqual([{ ok: true }, { ok: true }]);
    expect(n.upgrades).toBe(2);
    const puts = n.frames.flat().filter((r) => r.op === 'put');
    const sent = puts.map((r) => [r.key, r.clientId, r.serial]);
    expect(sent.slice(0, 3)).toEqual([
      ['warm', 'session-5', 1],
      ['a', 'session-5', 2],
      ['b', 'session-5', 3],
    ]);
    // Each retry waits out its own jittered backoff, so either may go first.
    expect(sent.slice(3).sort()).toEqual([
      ['a', 'session-5', 2],
      ['b', 'session-5', 3],
    ]);
    expect(n.http).toEqual([]);
  });
});
