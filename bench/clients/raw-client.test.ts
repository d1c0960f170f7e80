// RawHttpClient (--client raw) against local servers on 127.0.0.1: node:http
// ones for the API's answers, raw node:net ones for byte-level misbehaviour.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawHttpClient } from './raw-client';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
const clients: RawHttpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A node:http server that records each request and answers with reply(request, index). */
async function httpServer(reply: (seen: Seen, n: number, res: ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      reply(s, seen.length - 1, res);
    });
  });
  server.keepAliveTimeout = 10_000;
  return { url: await listen(server), seen };
}

/** A node:net server: onRequest gets each connection's socket and its index once a full request head arrived. */
async function netServer(onRequest: (socket: Socket, connection: number) => void): Promise<{ url: string; connections: () => number }> {
  let count = 0;
  const server = createNetServer((socket) => {
    const n = count++;
    let head = '';
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      // Requests here are GETs: the head is the whole request.
      while (head.includes('\r\n\r\n')) {
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        onRequest(socket, n);
      }
    });
  });
  return { url: await listen(server), connections: () => count };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A client already in a session (`id`), so a test's server sees only its writes; null registers on the first write. */
function client(nodes: string[], timeoutMs = 2000, id: string | null = 'session-1'): RawHttpClient {
  const c = new RawHttpClient(nodes, timeoutMs, id);
  clients.push(c);
  return c;
}

const okAnswer = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';

