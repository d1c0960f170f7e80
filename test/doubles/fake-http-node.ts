// Test double (tests only, Node only): a scripted HTTP server on 127.0.0.1
// that plays one raft-kv node. Each request is recorded and answered by a
// script, so client tests can stage redirects, 503s, 504s, hangs and dropped
// connections without a cluster.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export type Reply =
  | { status: number; json?: unknown; text?: string; headers?: Record<string, string> }
  /** Never answer (until the server closes). */
  | 'hang'
  /** Read the request, then drop the connection without an answer. */
  | 'drop';

export type Script = (req: SeenRequest, node: FakeNode) => Reply;

export interface FakeNode {
  url: string;
  seen: SeenRequest[];
  script: Script;
  close(): Promise<void>;
}

export async function startFakeNode(script: Script): Promise<FakeNode> {
  const pending = new Set<ServerResponse>();
  const node: FakeNode = { url: '', seen: [], script, close: async () => {} };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const seen: SeenRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      node.seen.push(seen);
      const reply = node.script(seen, node);
      if (reply === 'hang') {
        pending.add(res);
        return;
      }
      if (reply === 'drop') {
        req.socket.destroy();
        return;
      }
      const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
      const type = reply.json !== undefined ? { 'content-type': 'application/json' } : {};
      res.writeHead(reply.status, { ...type, ...reply.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  node.url = `http://127.0.0.1:${port}`;
  node.close = () =>
    new Promise<void>((resolve) => {
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return node;
}

/** A URL on which nothing listens (a port just released). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A script for a healthy leader holding an in-memory map, with sessions ignored. */
export function leaderScript(store = new Map<string, string>()): Script {
  let sessions = 0;
  return (req) => {
    if (req.method === 'POST' && req.path === '/sessions') return { status: 200, json: { clientId: `session-${++sessions}` } };
    const m = /^\/kv\/([^/]+)(\/cas)?$/.exec(req.path);
    if (req.path === '/status') return { status: 200, json: { id: 'n1', url: 'x', role: 'leader', term: 1 } };
    if (m === null) return { status: 404, json: { error: 'bad_request', message: 'no route' } };
    const key = decodeURIComponent(m[1] ?? '');
    if (m[2] !== undefined) {
      const { expected, value } = JSON.parse(req.body) as { expected: string | null; value: string };
      const current = store.get(key) ?? null;
      if (current !== expected) return { status: 409, json: { error: 'cas_mismatch', current } };
      store.set(key, value);
      return { status: 200, json: { ok: true } };
    }
    if (req.method === 'GET') {
      const value = store.get(key);
      return value === undefined ? { status: 404, json: { error: 'not_found', key } } : { status: 200, json: { key, value } };
    }
    if (req.method === 'PUT') store.set(key, req.body);
    else if (req.method === 'DELETE') store.delete(key);
    return { status: 200, json: { ok: true } };
  };
}

/** A follower's answer naming `leaderUrl`, as the API does (Location + body hint). */
export function redirectTo(leaderUrl: string, path: string): Reply {
  return { status: 307, headers: { location: leaderUrl + path }, json: { error: 'not_leader', leader: leaderUrl } };
}

/**
 * For a test file: `node(script)` starts a fake node that is closed after the
 * test. Pass vitest's `afterEach` (this file does not import vitest).
 */
export function fakeNodesPerTest(afterEach: (fn: () => Promise<void>) => void): (script: Script) => Promise<FakeNode> {
  const started: FakeNode[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.close()));
  });
  return async (script) => {
    const n = await startFakeNode(script);
    started.push(n);
    return n;
  };
}

/** Short client backoffs, so retries in tests take milliseconds. */
export const fastBackoff = { backoff: { initialMs: 5, maxMs: 40 } };
