import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coalescer, type SendBatch } from './coalesce';

type Out = { echo: number } | { type: 'timeout' };

/** A node that answers each batch when the test says so, and records what it got. */
class FakeNode {
  readonly batches: number[][] = [];
  private readonly answers: (() => void)[] = [];

  readonly send: SendBatch<number, Out> = (inputs) => {
    this.batches.push(inputs);
    return new Promise((resolve) => this.answers.push(() => resolve(inputs.map((n) => ({ echo: n })))));
  };

  answerAll(): void {
    for (const answer of this.answers.splice(0)) answer();
  }

  /** Answers the oldest batch still waiting. */
  answerOldest(): void {
    this.answers.shift()?.();
  }
}

const macrotask = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function coalescer(
  overrides: { maxBatch?: number; maxInflight?: number; waitLimitMs?: number; staleQueueMs?: number; now?: () => number } = {},
): Coalescer<number, Out> {
  return new Coalescer<number, Out>({
    maxBatch: overrides.maxBatch ?? 100,
    ...(overrides.maxInflight !== undefined ? { maxInflight: overrides.maxInflight } : {}),
    waitLimitMs: overrides.waitLimitMs ?? 5000,
    staleQueueMs: overrides.staleQueueMs ?? 1000,
    gaveUp: () => ({ type: 'timeout' }),
    ...(overrides.now ? { now: overrides.now } : {}),
  });
}