describe('RawHttpClient', () => {
  it('set sends PUT with the value, Content-Length, Client-Id and a serial counting from 1, on one socket', async () => {
    const s = await httpServer((_, __, res) => json(res, 200, { ok: true }));
    const c = client([s.url], 2000, 'session-3');
    expect(await c.set('a/b', 'héllo')).toEqual({ ok: true });
    expect(await c.set('a/b', 'x')).toEqual({ ok: true });
    expect(
      s.seen.map((r) => [r.method, r.url, r.body, r.headers['client-id'], r.headers['request-serial'], r.headers['content-length']]),
    ).toEqual([
      ['PUT', '/kv/a%2Fb', 'héllo', 'session-3', '1', '6'],
      ['PUT', '/kv/a%2Fb', 'x', 'session-3', '2', '1'],
    ]);
    expect(s.seen[0]!.headers.host).toBe(new URL(s.url).host);
    expect(s.seen[0]!.headers.connection).toBeUndefined(); // HTTP/1.1 keeps the connection by default
  });

  it('registers a session before its first write, and again after session_expired (that write fails)', async () => {
    let sessions = 0;
    let expire = false;
    const s = await httpServer((r, _, res) => {
      if (r.method === 'POST' && r.url === '/sessions') return json(res, 200, { clientId: `session-${++sessions}` });
      if (expire) {
        expire = false;
        return json(res, 409, { error: 'session_expired', message: 'gone' });
      }
      json(res, 200, { ok: true });
    });
    const c = client([s.url], 2000, null);
    expect(await Promise.all([c.set('a', '1'), c.set('b', '2')])).toEqual([{ ok: true }, { ok: true }]); // one registration
    expire = true;
    expect(await c.set('c', '3')).toEqual({ ok: false, error: { type: 'refused', code: 'session_expired' } });
    expect(await c.set('d', '4')).toEqual({ ok: true });
    expect(s.seen.map((r) => [r.method, r.url, r.headers['client-id'], r.headers['request-serial']])).toEqual([
      ['POST', '/sessions', undefined, undefined],
      ['PUT', '/kv/a', 'session-1', '1'],
      ['PUT', '/kv/b', 'session-1', '2'],
      ['PUT', '/kv/c', 'session-1', '3'],
      ['POST', '/sessions', undefined, undefined],
      ['PUT', '/kv/d', 'session-2', '1'],
    ]);
  });

  it('writes with a client-named id to a server from before registered sessions (404 on POST /sessions)', async () => {
    const s = await httpServer((r, _, res) =>
      r.url === '/sessions' ? json(res, 404, { error: 'not_found' }) : json(res, 200, { ok: true }),
    );
    const c = client([s.url], 2000, null);
    expect(await c.set('a', '1')).toEqual({ ok: true });
    expect(await c.set('b', '2')).toEqual({ ok: true });
    const puts = s.seen.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.headers['request-serial'])).toEqual(['1', '2']);
    expect(puts[0]!.headers['client-id']).toMatch(/^bench-[0-9a-f-]{36}$/);
    expect(puts[1]!.headers['client-id']).toBe(puts[0]!.headers['client-id']);
  });

  it('a failed registration fails the write, which is never sent', async () => {
    const s = await httpServer((_, __, res) => json(res, 200, { ok: true })); // no clientId in the answer
    expect(await client([s.url], 2000, null).set('k', 'v')).toEqual({ ok: false, error: { type: 'protocol', code: 'no_session_id' } });
    expect(s.seen.map((r) => r.method)).toEqual(['POST']);
  });

  it('get succeeds on 200 and on 404, and sends no session headers', async () => {
    const s = await httpServer((r, _, res) =>
      r.url === '/kv/here' ? json(res, 200, { key: 'here', value: 'v' }) : json(res, 404, { error: 'not_found' }),
    );
    const c = client([s.url]);
    expect(await c.get('here')).toEqual({ ok: true });
    expect(await c.get('absent')).toEqual({ ok: true });
    expect(s.seen.map((r) => [r.method, r.headers['client-id'], r.headers['request-serial']])).toEqual([
      ['GET', undefined, undefined],
      ['GET', undefined, undefined],
    ]);
  });

  it('other statuses are refused with the JSON error code', async () => {
    const s = await httpServer((_, __, res) => json(res, 413, { error: 'payload_too_large' }));
    expect(await client([s.url]).set('k', 'v')).toEqual({ ok: false, error: { type: 'refused', code: 'payload_too_large' } });
  });

  it('follows 307 to the leader and stays there', async () => {
    const leader = await httpServer((_, __, res) => json(res, 200, { ok: true }));
    const follower = await httpServer((r, _, res) => json(res, 307, { error: 'not_leader' }, { location: `${leader.url}${r.url}` }));
    const c = client([follower.url, leader.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(await c.set('k', 'w')).toEqual({ ok: true });
    expect(follower.seen.length).toBe(1);
    expect(leader.seen.map((r) => r.headers['request-serial'])).toEqual(['1', '2']);
  });

  it('retries a 503 on the next node with the same serial', async () => {
    const a = await httpServer((_, __, res) => json(res, 503, { error: 'no_leader' }));
    const b = await httpServer((_, __, res) => json(res, 200, { ok: true }));
    const c = client([a.url, b.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(a.seen.map((r) => r.headers['request-serial'])).toEqual(['1']);
    expect(b.seen.map((r) => r.headers['request-serial'])).toEqual(['1']);
  });

  it('keeps retrying a 503 with the same serial until the deadline, then gives up as unavailable', async () => {
    const a = await httpServer((_, __, res) => json(res, 503, { error: 'no_leader' }));
    const result = await client([a.url], 100).set('k', 'v');
    // The last attempt may be cut short by the deadline itself (ETIMEDOUT) rather than end in a 503.
    expect(result).toMatchObject({ ok: false, error: { type: 'unavailable' } });
    expect(['no_leader', 'ETIMEDOUT']).toContain(result.ok ? '' : result.error.code);
    expect(a.seen.length).toBeGreaterThan(1);
    expect(new Set(a.seen.map((r) => r.headers['request-serial']))).toEqual(new Set(['1']));
  });

  it('reads an answer that arrives one byte per write, then reuses the socket', async () => {
    const s = await netServer((socket) => {
      let i = 0;
      const step = (): void => {
        if (i < okAnswer.length) socket.write(okAnswer[i++]!, () => setTimeout(step, 1));
      };
      step();
    });
    const c = client([s.url], 5000);
    expect(await c.get('k')).toEqual({ ok: true });
    expect(await c.get('k')).toEqual({ ok: true });
    expect(s.connections()).toBe(1);
  });

  it('retries (same node, new socket) when the connection closes mid-answer', async () => {
    const s = await netServer((socket, n) => {
      if (n === 0) socket.end(okAnswer.slice(0, 40));
      else socket.write(okAnswer);
    });
    const c = client([s.url]);
    expect(await c.get('k')).toEqual({ ok: true });
    expect(s.connections()).toBe(2);
  });

  it('reconnects lazily after the server closes an idle connection', async () => {
    const s = await netServer((socket) => socket.end(okAnswer));
    const c = client([s.url]);
    expect(await c.get('k')).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(await c.get('k')).toEqual({ ok: true });
    expect(s.connections()).toBe(2);
  });

  it('closes after an answer with Connection: close', async () => {
    const s = await netServer((socket) => socket.write(okAnswer.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')));
    const c = client([s.url]);
    expect(await c.get('k')).toEqual({ ok: true });
    expect(await c.get('k')).toEqual({ ok: true });
    expect(s.connections()).toBe(2);
  });

  it('skips an interim 100 answer that shares a chunk with the real one', async () => {
    const s = await netServer((socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${okAnswer}`));
    const c = client([s.url]);
    expect(await c.get('k')).toEqual({ ok: true });
    expect(await c.get('k')).toEqual({ ok: true });
    expect(s.connections()).toBe(1);
  });

  it('reads chunked answers, error code included', async () => {
    const s = await httpServer((r, _, res) => {
      res.writeHead(r.method === 'PUT' ? 200 : 400, { 'content-type': 'application/json' });
      res.write(r.method === 'PUT' ? '{"ok"' : '{"error":');
      setTimeout(() => res.end(r.method === 'PUT' ? ':true}' : '"bad_request"}'), 5);
    });
    const c = client([s.url]);
    expect(await c.set('k', 'v')).toEqual({ ok: true });
    expect(await c.get('k')).toEqual({ ok: false, error: { type: 'refused', code: 'bad_request' } });
    expect(s.seen.length).toBe(2);
  });

  it('fails the op clearly on an answer without a length', async () => {
    const s = await netServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close'));
    expect(await client([s.url]).get('k')).toEqual({ ok: false, error: { type: 'protocol', code: 'no_content_length' } });
  });

  it('times out a node that never answers', async () => {
    const s = await netServer(() => {});
    expect(await client([s.url], 150).get('k')).toEqual({ ok: false, error: { type: 'unavailable', code: 'ETIMEDOUT' } });
  });

  it('reports connection errors as unavailable', async () => {
    const s = await netServer(() => {});
    const url = s.url;
    await new Promise((r) => servers.pop()!.close(r));
    // A refused connection fails at once; the deadline is generous so a loaded machine cannot turn it into a timeout.
    expect(await client([url], 5000).get('k')).toEqual({ ok: false, error: { type: 'unavailable', code: 'ECONNREFUSED' } });
  });
});
