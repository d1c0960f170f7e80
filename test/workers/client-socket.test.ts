/// <reference types="@cloudflare/vitest-pool-workers/types" />
// Client sockets (docs/client-sockets.md) inside workerd: GET /v1/socket
// through the real Worker, and frames of requests answered by the node's
// Durable Object itself with the answers the /kv routes give.
import { runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_REQUESTS, MAX_IN_FLIGHT } from '../../worker/api/client-socket';
import type { RaftNodeObject } from '../../worker/node/node-object';
import { answerClientFrame, type ClientSocketNode } from '../../worker/adapters/client-socket-server';
import type { KvRequest } from '../../worker/kv/commands';
import type { ReadOutcome, WriteOutcome } from '../../worker/node-api';
import { electAlone, nodeNamed, type Stub } from './nodes';

const base = 'http://127.0.0.1:8787';
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  id: number | null;
  status: number;
  body: Record<string, unknown>;
}

/** A client socket: every answer received, and the close if one came. */
async function open(stub?: Stub) {
  const init = { headers: { upgrade: 'websocket' } };
  const res = stub === undefined ? await SELF.fetch(`${base}/v1/socket`, init) : await stub.fetch(`${base}/v1/socket`, init);
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const frames: Answer[][] = [];
  const conn = { ws, frames, closed: null as { code: number; reason: string } | null };
  ws.addEventListener('message', (ev) => frames.push(JSON.parse(String(ev.data)) as Answer[]));
  ws.addEventListener('close', (ev) => (conn.closed = { code: ev.code, reason: ev.reason }));
  const answers = () => frames.flat();
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 400; i++) {
      if (cond()) return;
      await tick(5);
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  /** Send a frame and wait for the answers to all its ids. */
  const ask = async (frame: unknown): Promise<Answer[]> => {
    const ids = (Array.isArray(frame) ? frame : [frame]).map((r: { id: number }) => r.id);
    ws.send(JSON.stringify(frame));
    await until(() => ids.every((id) => answers().some((a) => a.id === id)), `answers to ${ids.join(',')}`);
    return ids.map((id) =>
      answers()
        .filter((a) => a.id === id)
        .at(-1)!,
    );
  };
  return {
    ws,
    frames,
    get closed() {
      return conn.closed;
    },
    answers,
    until,
    ask,
  };
}

describe('client socket: the Worker route', () => {
  it('refuses GET /v1/socket without an upgrade with 426, and accepts an upgrade into the node', async () => {
    const plain = await SELF.fetch(`${base}/v1/socket`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: 'upgrade_required' });
    await electAlone(nodeNamed('node'));
    const c = await open();
    const [reg] = await c.ask({ id: 1, op: 'register' });
    expect(reg).toMatchObject({ id: 1, status: 200, body: { clientId: expect.stringMatching(/^session-[1-9][0-9]*$/) } });
    c.ws.close();
  });
});

