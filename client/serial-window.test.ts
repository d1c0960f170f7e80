// The client keeps a session's writes in flight within the server's window
// (thesis §6.3: the server remembers only the last answers of each session).
import { describe, expect, it } from 'vitest';
import { RaftKvClient } from './client';
import { SerialWindow, SESSION_WINDOW } from './serial-window';
import { defaultSessionLimits } from '../worker/kv/sessions';

describe('SerialWindow', () => {
  it('matches the window the server keeps', () => {
    expect(SESSION_WINDOW).toBe(defaultSessionLimits.window);
  });

  it('holds a serial a whole window above an open one, and lets it go when that one finishes', async () => {
    const w = new SerialWindow(4);
    for (const s of [1, 2, 3, 4, 5, 6]) w.take(s);
    expect([4, 5, 6].map((s) => w.ready(s))).toEqual([true, false, false]);
    const five = w.wait(5, Date.now() + 10_000);
    const six = w.wait(6, Date.now() + 10_000);
    await Promise.resolve();
    expect(w.waiting).toBe(2);
    w.finish(1);
    expect(await five).toBe(true);
    expect(w.waiting).toBe(1); // 6 still waits for 2
    w.finish(3); // not the one 6 waits for
    expect(w.waiting).toBe(1);
    w.finish(2);
    expect(await six).toBe(true);
    expect(w.waiting).toBe(0);
  });

  it('gives up at the deadline', async () => {
    const w = new SerialWindow(1);
    w.take(1);
    w.take(2);
    expect(await w.wait(2, Date.now() + 20)).toBe(false);
    expect(w.waiting).toBe(0);
  });
});

/**
 * A leader that judges each write when it applies it, as the key-value state
 * machine does: a serial at or below highest - 64 that it has not seen is
 * stale_serial. Serial 1 is applied only when `release` is called, as if its
 * entry were stuck behind a slow follower while later ones committed.
 */
function slowFirstWrite() {
  const sent: number[] = [];
  let highest = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const judge = (serial: number): Response => {
    if (serial <= highest - defaultSessionLimits.window) return Response.json({ error: 'stale_serial' }, { status: 409 });
    highest = Math.max(highest, serial);
    return Response.json({ ok: true });
  };
  const fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const serial = Number(new Headers(init?.headers).get('request-serial'));
    sent.push(serial);
    if (serial === 1) await released;
    return judge(serial);
  };
  return { sent, release, fetch: fetch as typeof globalThis.fetch };
}

describe('RaftKvClient keeps at most 64 writes of a session in flight', () => {
  it('100 writes at once: the 65th waits for the 1st, and none is stale', async () => {
    const node = slowFirstWrite();
    const c = new RaftKvClient({ nodes: ['http://127.0.0.1:9'], clientId: 'session-1', fetch: node.fetch });
    const writes = Array.from({ length: 100 }, (_, i) => c.set(`k${i}`, 'v'));
    await new Promise((r) => setTimeout(r, 50));
    expect(node.sent).toHaveLength(64);
    expect(Math.max(...node.sent)).toBe(64);
    node.release();
    const results = await Promise.all(writes);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect([...node.sent].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('a write held back past its deadline fails as a timeout whose outcome is known, and frees its place', async () => {
    const node = slowFirstWrite();
    const c = new RaftKvClient({ nodes: ['http://127.0.0.1:9'], clientId: 'session-1', fetch: node.fetch, timeoutMs: 5_000 });
    const first = c.set('a', 'v');
    const middle = Array.from({ length: 63 }, (_, i) => c.set(`k${i}`, 'v'));
    const late = await c.set('z', 'v', { timeoutMs: 30 });
    expect(late).toMatchObject({ ok: false, error: { type: 'timeout', outcomeUnknown: false, serial: 65, clientId: 'session-1' } });
    expect(node.sent).not.toContain(65);
    node.release();
    expect((await Promise.all([first, ...middle])).every((r) => r.ok)).toBe(true);
    expect(await c.set('after', 'v')).toEqual({ ok: true });
  });
});
