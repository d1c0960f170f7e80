/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The fetch transport to peers (worker/adapters/fetch-transport.ts) with a
// scripted fetch: one POST per peer per batch, warnings, caps and routes.
import { describe, expect, it } from 'vitest';
import { FetchTransport } from '../../worker/adapters/fetch-transport';
import type { TransportOptions } from '../../worker/adapters/fetch-transport';
import type { Logger, LogLevel } from '../../worker/raft/logger';
import type { AppendRequest, AppendResponse, Message } from '../../worker/raft/messages';
import { ackTo, appendFrom } from '../fixtures/peer-messages';

const n1 = { term: 3, leaderUrl: 'http://n1' };
const heartbeat = (to: string, round: number) => appendFrom(n1, to, round);
const ack = (from: string, round: number) => ackTo(n1, from, round);

interface LoggedLine {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

/** n2 answers, n3 never answers (until the timeout aborts), n4 refuses our secret. */
function scriptedTransport(overrides: Partial<TransportOptions> = {}) {
  const posts: { url: string; auth: string | null; body: { messages: Message[] } }[] = [];
  const events: string[] = [];
  const logs: LoggedLine[] = [];
  const work: Promise<unknown>[] = [];
  const clock = { now: 1_000 };
  const down = new Set<string>();
  const logger: Logger = { log: (level, msg, fields = {}) => logs.push({ level, msg, fields }) };
  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const body = JSON.parse(String(init?.body)) as { messages: Message[] };
    posts.push({ url, auth: new Headers(init?.headers).get('authorization'), body });
    if (down.has(url.slice('http://'.length, url.indexOf(':', 'http://'.length)))) throw new TypeError('connection refused');
    if (url.startsWith('http://n2')) {
      // Besides the real answers: one misaddressed, one junk, and two that look right at a glance
      // (type, from, to, a numeric term) but would be refused in a request.
      const replies = [
        ...body.messages.map((m) => ack('n2', (m as AppendRequest).round)),
        ack('n3', 99),
        { junk: true },
        { ...ack('n2', 98), matchIndex: -1 },
        { ...ack('n2', 97), extra: 'field' },
        // A reply may carry an append; this one repeats an entry, which a request may not either.
        { ...heartbeat('n1', 96), from: 'n2', entries: [1, 1].map((index) => ({ index, term: 3, kind: 'noop', data: '' })) },
      ];
      return Response.json({ messages: replies });
    }
    if (url.startsWith('http://n4')) return new Response('no', { status: 401 });
    return new Promise<Response>((_, reject) => {
      init?.signal?.addEventListener('abort', () => {
        events.push('n3 aborted');
        reject(init.signal?.reason);
      });
    });
  };
  const transport = new FetchTransport({
    self: 'n1',
    peers: ['n2', 'n3', 'n4'].map((id) => ({ id, url: `http://${id}:1` })),
    secret: 'sekret',
    timeoutMs: 50,
    maxInflightPerPeer: 4,
    warnIntervalMs: 5_000,
    logger,
    deliver: (msgs) => events.push(`deliver ${msgs.map((m) => `${m.from}:${m.type}:${(m as AppendResponse).round}`).join(',')}`),
    track: (p) => work.push(p),
    now: () => clock.now,
    streams: false,
    fetch: fakeFetch as typeof fetch,
    ...overrides,
  });
  const settle = () => Promise.all(work.splice(0));
  return { transport, posts, events, logs, clock, down, settle };
}

