import { describe, expect, it } from 'vitest';
import type { KvResult } from '../kv/commands';
import { PendingRequests, type ReadOutcome, type WriteOutcome } from './pending-requests';

describe('PendingRequests', () => {
  function harness() {
    const settled: number[] = [];
    const broken: string[] = [];
    const out = new Map<number, WriteOutcome<KvResult> | ReadOutcome<string | null>>();
    const p = new PendingRequests<KvResult, string, string | null>(
      (ref) => settled.push(ref),
      (msg) => broken.push(msg),
    );
    const write = (ref: number) => p.addWrite(ref, (o) => out.set(ref, o));
    const read = (ref: number, key: string) => p.addRead(ref, key, (o) => out.set(ref, o));
    return { p, settled, broken, out, write, read };
  }
  const cmd = (index: number, term: number) => ({ index, term, kind: 'command' as const, data: '' });
  const okSet = { ok: true, op: 'set' } as const;
  const store = (keys: readonly string[]) => keys.map((key) => (key === 'k' ? 'v' : null));

  it('a write succeeds only if its own index and term are applied (§5.3)', () => {
    const h = harness();
    h.write(1);
    h.write(2);
    h.p.proposed({ ref: 1, index: 5, term: 2 }, 4);
    h.p.proposed({ ref: 2, index: 6, term: 2 }, 4);
    h.p.applied(cmd(5, 2), okSet);
    h.p.applied(cmd(6, 3), okSet); // another leader's entry took index 6
    expect(h.out.get(1)).toEqual({ type: 'ok', result: okSet });
    expect(h.out.get(2)).toEqual({ type: 'timeout' });
    expect(h.settled).toEqual([1, 2]);
    expect(h.p.size).toBe(0);
  });

  it('reads wait for their confirmed index to be applied (thesis §6.4)', () => {
    const h = harness();
    h.read(7, 'k');
    h.p.serveReads([], 10, true, store);
    expect(h.out.size).toBe(0); // no confirmed index yet
    h.p.serveReads([{ ref: 7, index: 12 }], 10, false, store);
    expect(h.out.size).toBe(0);
    h.p.serveReads([], 12, true, store);
    expect(h.out.get(7)).toEqual({ type: 'ok', value: 'v' });
  });

  it('answers every read due in a Ready with one lookup: those confirmed now and those confirmed before', () => {
    const h = harness();
    h.read(1, 'k');
    h.read(2, 'x');
    h.read(3, 'k');
    h.p.serveReads([{ ref: 1, index: 5 }], 4, false, store); // waits for index 5
    const calls: (readonly string[])[] = [];
    const counted = (keys: readonly string[]) => (calls.push(keys), store(keys));
    h.p.serveReads(
      [
        { ref: 2, index: 5 },
        { ref: 3, index: 6 },
      ],
      5,
      true,
      counted,
    );
    expect(calls).toEqual([['x', 'k']]);
    expect(h.out.get(1)).toEqual({ type: 'ok', value: 'v' });
    expect(h.out.get(2)).toEqual({ type: 'ok', value: null });
    expect(h.out.has(3)).toBe(false);
    h.p.serveReads([], 6, true, counted);
    expect(calls).toEqual([['x', 'k'], ['k']]);
    expect(h.out.get(3)).toEqual({ type: 'ok', value: 'v' });
    h.p.serveReads([], 7, true, counted); // nothing waits: no lookup
    expect(calls.length).toBe(2);
  });

  it('losing leadership times out writes but keeps confirmed reads; failures carry the leader hint', () => {
    const h = harness();
    h.write(1);
    h.p.proposed({ ref: 1, index: 3, term: 1 }, 2);
    h.read(2, 'k');
    h.p.serveReads([{ ref: 2, index: 3 }], 2, false, store);
    h.read(3, 'k');
    h.p.leadershipLost();
    expect(h.out.get(1)).toEqual({ type: 'timeout' });
    h.p.failed({ ref: 3, kind: 'read', reason: 'leadershipLost', leader: { id: 'n2', url: 'http://n2' } });
    expect(h.out.get(3)).toEqual({ type: 'notLeader', leader: { id: 'n2', url: 'http://n2' } });
    h.p.serveReads([], 3, true, store);
    expect(h.out.get(2)).toEqual({ type: 'ok', value: 'v' });
  });

  it('settles each request once: after a deadline, later news is ignored', () => {
    const h = harness();
    h.write(1);
    h.p.proposed({ ref: 1, index: 3, term: 1 }, 2);
    h.p.expire(1);
    h.p.applied(cmd(3, 1), okSet);
    h.p.expire(1);
    expect(h.out.get(1)).toEqual({ type: 'timeout' });
    expect(h.settled).toEqual([1]);
  });

  it('flags a proposal reported after its index was already applied', () => {
    const h = harness();
    h.write(1);
    h.p.proposed({ ref: 1, index: 3, term: 1 }, 3);
    expect(h.broken).toEqual(['proposal reported after its index was applied']);
    expect(h.out.get(1)).toEqual({ type: 'timeout' });
  });
});