describe('Coalescer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a call at once, alone, when nothing is in flight', async () => {
    const node = new FakeNode();
    const c = coalescer();
    const out = c.call(7, node.send);
    expect(node.batches).toEqual([[7]]);
    node.answerAll();
    await expect(out).resolves.toEqual({ echo: 7 });
    expect(c.stats).toEqual({ requests: 1, batches: 1 });
  });

  it('queues calls made while a batch is in flight and sends them as one batch a macrotask later, each answered with its own result', async () => {
    const node = new FakeNode();
    const c = coalescer();
    const first = c.call(1, node.send);
    const rest = [2, 3, 4].map((n) => c.call(n, node.send));
    expect(node.batches).toEqual([[1]]);
    await macrotask();
    expect(node.batches).toEqual([[1], [2, 3, 4]]);
    node.answerAll();
    await expect(first).resolves.toEqual({ echo: 1 });
    await expect(Promise.all(rest)).resolves.toEqual([{ echo: 2 }, { echo: 3 }, { echo: 4 }]);
    expect(c.stats).toEqual({ requests: 4, batches: 2 });
    // Nothing in flight again: the next call goes alone, at once.
    void c.call(5, node.send);
    expect(node.batches).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('uses the send function of the call that opened the batch', async () => {
    const a = new FakeNode();
    const b = new FakeNode();
    const c = coalescer();
    void c.call(1, a.send);
    void c.call(2, b.send); // opens the queue
    void c.call(3, a.send);
    await macrotask();
    expect(a.batches).toEqual([[1]]);
    expect(b.batches).toEqual([[2, 3]]);
  });

  it('starts another batch when one is full', async () => {
    const node = new FakeNode();
    const c = coalescer({ maxBatch: 2 });
    void c.call(0, node.send);
    const queued = [1, 2, 3, 4, 5].map((n) => c.call(n, node.send));
    await macrotask();
    expect(node.batches).toEqual([[0], [1, 2], [3, 4], [5]]);
    node.answerAll();
    await expect(Promise.all(queued)).resolves.toEqual([1, 2, 3, 4, 5].map((n) => ({ echo: n })));
  });

  it('with maxInflight batches out, holds the next queue until one comes back, gathering what arrives meanwhile', async () => {
    const node = new FakeNode();
    const c = coalescer({ maxInflight: 2 });
    const first = c.call(1, node.send);
    const second = c.call(2, node.send);
    await macrotask();
    expect(node.batches).toEqual([[1], [2]]); // two out: the limit
    const held = [3, 4].map((n) => c.call(n, node.send));
    await macrotask();
    held.push(c.call(5, node.send));
    await macrotask();
    expect(node.batches).toEqual([[1], [2]]);
    node.answerOldest();
    await expect(first).resolves.toEqual({ echo: 1 });
    await macrotask();
    expect(node.batches).toEqual([[1], [2], [3, 4, 5]]);
    node.answerAll();
    await expect(second).resolves.toEqual({ echo: 2 });
    await expect(Promise.all(held)).resolves.toEqual([3, 4, 5].map((n) => ({ echo: n })));
    expect(c.stats).toEqual({ requests: 5, batches: 3 });
  });

  it('with maxInflight, a queue held behind a lost batch goes out with the next call after the wait limit', async () => {
    let now = 0;
    const node = new FakeNode();
    const c = coalescer({ maxInflight: 1, waitLimitMs: 500, now: () => now });
    const lost: SendBatch<number, Out> = () => new Promise(() => {});
    void c.call(1, lost);
    const held = c.call(2, node.send);
    await macrotask();
    expect(node.batches).toEqual([]);
    now = 501; // the lost batch no longer counts
    const joined = c.call(3, node.send);
    await macrotask();
    expect(node.batches).toEqual([[2, 3]]);
    node.answerAll();
    await expect(Promise.all([held, joined])).resolves.toEqual([{ echo: 2 }, { echo: 3 }]);
  });

  it('keeps alive the request that sends a batch, or opens a queue, until its batch is answered; not the ones that join', async () => {
    const node = new FakeNode();
    const c = coalescer({ maxInflight: 1 });
    const kept = new Map<number, Promise<unknown>>();
    const keep = (n: number) => (work: Promise<unknown>) => kept.set(n, work);
    const done = new Set<number>();
    const call = (n: number) => c.call(n, node.send, keep(n));
    void call(1); // alone
    void call(2); // opens a queue, held behind the call in flight
    void call(3); // joins it
    expect([...kept.keys()]).toEqual([1, 2]);
    for (const [n, work] of kept) void work.then(() => done.add(n));
    await macrotask();
    expect(done.size).toBe(0);
    node.answerOldest();
    await macrotask();
    expect([...done]).toEqual([1]);
    expect(node.batches).toEqual([[1], [2, 3]]);
    node.answerOldest();
    await macrotask();
    expect([...done]).toEqual([1, 2]);
  });

  it('rejects every call of a batch whose send fails, with that error', async () => {
    const node = new FakeNode();
    const c = coalescer();
    void c.call(1, node.send);
    const boom = new Error('node is not running');
    const failing: SendBatch<number, Out> = () => Promise.reject(boom);
    const checks = [c.call(2, failing), c.call(3, node.send)].map((q) => expect(q).rejects.toBe(boom));
    await macrotask();
    await Promise.all(checks);
  });

  it('rejects a batch answered with the wrong number of results', async () => {
    const node = new FakeNode();
    const c = coalescer();
    void c.call(1, node.send);
    const short: SendBatch<number, Out> = () => Promise.resolve([{ echo: 0 }]);
    const checks = [c.call(2, short), c.call(3, short)].map((q) => expect(q).rejects.toThrow('batch of 2 answered with 1 results'));
    await macrotask();
    await Promise.all(checks);
  });

  it('answers gaveUp() to queued calls whose batch never comes back', async () => {
    vi.useFakeTimers();
    const node = new FakeNode();
    const c = coalescer({ waitLimitMs: 1000 });
    void c.call(1, node.send);
    const hanging: SendBatch<number, Out> = () => new Promise(() => {});
    const queued = c.call(2, hanging);
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void queued.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(queued).resolves.toEqual({ type: 'timeout' });
  });

  it('stops counting a batch as in flight after the wait limit, so a lost sender does not make every later call queue', async () => {
    let now = 0;
    const node = new FakeNode();
    const c = coalescer({ waitLimitMs: 1000, now: () => now });
    const lost: SendBatch<number, Out> = () => new Promise(() => {});
    void c.call(1, lost);
    void c.call(2, node.send); // queued behind the lost batch
    expect(node.batches).toEqual([]);
    await macrotask();
    expect(node.batches).toEqual([[2]]);
    node.answerAll();
    await macrotask();
    now = 1001;
    void c.call(3, node.send);
    expect(node.batches).toEqual([[2], [3]]); // alone, at once
  });

  it('abandons a queue that was never flushed (its opener was cut short), so later calls do not join it', async () => {
    vi.useFakeTimers();
    let now = 0;
    const node = new FakeNode();
    const c = coalescer({ now: () => now });
    void c.call(1, node.send); // in flight, never answered
    void c.call(2, node.send); // opens a queue; its flush timer is never run below
    now = 1001;
    void c.call(3, node.send); // joins a fresh queue, not the stale one
    await vi.runOnlyPendingTimersAsync();
    expect(node.batches).toEqual([[1], [2], [3]]);
  });

  it('keeps a queue waiting for its slot as long as the node may take to answer (its request timeout)', async () => {
    let now = 0;
    const node = new FakeNode();
    const c = coalescer({ maxInflight: 1, staleQueueMs: 3000, now: () => now });
    void c.call(1, node.send); // in flight: the node is slow but within its 3 s timeout
    void c.call(2, node.send); // waits for the slot
    now = 2500;
    void c.call(3, node.send); // still the same queue: its opener is alive, just waiting
    await macrotask();
    expect(node.batches).toEqual([[1]]);
    node.answerOldest();
    await macrotask();
    expect(node.batches).toEqual([[1], [2, 3]]);
  });
});