describe('client socket: requests on the node', () => {
  it('registers, writes in the session, reads linearizably: the answers of the /kv routes', async () => {
    const stub = nodeNamed('socket-basics');
    await electAlone(stub);
    const c = await open(stub);
    const [reg] = await c.ask({ id: 0, op: 'register' });
    const clientId = reg!.body.clientId as string;
    expect(await c.ask({ id: 1, op: 'put', key: 'a', value: '1', clientId, serial: 1 })).toEqual([
      { id: 1, status: 200, body: { ok: true } },
    ]);
    expect(await c.ask({ id: 2, op: 'get', key: 'a' })).toEqual([{ id: 2, status: 200, body: { key: 'a', value: '1' } }]);
    expect(await c.ask({ id: 3, op: 'get', key: 'nope' })).toEqual([{ id: 3, status: 404, body: { error: 'not_found', key: 'nope' } }]);
    expect(await c.ask({ id: 4, op: 'cas', key: 'a', expected: '0', value: '2', clientId, serial: 2 })).toEqual([
      { id: 4, status: 409, body: { error: 'cas_mismatch', current: '1' } },
    ]);
    expect(await c.ask({ id: 5, op: 'delete', key: 'a', clientId, serial: 3 })).toEqual([{ id: 5, status: 200, body: { ok: true } }]);
    expect(await stub.read('a')).toEqual({ type: 'ok', value: null });
    // Session rules as over HTTP: a retry is answered from the session, a reused serial with another command refused.
    expect(await c.ask({ id: 6, op: 'put', key: 'a', value: '1', clientId, serial: 1 })).toEqual([
      { id: 6, status: 200, body: { ok: true } },
    ]);
    expect(await stub.read('a')).toEqual({ type: 'ok', value: null });
    const [reused] = await c.ask({ id: 7, op: 'put', key: 'a', value: 'other', clientId, serial: 1 });
    expect(reused).toMatchObject({ id: 7, status: 409, body: { error: 'serial_reused' } });
    const [expired] = await c.ask({ id: 8, op: 'put', key: 'a', value: 'x', clientId: 'session-999999', serial: 1 });
    expect(expired).toMatchObject({ id: 8, status: 409, body: { error: 'session_expired' } });
    c.ws.close();
  });

  it('a batch frame: its writes are proposed together (one log append) and its reads answered together', async () => {
    const stub = nodeNamed('socket-batch');
    await electAlone(stub);
    const c = await open(stub);
    const before = (await stub.status()).lastLogIndex;
    const writes = Array.from({ length: 20 }, (_, i) => ({ id: 100 + i, op: 'put', key: `k${i}`, value: `v${i}` }));
    const answers = await c.ask(writes);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect((await stub.status()).lastLogIndex).toBe(before + 20);
    // One frame carried all twenty answers: they settled in the same turn.
    expect(c.frames.at(-1)).toHaveLength(20);
    const reads = await c.ask([...writes.map((w) => ({ id: w.id + 100, op: 'get', key: w.key })), { id: 999, op: 'get', key: 'none' }]);
    expect(reads.slice(0, 20).map((a) => a.body.value)).toEqual(writes.map((w) => w.value));
    expect(reads[20]).toMatchObject({ status: 404 });
    c.ws.close();
  });

  it('answers a write only once it is in the stored log and committed', async () => {
    const stub = nodeNamed('socket-durable');
    await electAlone(stub);
    const c = await open(stub);
    const [a] = await c.ask({ id: 1, op: 'put', key: 'durable', value: 'yes' });
    expect(a!.status).toBe(200);
    const seen = await runInDurableObject(stub, (_obj: RaftNodeObject, state) =>
      state.storage.sql
        .exec<{ data: string }>("SELECT data FROM raft_log WHERE kind = 'command' ORDER BY idx DESC LIMIT 1")
        .toArray()
        .map((r) => r.data),
    );
    expect(seen[0]).toContain('durable');
    const status = await stub.status();
    expect(status.commitIndex).toBe(status.lastLogIndex);
    c.ws.close();
  });

  it('not the leader: no_leader before an election, not_leader naming the leader once one is known', async () => {
    const stub = nodeNamed('socket-follower');
    const c = await open(stub);
    const [none] = await c.ask({ id: 1, op: 'get', key: 'a' });
    expect(none).toEqual({ id: 1, status: 503, body: { error: 'no_leader' } });
    // A leader's heartbeat from "n2" (through the object's own peer path) makes this node its follower.
    const append = {
      type: 'append',
      from: 'n2',
      to: 'n1',
      term: 7,
      leaderUrl: 'http://127.0.0.1:9999',
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [],
      commit: 0,
      round: 1,
    };
    await stub.receive([append as never]);
    const [redirect, write] = await c.ask([
      { id: 2, op: 'get', key: 'a' },
      { id: 3, op: 'put', key: 'a', value: '1' },
    ]);
    expect(redirect).toEqual({ id: 2, status: 307, body: { error: 'not_leader', leader: 'http://127.0.0.1:9999' } });
    expect(write).toEqual({ id: 3, status: 307, body: { error: 'not_leader', leader: 'http://127.0.0.1:9999' } });
    c.ws.close();
  });

  it('refuses bad requests by id, naming the problem, and applies none of them', async () => {
    const stub = nodeNamed('socket-bad');
    await electAlone(stub);
    const c = await open(stub);
    const before = (await stub.status()).lastLogIndex;
    const answers = await c.ask([
      { id: 1, op: 'put', key: '', value: 'x' },
      { id: 2, op: 'put', key: 'k', value: 5 },
      { id: 3, op: 'put', key: 'k', value: 'x', clientId: 'alice', serial: 1 },
      { id: 4, op: 'put', key: 'k', value: 'x', clientId: 'session-1' },
      { id: 5, op: 'put', key: 'k', value: 'x', serial: 1.5, clientId: 'session-1' },
      { id: 6, op: 'put', key: 'k', value: 'x'.repeat(64 * 1024 + 1) },
      { id: 7, op: 'frobnicate', key: 'k' },
      { id: 8, op: 'get', key: 'k', extra: true },
    ]);
    expect(answers.map((a) => [a.status, a.body.error])).toEqual([
      [400, 'bad_request'],
      [400, 'bad_request'],
      [400, 'bad_request'],
      [400, 'bad_request'],
      [400, 'bad_request'],
      [413, 'payload_too_large'],
      [400, 'bad_request'],
      [400, 'bad_request'],
    ]);
    expect(answers[0]!.body.message).toBe('key must not be empty');
    expect(answers[1]!.body.message).toContain('value');
    expect(answers[2]!.body.message).toContain('clientId "alice" is not a registered session');
    expect(answers[3]!.body.message).toBe('clientId was sent without serial; send both or neither');
    expect(answers[4]!.body.message).toContain('serial must be a positive integer');
    expect(answers[7]!.body.message).toContain('extra');
    expect((await stub.status()).lastLogIndex).toBe(before);
    c.ws.close();
  });

  it('tells client sockets from peer streams: a peer frame on a client socket is refused as a client frame', async () => {
    const stub = nodeNamed('socket-tags');
    await electAlone(stub);
    const c = await open(stub);
    c.ws.send(JSON.stringify({ seq: 1, messages: [] }));
    await c.until(() => c.frames.length === 1, 'the refusal');
    expect(c.frames[0]).toEqual([
      { id: null, status: 400, body: { error: 'bad_request', message: expect.stringContaining('every request needs "id"') } },
    ]);
    // A peer stream on the same object still answers peer frames under their number.
    const res = await stub.fetch(`${base}/raft/stream`, { headers: { upgrade: 'websocket' } });
    const peer = res.webSocket!;
    peer.accept();
    const replies: unknown[] = [];
    peer.addEventListener('message', (ev) => replies.push(JSON.parse(String(ev.data))));
    peer.send(JSON.stringify({ seq: 4, messages: [] }));
    await c.until(() => replies.length === 1, 'the peer reply');
    expect(replies).toEqual([{ seq: 4, messages: [] }]);
    peer.close();
    c.ws.close();
  });

  it('refuses a frame it cannot attribute with an error frame, and closes on one it cannot parse', async () => {
    const stub = nodeNamed('socket-frames');
    await electAlone(stub);
    const c = await open(stub);
    c.ws.send(JSON.stringify({ op: 'get', key: 'k' }));
    c.ws.send(JSON.stringify([]));
    c.ws.send(JSON.stringify(Array.from({ length: MAX_FRAME_REQUESTS + 1 }, (_, i) => ({ id: i, op: 'get', key: 'k' }))));
    c.ws.send('x'.repeat(1024 * 1024 + 1));
    await c.until(() => c.answers().length === 4, 'four frame refusals');
    // One refusal each; the output gate may let them out in another order.
    const refusals = c.answers();
    expect(refusals.map((a) => [a.id, a.status]).sort()).toEqual([
      [null, 400],
      [null, 400],
      [null, 400],
      [null, 413],
    ]);
    const messages = refusals.map((a) => String(a.body.message));
    expect(messages.filter((m) => m.includes('"id"'))).toHaveLength(1);
    expect(messages.filter((m) => m.includes(`the limit is ${MAX_FRAME_REQUESTS}`))).toHaveLength(1);
    // Still open and serving after those.
    expect(await c.ask({ id: 1, op: 'get', key: 'k' })).toMatchObject([{ id: 1, status: 404 }]);
    c.ws.send('{not json');
    await c.until(() => c.closed !== null, 'the close');
    expect(c.closed).toEqual({ code: 1007, reason: 'frame is not valid JSON' });

    const binary = await open(stub);
    binary.ws.send(new Uint8Array([1, 2, 3]));
    await binary.until(() => binary.closed !== null, 'the close');
    expect(binary.closed).toEqual({ code: 1003, reason: 'frames must be JSON text' });
  });
});

