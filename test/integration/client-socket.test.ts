// Client sockets (docs/client-sockets.md) against a real 3-node cluster of
// `npm run node`-style processes: the library's requests go as frames into
// the nodes' objects (no HTTP for them), a follower's not_leader leads the
// client to the leader's socket, and when the leader's process group is
// killed with writes in flight the client reconnects to the new leader and
// every acknowledged write is there, none applied twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket } from 'ws';
import { startCluster, type Cluster } from '../../launcher/start-cluster';
import { RaftKvClient } from '../../client/client';
import type { WebSocketConstructor } from '../../client/client-socket';

let cluster: Cluster;
const httpPaths: string[] = [];
/** fetch that records what went over HTTP, so the test can tell sockets carried the rest. */
const countingFetch: typeof fetch = (input, init) => {
  httpPaths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
  return fetch(input, init);
};

beforeAll(async () => {
  cluster = await startCluster({
    mode: 'process',
    nodes: 3,
    basePort: 18_880,
    electionTimeoutMs: 300,
    heartbeatIntervalMs: 50,
    requestTimeoutMs: 1000,
    logLevel: 'warn',
  });
  await cluster.waitForLeader(20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const client = (nodes: string[], debug: string[]) =>
  new RaftKvClient({
    nodes,
    fetch: countingFetch,
    timeoutMs: 15_000,
    socket: { webSocket: WsWebSocket as unknown as WebSocketConstructor, retryAfterMs: 60_000 },
    debug: (m) => debug.push(m),
  });

describe('client sockets on a cluster of processes', () => {
  it('from a follower: redirected to the leader, whose socket carries every key-value request', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    const debug: string[] = [];
    const c = client([follower.url], debug);
    httpPaths.length = 0;
    try {
      expect(await c.set('sock-a', 'one')).toEqual({ ok: true });
      expect(c.leader).toBe(leader.url);
      // Three requests in flight on one socket. They touch different keys: a read concurrent with a
      // write of its own key may linearize on either side of it, so it could see either value.
      expect(await Promise.all([c.get('sock-a'), c.get('sock-none'), c.set('sock-c', 'three')])).toEqual([
        { ok: true, value: 'one' },
        { ok: true, value: null },
        { ok: true },
      ]);
      expect(await c.cas('sock-a', 'one', 'two')).toEqual({ ok: true, swapped: true });
      expect(await c.get('sock-a')).toEqual({ ok: true, value: 'two' });
      expect(await c.delete('sock-a')).toEqual({ ok: true });
      expect(httpPaths).toEqual([]);
      // No fallback to HTTP; the follower's socket, no longer needed, was closed.
      expect(debug).toEqual([expect.stringMatching(/: not the leader; its client socket closed$/)]);
      // What the socket wrote, HTTP reads.
      expect(await c.set('sock-b', 'via socket')).toEqual({ ok: true });
      const res = await fetch(`${leader.url}/kv/sock-b`);
      expect(await res.json()).toEqual({ key: 'sock-b', value: 'via socket' });
    } finally {
      c.close();
    }
  });

  it('the leader killed with writes in flight: the clients reconnect to the new leader, every acknowledged write is there once', async () => {
    const urls = cluster.members.map((m) => m.url);
    const leader = await cluster.waitForLeader();
    const debug: string[] = [];
    // A client (so a session) per writer, one write in flight each: a session remembers only its last
    // 64 serials, so writers sharing one could see a retried serial judged too old (stale_serial).
    const writers = Array.from({ length: 8 }, (_, w) => ({ key: `sock-count-${w}`, c: client(urls, debug) }));
    try {
      // A counter per writer, moved by cas from n to n+1: a retry applied a second time would find n+1 and fail.
      for (const { key, c } of writers) expect(await c.set(key, '0')).toEqual({ ok: true });
      const acked = new Map(writers.map(({ key }) => [key, 0]));
      let stop = false;
      const loops = writers.map(async ({ key, c }) => {
        while (!stop) {
          const n = acked.get(key)!;
          const r = await c.cas(key, String(n), String(n + 1));
          if (!r.ok) throw new Error(`${key}: ${r.error.message}`);
          // A retry whose first attempt was applied is answered from the session (swapped); applied twice, it would mismatch.
          if (!r.swapped) throw new Error(`${key}: expected ${n}, found ${r.current}`);
          acked.set(key, n + 1);
        }
      });
      await new Promise((r) => setTimeout(r, 500));
      await cluster.kill(leader.id);
      const next = await cluster.waitForLeader(20_000);
      expect(next.id).not.toBe(leader.id);
      await new Promise((r) => setTimeout(r, 1000));
      stop = true;
      await Promise.all(loops);
      const reader = writers[0]!.c;
      expect(reader.leader).toBe(next.url);
      for (const { key } of writers) expect(await reader.get(key)).toEqual({ ok: true, value: String(acked.get(key)) });
    } finally {
      for (const { c } of writers) c.close();
      await cluster.restart(leader.id);
    }
  }, 90_000);
});
