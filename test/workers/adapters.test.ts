/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The pieces the Durable Object is glued from, each on its own: configuration
// parsing, the fetch transport (with a scripted fetch), the waiting-request
// bookkeeping, and the structured logger. They run in workerd like the node.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../worker/env';
import { AlarmTimers, REARM_MIN_MS } from '../../worker/adapters/alarm-timers';
import { FetchTransport } from '../../worker/adapters/fetch-transport';
import type { TransportOptions } from '../../worker/adapters/fetch-transport';
import { LogThrottle, nodeLogger } from '../../worker/logging';
import { describeConfigErrors, parseNodeConfig } from '../../worker/node/config';
import { RaftNodeObject } from '../../worker/node/node-object';
import type { Logger, LogLevel } from '../../worker/raft/logger';
import type { AppendRequest, AppendResponse, Message } from '../../worker/raft/messages';

const bindings = env as unknown as Env;

const goodVars = {
  NODE_ID: 'n1',
  NODE_URL: 'http://127.0.0.1:8787/',
  PEERS: ' n2=http://127.0.0.1:8788 , n3=http://10.0.0.3:9000/,',
  CLUSTER_SECRET: 's3cret',
};

describe('parseNodeConfig', () => {
  it('parses a full configuration and scales every timeout by SLOWDOWN', () => {
    const r = parseNodeConfig({
      ...goodVars,
      ELECTION_TIMEOUT_MS: '300',
      HEARTBEAT_INTERVAL_MS: '50',
      REQUEST_TIMEOUT_MS: '1000',
      SLOWDOWN: '2.5',
      LOG_LEVEL: 'DEBUG',
      COALESCE_REQUESTS: ' ON ',
      PEER_STREAMS: 'Off',
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.raft.self).toEqual({ id: 'n1', url: 'http://127.0.0.1:8787' });
    expect(r.settings.raft.peers).toEqual([
      { id: 'n2', url: 'http://127.0.0.1:8788' },
      { id: 'n3', url: 'http://10.0.0.3:9000' },
    ]);
    expect(r.settings.raft.electionTimeoutMs).toBe(750);
    expect(r.settings.raft.heartbeatIntervalMs).toBe(125);
    expect(r.settings.requestTimeoutMs).toBe(2500);
    expect(r.settings.peerRequestTimeoutMs).toBe(750);
    expect(r.settings).toMatchObject({
      clusterSecret: 's3cret',
      slowdown: 2.5,
      logLevel: 'debug',
      coalesceRequests: true,
      peerStreams: false,
    });
  });

  it('JOIN: a joining node (RaftConfig.join, no peers); it excludes PEERS and must be a URL', () => {
    const r = parseNodeConfig({ ...goodVars, PEERS: '', JOIN: 'http://127.0.0.1:8787/' });
    expect(r.ok && r.settings.join).toBe('http://127.0.0.1:8787');
    expect(r.ok && r.settings.raft).toMatchObject({ join: true, peers: [] });
    const both = parseNodeConfig({ ...goodVars, JOIN: 'http://127.0.0.1:8787' });
    expect(!both.ok && both.errors.join('; ')).toMatch(/JOIN and PEERS exclude each other/);
    const bad = parseNodeConfig({ ...goodVars, PEERS: '', JOIN: 'somewhere' });
    expect(!bad.ok && bad.errors.join('; ')).toMatch(/JOIN must be the http\(s\) URL/);
    const plain = parseNodeConfig(goodVars);
    expect(plain.ok && [plain.settings.join, plain.settings.raft.join]).toEqual([null, false]);
  });

  it('PEER_ROUTES: routes by member id or by configured URL; malformed items are named', () => {
    const r = parseNodeConfig({ ...goodVars, PEER_ROUTES: ' n2=http://10.0.0.2:1/ , http://127.0.0.1:8789/=http://127.0.0.1:19601,' });
    expect(r.ok && [...r.settings.peerRoutes.byId]).toEqual([['n2', 'http://10.0.0.2:1']]);
    expect(r.ok && [...r.settings.peerRoutes.byUrl]).toEqual([['http://127.0.0.1:8789', 'http://127.0.0.1:19601']]);
    const none = parseNodeConfig(goodVars);
    expect(none.ok && none.settings.peerRoutes.byId.size + none.settings.peerRoutes.byUrl.size).toBe(0);
    const bad = parseNodeConfig({ ...goodVars, PEER_ROUTES: 'n2, n3=ftp://x, n4=http://a:1, n4=http://b:1' });
    const errors = !bad.ok && bad.errors.join('; ');
    expect(errors).toMatch(/PEER_ROUTES item "n2" must look like/);
    expect(errors).toMatch(/PEER_ROUTES item "n3=ftp:\/\/x" must look like/);
    expect(errors).toMatch(/PEER_ROUTES names "n4" twice/);
  });

  it('ADMIN_TOKEN: optional, at least 8 characters', () => {
    const r = parseNodeConfig({ ...goodVars, ADMIN_TOKEN: ' admin-token-1 ' });
    expect(r.ok && r.settings.adminToken).toBe('admin-token-1');
    const none = parseNodeConfig(goodVars);
    expect(none.ok && none.settings.adminToken).toBeNull();
    const short = parseNodeConfig({ ...goodVars, ADMIN_TOKEN: 'short' });
    expect(!short.ok && short.errors.join('; ')).toMatch(/ADMIN_TOKEN must be at least 8/);
  });

  it('fills in defaults, and an empty PEERS means a single-node cluster', () => {
    const r = parseNodeConfig({ ...goodVars, PEERS: '' });
    expect(r.ok && r.settings).toMatchObject({
      raft: { peers: [], electionTimeoutMs: 400, heartbeatIntervalMs: 80 },
      requestTimeoutMs: 3000,
      slowdown: 1,
      logLevel: 'info',
      coalesceRequests: false,
      peerStreams: true,
    });
  });

  it('reports every problem at once, naming the var', () => {
    const r = parseNodeConfig({
      NODE_URL: ' ',
      PEERS: 'n2,=http://x:1',
      ELECTION_TIMEOUT_MS: 'abc',
      HEARTBEAT_INTERVAL_MS: '0',
      SLOWDOWN: '-1',
      LOG_LEVEL: 'toString',
      COALESCE_REQUESTS: 'yes',
      PEER_STREAMS: '1',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = describeConfigErrors(r.errors);
    expect(text).toMatch(/^invalid node configuration: /);
    for (const name of [
      'NODE_ID',
      'NODE_URL',
      'CLUSTER_SECRET',
      'ELECTION_TIMEOUT_MS',
      'HEARTBEAT_INTERVAL_MS',
      'SLOWDOWN',
      'LOG_LEVEL',
      'COALESCE_REQUESTS',
      'PEER_STREAMS',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain('PEERS item "n2"');
    expect(text).toContain('PEERS item "=http://x:1"');
    expect(r.errors).toHaveLength(11); // each problem once, no echoes from the core's own checks
  });

  it.each([
    [{ PEERS: 'n1=http://127.0.0.1:8788' }, /duplicate member id "n1"/],
    [{ PEERS: 'n2=http://127.0.0.1:8787' }, /"n1" and "n2" share the URL/],
    [{ PEERS: 'n2=ftp://127.0.0.1:21' }, /"n2" has an invalid URL/],
    [{ NODE_ID: 'n 1' }, /NODE_ID "n 1" must not contain/],
    [
      { ELECTION_TIMEOUT_MS: '100', HEARTBEAT_INTERVAL_MS: '80' },
      /HEARTBEAT_INTERVAL_MS \(80\) must be at most half of ELECTION_TIMEOUT_MS \(100\)$/,
    ],
  ])('refuses %j', (override, message) => {
    const r = parseNodeConfig({ ...goodVars, ...override });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(describeConfigErrors(r.errors)).toMatch(message);
  });

  it('a misconfigured node object fails every call with the reason', async () => {
    await runInDurableObject(bindings.RAFT_NODE.get(bindings.RAFT_NODE.idFromName('bad-config')), async (_obj, state) => {
      const lines: string[] = [];
      const log = console.log;
      console.log = (line: string) => lines.push(line);
      let bad: RaftNodeObject;
      try {
        bad = new RaftNodeObject(state, { ...bindings, NODE_URL: 'not a url', SLOWDOWN: 'fast' });
      } finally {
        console.log = log;
      }
      const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; node: string });
      expect(logged).toMatchObject([{ level: 'error', node: 'n1' }]);
      expect(logged[0]?.msg).toMatch(/SLOWDOWN must be a positive number.*invalid URL "not a url"/);
      for (const call of [() => bad.status(), () => bad.read('k'), () => bad.receive([])]) {
        await expect(call()).rejects.toThrow(/invalid node configuration: SLOWDOWN/);
      }
      await expect(bad.alarm()).resolves.toBeUndefined(); // nothing scheduled, nothing to do
    });
  });
});

const heartbeat = (to: string, round: number): AppendRequest => ({
  type: 'append',
  from: 'n1',
  to,
  term: 3,
  leaderUrl: 'http://n1',
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  commit: 0,
  round,
});
const ack = (from: string, round: number): AppendResponse => ({
  type: 'appendResp',
  from,
  to: 'n1',
  term: 3,
  success: true,
  prevLogIndex: 0,
  matchIndex: 0,
  round,
  lastIndex: 0,
  conflictTerm: 0,
  conflictIndex: 0,
});

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

describe('AlarmTimers', () => {
  /** A store whose setAlarm fails for the first `failures` calls; records every call. */
  function flakyStore(failures: number) {
    const calls: number[] = [];
    return {
      calls,
      setAlarm(at: number): Promise<void> {
        calls.push(at);
        return calls.length <= failures ? Promise.reject(new Error('storage unavailable')) : Promise.resolve();
      },
    };
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('arms again after a failed setAlarm, so later deadlines are not trusted to a write that never happened', async () => {
    const store = flakyStore(1);
    const errors: unknown[] = [];
    const timers = new AlarmTimers(store, null, (err) => errors.push(err));
    timers.set('tick', 1000, () => {});
    expect(store.calls).toEqual([1000]);
    await sleep(REARM_MIN_MS * 3);
    expect(errors).toHaveLength(1);
    expect(timers.armFailures).toBe(1);
    expect(store.calls).toEqual([1000, 1000]);
    expect(timers.armedAt).toBe(1000);
    // Now armed for real: a later deadline needs no write, an earlier one does.
    timers.set('later', 2000, () => {});
    timers.set('sooner', 500, () => {});
    expect(store.calls).toEqual([1000, 1000, 500]);
  });

  it('backs off while setAlarm keeps failing instead of retrying in a loop', async () => {
    const store = flakyStore(Infinity);
    const timers = new AlarmTimers(store, null, () => {});
    timers.set('tick', 1000, () => {});
    await sleep(0); // the write has failed and a retry is scheduled
    for (let i = 0; i < 20; i++) timers.set(`t${i}`, 900 - i, () => {}); // these wait for the retry
    expect(store.calls).toEqual([1000]);
    await sleep(REARM_MIN_MS * 8);
    // Pauses of 1, 2, 4 times the minimum fit in the wait: at most four writes in all.
    expect(store.calls.length).toBeGreaterThanOrEqual(3);
    expect(store.calls.length).toBeLessThanOrEqual(4);
    expect(store.calls.slice(1).every((at) => at === 881)).toBe(true);
    expect(timers.armedAt).toBeNull();
  });
});

describe('logging', () => {
  it('writes JSON lines with the live term and role, and filters by level', () => {
    const lines: string[] = [];
    const ctx = { node: 'n1', term: 1, role: 'follower' as const };
    const context: { node: string; term: number; role: 'follower' | 'leader' } = ctx;
    const log = nodeLogger('info', context, (l) => lines.push(l));
    log.log('debug', 'hidden');
    log.log('info', 'hello', { peer: 'n2' });
    context.term = 2;
    context.role = 'leader';
    log.log('warn', 'again');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { level: 'info', msg: 'hello', node: 'n1', term: 1, role: 'follower', peer: 'n2' },
      { level: 'warn', msg: 'again', node: 'n1', term: 2, role: 'leader' },
    ]);
  });

  it('LogThrottle admits one line per key per interval', () => {
    const t = new LogThrottle(100);
    expect([t.admit('a', 0), t.admit('a', 50), t.admit('b', 50), t.admit('a', 99), t.admit('a', 100)]).toEqual([0, null, 0, null, 2]);
  });
});