/** answerClientFrame on one end of a WebSocketPair, with a node whose outcomes the test settles by hand. */
function handNode() {
  const pair = new WebSocketPair();
  const server = pair[1];
  const client = pair[0];
  server.accept();
  client.accept();
  const frames: Answer[][] = [];
  client.addEventListener('message', (ev) => frames.push(JSON.parse(String(ev.data)) as Answer[]));
  const pendingWrites: ((o: WriteOutcome) => void)[] = [];
  const proposals: KvRequest[][] = [];
  const node: ClientSocketNode = {
    writes: async (reqs) => {
      proposals.push(reqs);
      return reqs.map(() => new Promise<WriteOutcome>((resolve) => pendingWrites.push(resolve)));
    },
    reads: (keys) => keys.map(() => new Promise<ReadOutcome>(() => {})),
  };
  const send = (frame: unknown) => answerClientFrame(server, JSON.stringify(frame), node);
  return { frames, answers: () => frames.flat(), pendingWrites, proposals, send };
}

describe('client socket: answering (answerClientFrame with a node settled by hand)', () => {
  it("sends a write's answer only once the node reports its outcome (committed and applied), never before", async () => {
    const h = handNode();
    h.send([
      { id: 1, op: 'put', key: 'a', value: '1' },
      { id: 2, op: 'put', key: 'b', value: '2' },
    ]);
    await tick(20);
    expect(h.proposals).toHaveLength(1); // one proposal for the frame's two writes
    expect(h.proposals[0]).toHaveLength(2);
    expect(h.frames).toEqual([]);
    h.pendingWrites[1]!({ type: 'ok', result: { ok: true, op: 'set' } });
    await tick(20);
    expect(h.answers()).toEqual([{ id: 2, status: 200, body: { ok: true } }]);
    h.pendingWrites[0]!({ type: 'timeout' });
    await tick(20);
    expect(h.answers()[1]).toEqual({ id: 1, status: 504, body: { error: 'timeout' } });
  });

  it(`refuses an id already in flight, and requests beyond ${MAX_IN_FLIGHT} in flight with 429 too_many_in_flight`, async () => {
    const h = handNode();
    const frames = Math.ceil((MAX_IN_FLIGHT + 1) / MAX_FRAME_REQUESTS);
    for (let f = 0; f < frames; f++) {
      h.send(Array.from({ length: MAX_FRAME_REQUESTS }, (_, i) => ({ id: f * MAX_FRAME_REQUESTS + i, op: 'get', key: `k${i}` })));
    }
    const total = frames * MAX_FRAME_REQUESTS;
    await tick(20);
    const refused = h.answers().filter((a) => a.status === 429);
    expect(refused).toHaveLength(total - MAX_IN_FLIGHT);
    expect(refused[0]!.body).toMatchObject({ error: 'too_many_in_flight' });
    expect(refused[0]!.body.message).toContain(`${MAX_IN_FLIGHT} requests are already in flight`);
    h.send({ id: 0, op: 'put', key: 'k', value: 'v' });
    await tick(20);
    expect(h.answers().at(-1)).toEqual({
      id: 0,
      status: 400,
      body: { error: 'bad_request', message: 'request id 0 is already in flight on this socket' },
    });
  });
});