describe('FetchTransport', () => {
  it('sends one authenticated POST per peer per batch and never waits for a slow peer', async () => {
    const t = scriptedTransport();
    t.transport.send([heartbeat('n2', 1), heartbeat('n3', 1), heartbeat('n2', 2), heartbeat('n4', 1)]);
    // send() returned before any reply: the POSTs run on their own.
    expect(t.events).toEqual([]);
    expect(t.posts.map((p) => [p.url, p.body.messages.map((m) => m.to + '#' + (m as AppendRequest).round)])).toEqual([
      ['http://n2:1/raft/messages', ['n2#1', 'n2#2']],
      ['http://n3:1/raft/messages', ['n3#1']],
      ['http://n4:1/raft/messages', ['n4#1']],
    ]);
    expect(t.posts.every((p) => p.auth === 'Bearer sekret')).toBe(true);
    await t.settle();
    // n2's replies were delivered before n3's POST gave up; the misaddressed and malformed ones
    // were dropped, checked as strictly as the messages of a request.
    expect(t.events).toEqual(['deliver n2:appendResp:1,n2:appendResp:2', 'n3 aborted']);
    const warns = t.logs.filter((l) => l.level === 'warn').map((l) => [l.fields.peer, l.fields.reason]);
    expect(warns).toEqual(
      expect.arrayContaining([
        ['n2', 'ignored 5 malformed or misaddressed reply message(s)'],
        ['n3', 'timed out'],
        ['n4', 'HTTP 401 (CLUSTER_SECRET differs between nodes?)'],
      ]),
    );
    expect(warns).toHaveLength(3);
  });

  it('rate-limits warnings per peer and says how many it held back', async () => {
    const t = scriptedTransport();
    for (let i = 0; i < 3; i++) {
      t.transport.send([heartbeat('n4', i)]);
      await t.settle();
    }
    t.clock.now += 5_000;
    t.transport.send([heartbeat('n4', 9)]);
    await t.settle();
    const warns = t.logs.filter((l) => l.level === 'warn');
    expect(warns.map((w) => w.fields.suppressed)).toEqual([0, 2]);
  });

  it('says once that a failing peer is reachable again', async () => {
    const t = scriptedTransport();
    t.down.add('n2');
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.down.clear();
    for (let i = 2; i < 5; i++) {
      t.transport.send([heartbeat('n2', i)]);
      await t.settle();
    }
    expect(t.logs.filter((l) => l.level !== 'debug').map((l) => [l.msg, l.fields.reason])).toEqual([
      ['peer request failed', 'TypeError: connection refused'],
      ['peer reachable again', undefined],
      // (n2's junk replies would warn too, but the first warning's interval holds them back)
    ]);
  });

  it('caps requests in flight per peer, coalesces the rest into one POST, and drops messages for unknown peers', async () => {
    const t = scriptedTransport({ maxInflightPerPeer: 2, timeoutMs: 100 });
    expect(t.transport.hasFreeSlot('n3')).toBe(true);
    t.transport.send([heartbeat('n3', 0)]);
    expect(t.transport.hasFreeSlot('n3')).toBe(true); // one of two slots taken
    for (let i = 1; i < 5; i++) t.transport.send([heartbeat('n3', i)]);
    t.transport.send([heartbeat('n9', 0)]);
    expect(t.transport.hasFreeSlot('n3')).toBe(false);
    expect(t.transport.inflightTo('n3')).toBe(2);
    expect(t.transport.heldFor('n3')).toBe(3);
    expect(t.posts.map((p) => p.url)).toEqual(['http://n3:1/raft/messages', 'http://n3:1/raft/messages']);
    expect(t.logs.filter((l) => l.level !== 'debug').map((l) => [l.level, l.msg])).toEqual([
      ['error', 'core addressed a message to an unknown peer'],
    ]);
    await t.settle(); // the first two time out...
    await t.settle(); // ...and the third, started when a slot freed
    // the three held heartbeats went out together, in order, in a third POST
    expect(t.posts).toHaveLength(3);
    expect(t.posts[2]!.body.messages.map((m) => (m as AppendRequest).round)).toEqual([2, 3, 4]);
    expect(t.transport.heldFor('n3')).toBe(0);
    expect(t.transport.inflightTo('n3')).toBe(0);
    expect(t.transport.hasFreeSlot('n3')).toBe(true);
  });

  it('sends to the routed URL of a member (PEER_ROUTES), also for members added later, by id before URL', async () => {
    const routes = {
      byId: new Map([['n2', 'http://n4:1']]),
      byUrl: new Map([
        ['http://n3:1', 'http://n2:1'],
        ['http://n2:1', 'http://n3:1'],
      ]),
    };
    const t = scriptedTransport({ peers: [{ id: 'n2', url: 'http://n2:1' }], routes });
    t.transport.send([heartbeat('n2', 1)]);
    // A member known only from a later configuration entry, under a new id: routed by its URL.
    t.transport.setPeers([
      { id: 'n2', url: 'http://n2:1' },
      { id: 'n7', url: 'http://n3:1' },
      { id: 'n8', url: 'http://n5:1' },
    ]);
    t.transport.send([heartbeat('n7', 2), heartbeat('n8', 3)]);
    expect(t.posts.map((p) => [p.body.messages[0]!.to, p.url])).toEqual([
      ['n2', 'http://n4:1/raft/messages'],
      ['n7', 'http://n2:1/raft/messages'],
      ['n8', 'http://n5:1/raft/messages'],
    ]);
    await t.settle();
  });

  it('reports a closed port quickly through the real fetch', async () => {
    const t = scriptedTransport({ fetch: undefined, peers: [{ id: 'n2', url: 'http://127.0.0.1:9' }], timeoutMs: 2_000 });
    const started = Date.now();
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(t.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});
