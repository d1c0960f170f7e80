/// <reference types="@cloudflare/vitest-pool-workers/types" />
// Peer streams (worker/adapters/peer-streams.ts) inside workerd, with real
// WebSockets: the transport's side against a peer played by the test through
// a WebSocketPair, and the node's side through the Worker's GET /raft/stream.
import { SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { FetchTransport } from '../../worker/adapters/fetch-transport';
import { MAX_FRAME_BYTES } from '../../worker/adapters/peer-streams';
import { parseFrame } from '../../worker/adapters/peer-stream-server';
import type { Logger, LogLevel } from '../../worker/raft/logger';
import type { AppendRequest, AppendResponse, Message } from '../../worker/raft/messages';
import { ackTo, appendFrom } from '../fixtures/peer-messages';

const n1 = { term: 1, leaderUrl: 'http://n1:1' };
const heartbeat = (to: string, round: number, data = '') => appendFrom(n1, to, round, data);
const ack = (from: string, round: number) => ackTo(n1, from, round);

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `cond` holds (real WebSocket events take a few turns of the event loop). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await tick(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A transport from n1 to one peer, n2, played by the test: POSTs are answered
 * with an ack per message; an upgrade is answered with a socket whose frames
 * the test sees in `frames` and answers (or not, when `answering` is false).
 */
function streamedTransport(opts: { refuseUpgrade?: boolean; timeoutMs?: number } = {}) {
  const posts: Message[][] = [];
  const upgrades: { auth: string | null; upgrade: string | null }[] = [];
  const upgradeSignals: (AbortSignal | undefined)[] = [];
  const frames: { seq: number; messages: Message[] }[] = [];
  const delivered: string[] = [];
  const logs: { level: LogLevel; msg: string; reason?: unknown }[] = [];
  const sockets: WebSocket[] = [];
  const clock = { now: 1_000 };
  const peer = { answering: true };
  const logger: Logger = { log: (level, msg, fields = {}) => logs.push({ level, msg, reason: fields.reason }) };
  const fakeFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    if (headers.get('upgrade') !== null) {
      upgrades.push({ auth: headers.get('authorization'), upgrade: headers.get('upgrade') });
      upgradeSignals.push(init?.signal ?? undefined);
      if (opts.refuseUpgrade) return new Response('no', { status: 404 });
      const pair = new WebSocketPair();
      const server = pair[1];
      server.accept();
      server.addEventListener('message', (ev) => {
        const frame = JSON.parse(String(ev.data)) as { seq: number; messages: Message[] };
        frames.push(frame);
        if (peer.answering)
          server.send(JSON.stringify({ seq: frame.seq, messages: frame.messages.map((m) => ack('n2', (m as AppendRequest).round)) }));
      });
      sockets.push(server);
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    expect(String(input)).toBe('http://n2:1/raft/messages');
    const body = JSON.parse(String(init?.body)) as { messages: Message[] };
    posts.push(body.messages);
    return Response.json({ messages: body.messages.map((m) => ack('n2', (m as AppendRequest).round)) });
  };
  const work: Promise<unknown>[] = [];
  const transport = new FetchTransport({
    self: 'n1',
    peers: [{ id: 'n2', url: 'http://n2:1' }],
    secret: 'sekret',
    timeoutMs: opts.timeoutMs ?? 1_000,
    maxInflightPerPeer: 2,
    warnIntervalMs: 5_000,
    logger,
    deliver: (msgs) => delivered.push(...msgs.map((m) => `${m.from}:${(m as AppendResponse).round}`)),
    track: (p) => work.push(p),
    now: () => clock.now,
    streams: true,
    fetch: fakeFetch as typeof fetch,
  });
  const settle = () => Promise.all(work.splice(0));
  return { transport, posts, upgrades, upgradeSignals, frames, delivered, logs, sockets, clock, peer, settle };
}

describe('peer streams: the sending side', () => {
  it('POSTs while the socket opens, then sends frames on it and delivers their answers', async () => {
    const t = streamedTransport();
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    expect(t.posts.map((b) => b.length)).toEqual([1]);
    expect(t.upgrades).toEqual([{ auth: 'Bearer sekret', upgrade: 'websocket' }]);
    expect(t.transport.streamOpen('n2')).toBe(true);

    t.transport.send([heartbeat('n2', 2), heartbeat('n2', 3)]);
    t.transport.send([heartbeat('n2', 4)]);
    await until(() => t.delivered.length === 4, 'answers');
    expect(t.posts).toHaveLength(1); // nothing more went as a POST
    expect(t.frames.map((f) => [f.seq, f.messages.map((m) => (m as AppendRequest).round)])).toEqual([
      [1, [2, 3]],
      [2, [4]],
    ]);
    expect(t.delivered).toEqual(['n2:1', 'n2:2', 'n2:3', 'n2:4']);
    expect(t.transport.inflightTo('n2')).toBe(0);
  });

  it('times frames without a timer each: answered frames clear no timer', async () => {
    // Regression: in a Durable Object, workerd keeps memory for every timer cleared
    // before it fires (bench/probes/timer-memory.ts); a timer per frame made a leader grow.
    const t = streamedTransport();
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    expect(t.transport.streamOpen('n2')).toBe(true);
    const spies = [vi.spyOn(globalThis, 'setTimeout'), vi.spyOn(globalThis, 'clearTimeout')];
    try {
      for (let round = 2; round <= 51; round++) {
        t.transport.send([heartbeat('n2', round)]);
        await until(() => t.delivered.length === round, `answer ${round}`);
      }
      expect(t.frames).toHaveLength(50);
      // (The test's own waits start short timers that fire; a frame's limit is 1,000 ms.)
      const limits = spies[0]!.mock.calls.filter((c) => Number(c[1]) >= 500);
      expect(spies[1]!.mock.calls).toHaveLength(0);
      expect(limits.length).toBeLessThanOrEqual(1);
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it('keeps an open socket past the upgrade time limit', async () => {
    // Regression: a time limit on the upgrade request, left running, cut the socket it became
    // (in workerd, aborting the request closes the socket with 1006).
    const t = streamedTransport({ timeoutMs: 100 });
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    expect(t.upgradeSignals[0]).toBeDefined(); // the handshake itself is limited...
    await tick(300);
    expect(t.upgradeSignals[0]!.aborted).toBe(false); // ...but the limit ended with it
    t.transport.send([heartbeat('n2', 2)]);
    await until(() => t.delivered.length === 2, 'the answer');
    expect(t.frames).toHaveLength(1);
    expect(t.transport.streamOpen('n2')).toBe(true);
  });

  it('fails an unanswered frame alone, and keeps the socket while the peer still answers, if late', async () => {
    const t = streamedTransport({ timeoutMs: 100 });
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.peer.answering = false; // a follower paused for a while
    t.clock.now += 150;
    t.transport.send([heartbeat('n2', 2)]);
    await until(() => t.transport.inflightTo('n2') === 0, 'the frame to fail');
    expect(t.logs.filter((l) => l.level === 'warn').map((l) => l.reason)).toEqual(['stream frame timed out']);
    expect(t.transport.streamOpen('n2')).toBe(true);
    // Its answer comes after all: too late to deliver, but the socket is alive.
    t.clock.now += 200;
    t.sockets[0]!.send(JSON.stringify({ seq: t.frames[0]!.seq, messages: [ack('n2', 2)] }));
    await tick(20);
    expect(t.delivered).toEqual(['n2:1']);
    t.clock.now += 250; // silent for less than three limits since that answer
    t.transport.send([heartbeat('n2', 3)]);
    await until(() => t.transport.inflightTo('n2') === 0, 'the second frame to fail');
    expect(t.transport.streamOpen('n2')).toBe(true);
    t.peer.answering = true;
    t.transport.send([heartbeat('n2', 4)]);
    await until(() => t.delivered.includes('n2:4'), 'the answer');
    expect(t.posts).toHaveLength(1); // all of it on the one socket
    expect(t.upgrades).toHaveLength(1);
  });

  it('gives up a socket that answers nothing for several limits, POSTs meanwhile, and reconnects after a backoff', async () => {
    const t = streamedTransport({ timeoutMs: 100 });
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.peer.answering = false;
    t.clock.now += 3 * 100; // DEAD_AFTER_TIMEOUTS limits since the socket last answered
    t.transport.send([heartbeat('n2', 2)]);
    await until(() => !t.transport.streamOpen('n2'), 'the socket to be given up');
    await until(() => t.transport.inflightTo('n2') === 0, 'the frame to fail');
    expect(t.logs.filter((l) => l.level === 'warn').map((l) => l.reason)).toEqual(['stream frame timed out']);
    expect(t.logs.find((l) => l.msg.startsWith('peer stream lost'))?.reason).toBe('no frame answered for 300 ms');

    t.peer.answering = true;
    t.transport.send([heartbeat('n2', 3)]); // within the backoff: a POST, and no new upgrade
    await t.settle();
    expect(t.posts.map((b) => (b[0] as AppendRequest).round)).toEqual([1, 3]);
    expect(t.upgrades).toHaveLength(1);

    t.clock.now += 1_000;
    t.transport.send([heartbeat('n2', 4)]); // after it: a POST that also reopens the socket
    await t.settle();
    expect(t.upgrades).toHaveLength(2);
    t.transport.send([heartbeat('n2', 5)]);
    await until(() => t.delivered.includes('n2:5'), 'the answer on the new socket');
    expect(t.frames.map((f) => (f.messages[0] as AppendRequest).round)).toEqual([2, 5]);
  });

  it('fails the frames in flight when the peer closes its socket', async () => {
    const t = streamedTransport({ timeoutMs: 5_000 });
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.peer.answering = false;
    t.transport.send([heartbeat('n2', 2)]);
    await until(() => t.frames.length === 1, 'the frame');
    expect(t.transport.inflightTo('n2')).toBe(1);
    t.sockets[0]!.close(1001, 'going away');
    await until(() => t.transport.inflightTo('n2') === 0, 'the frame to fail');
    expect(t.transport.streamOpen('n2')).toBe(false);
    expect(t.logs.find((l) => l.level === 'warn')?.reason).toBe('stream closed (1001: going away)');
  });

  it('stays on POSTs, retrying later, when the peer refuses the upgrade', async () => {
    const t = streamedTransport({ refuseUpgrade: true });
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.transport.send([heartbeat('n2', 2)]);
    await t.settle();
    expect(t.upgrades).toHaveLength(1); // the second send fell within the backoff
    t.clock.now += 1_000;
    t.transport.send([heartbeat('n2', 3)]);
    await t.settle();
    expect(t.upgrades).toHaveLength(2);
    expect(t.posts).toHaveLength(3);
    expect(t.delivered).toEqual(['n2:1', 'n2:2', 'n2:3']);
    expect(t.logs.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('sends a batch too big for one frame as a POST', async () => {
    const t = streamedTransport();
    t.transport.send([heartbeat('n2', 1)]);
    await t.settle();
    t.transport.send([heartbeat('n2', 2, 'x'.repeat(MAX_FRAME_BYTES))]);
    await t.settle();
    await until(() => t.delivered.length === 2, 'the answer');
    expect(t.frames).toHaveLength(0);
    expect(t.posts).toHaveLength(2);
  });
});

describe('peer streams: the receiving node', () => {
  const streamUrl = 'http://127.0.0.1:8787/raft/stream';
  const auth = { authorization: 'Bearer local-dev-secret' };

  it('refuses an upgrade without the cluster secret, and a request that is not an upgrade', async () => {
    const unauthenticated = await SELF.fetch(streamUrl, { headers: { upgrade: 'websocket' } });
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ error: 'unauthorized' });
    const wrong = await SELF.fetch(streamUrl, { headers: { upgrade: 'websocket', authorization: 'Bearer guess' } });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    const plain = await SELF.fetch(streamUrl, { headers: auth });
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: 'upgrade_required' });
  });

  it('answers each frame under its number, and closes the socket on a malformed frame', async () => {
    const res = await SELF.fetch(streamUrl, { headers: { ...auth, upgrade: 'websocket' } });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const answers: { seq: number; messages: Message[] }[] = [];
    let closed: { code: number; reason: string } | null = null;
    ws.addEventListener('message', (ev) => answers.push(JSON.parse(String(ev.data))));
    ws.addEventListener('close', (ev) => (closed = { code: ev.code, reason: ev.reason }));

    // Every frame is answered once, under its own number. The order is not
    // promised: an answer waits in the output gate for what its messages made
    // the node write, so a later frame's answer can leave first, and the
    // sender matches answers by number. (This node runs alone, so it drops a
    // message from "n2" and has no reply to give; the cluster tests see real
    // replies come back on streams.)
    const preVote: Message = {
      type: 'vote',
      from: 'n2',
      to: 'n1',
      term: 99,
      pre: true,
      transfer: false,
      lastLogIndex: 0,
      lastLogTerm: 0,
      round: 1,
    };
    ws.send(JSON.stringify({ seq: 7, messages: [preVote] }));
    ws.send(JSON.stringify({ seq: 8, messages: [] }));
    await until(() => answers.length === 2, 'the answers');
    expect([...answers].sort((a, b) => a.seq - b.seq)).toEqual([
      { seq: 7, messages: [] },
      { seq: 8, messages: [] },
    ]);

    ws.send(JSON.stringify({ seq: 9, messages: [{ type: 'append', from: 'n2' }] }));
    await until(() => closed !== null, 'the close');
    expect(closed).toEqual({ code: 1008, reason: 'messages are malformed' });
    expect(answers).toHaveLength(2);
  });
});

describe('parseFrame', () => {
  it('accepts {seq, messages} as a POST body would be accepted, and says what is wrong otherwise', () => {
    const hb = heartbeat('n2', 1);
    expect(parseFrame(JSON.stringify({ seq: 3, messages: [hb] }))).toEqual({ ok: true, seq: 3, messages: [hb] });
    expect(parseFrame(new ArrayBuffer(4))).toEqual({ ok: false, message: 'frames must be text' });
    expect(parseFrame('{')).toEqual({ ok: false, message: 'frame is not valid JSON' });
    for (const bad of [{ messages: [] }, { seq: -1, messages: [] }, { seq: 1.5, messages: [] }, { seq: 1, messages: [], extra: 1 }, [1]]) {
      expect(parseFrame(JSON.stringify(bad))).toEqual({ ok: false, message: 'a frame is {"seq": <integer>, "messages": [...]}' });
    }
    expect(parseFrame(JSON.stringify({ seq: 1, messages: [{ ...hb, term: -1 }] }))).toEqual({
      ok: false,
      message: 'messages are malformed',
    });
  });
});
