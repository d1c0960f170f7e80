import { describe, expect, it } from 'vitest';
import type { KvObserved, KvOp, Operation } from './history';
import { checkLinearizable } from './linearizability';
import { generateLinearizableHistory, mulberry32 } from './linearizability-generator';

type Interval = [invoke: number, complete: number];

/** Builds histories by hand: one method per request type, times as [invoke, complete]. */
class HistoryBuilder {
  readonly ops: Operation[] = [];

  get(client: string, at: Interval, value: string | null, key = 'k'): this {
    return this.add(client, key, { type: 'get' }, at, { type: 'get', value });
  }
  set(client: string, at: Interval, value: string, key = 'k'): this {
    return this.add(client, key, { type: 'set', value }, at, { type: 'set' });
  }
  del(client: string, at: Interval, key = 'k'): this {
    return this.add(client, key, { type: 'delete' }, at, { type: 'delete' });
  }
  cas(client: string, at: Interval, expected: string | null, value: string, swapped: boolean, current: string | null, key = 'k'): this {
    return this.add(client, key, { type: 'cas', expected, value }, at, { type: 'cas', swapped, current });
  }
  /** A request whose answer never came: it may have taken effect any time after `invoke`, or never. */
  unknown(client: string, invoke: number, op: KvOp, key = 'k'): this {
    return this.add(client, key, op, [invoke, Infinity], null);
  }

  private add(client: string, key: string, op: KvOp, [invoke, complete]: Interval, observed: KvObserved | null): this {
    this.ops.push({ id: this.ops.length + 1, client, key, op, invoke, complete, observed });
    return this;
  }
}

const history = () => new HistoryBuilder();
const check = (b: HistoryBuilder) => checkLinearizable(b.ops);

describe('linearizable histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizable([])).toEqual({ ok: true, keys: 0, statesExplored: 0 });
  });

  it('accepts a sequential history', () => {
    const h = history()
      .get('c1', [0, 5], null)
      .set('c1', [10, 20], 'a')
      .get('c2', [30, 40], 'a')
      .del('c1', [50, 60])
      .get('c2', [70, 80], null)
      .set('c2', [90, 95], 'b')
      .get('c1', [100, 110], 'b');
    expect(check(h)).toMatchObject({ ok: true, keys: 1 });
  });

  it.each(['a', 'b'])('accepts overlapping writes followed by a read of %s', (seen) => {
    const h = history().set('c1', [0, 100], 'a').set('c2', [10, 90], 'b').get('c3', [110, 120], seen);
    expect(check(h).ok).toBe(true);
  });

  it.each(['a', 'b'])('accepts a read overlapping a write that sees %s', (seen) => {
    const h = history().set('c1', [0, 10], 'a').set('c2', [20, 50], 'b').get('c3', [30, 40], seen);
    expect(check(h).ok).toBe(true);
  });

  it('accepts a cas chain, including a failed cas that reports the current value', () => {
    const h = history()
      .cas('c1', [0, 10], null, 'a', true, 'a')
      .cas('c2', [20, 30], 'a', 'b', true, 'b')
      .cas('c3', [40, 50], 'a', 'c', false, 'b')
      .get('c1', [60, 70], 'b');
    expect(check(h).ok).toBe(true);
  });

  it('accepts two concurrent cas from the same value when only one swaps', () => {
    const h = history().cas('c1', [0, 10], null, 'a', false, 'b').cas('c2', [0, 10], null, 'b', true, 'b');
    expect(check(h).ok).toBe(true);
  });

  it('accepts an unknown write that took effect, read afterwards', () => {
    const h = history().unknown('c1', 0, { type: 'set', value: 'x' }).get('c2', [10, 20], 'x');
    expect(check(h).ok).toBe(true);
  });

  it('accepts an unknown write that never took effect', () => {
    const h = history()
      .set('c1', [0, 10], 'a')
      .unknown('c2', 20, { type: 'set', value: 'x' })
      .get('c3', [30, 40], 'a')
      .get('c3', [50, 60], 'a');
    expect(check(h).ok).toBe(true);
  });

  it('accepts an unknown write that took effect long after it was sent', () => {
    const h = history()
      .set('c1', [0, 10], 'a')
      .unknown('c2', 15, { type: 'set', value: 'x' })
      .get('c3', [20, 30], 'a')
      .get('c3', [100, 110], 'x');
    expect(check(h).ok).toBe(true);
  });

  it('accepts reads of values written by unknown cas and delete', () => {
    const h = history()
      .set('c1', [0, 10], 'a')
      .unknown('c2', 20, { type: 'cas', expected: 'a', value: 'b' })
      .get('c3', [30, 40], 'b')
      .unknown('c4', 50, { type: 'delete' })
      .get('c3', [60, 70], null);
    expect(check(h).ok).toBe(true);
  });

  it('accepts a cas that swapped from a value written by an unknown op', () => {
    const h = history().unknown('c1', 0, { type: 'set', value: 'a' }).cas('c2', [10, 20], 'a', 'b', true, 'b');
    expect(check(h).ok).toBe(true);
  });

  it('accepts two reads of absent explained by two unknown deletes', () => {
    const h = history()
      .set('c1', [0, 10], 'a')
      .unknown('c2', 5, { type: 'delete' })
      .unknown('c3', 6, { type: 'delete' })
      .get('c1', [20, 30], null)
      .set('c1', [40, 50], 'b')
      .get('c1', [60, 70], null);
    expect(check(h).ok).toBe(true);
  });

  it('skips unknown writes of values nobody saw instead of searching through them', () => {
    const h = history();
    for (let i = 0; i < 200; i++) h.unknown(`u${i}`, i, { type: 'set', value: `lost${i}` });
    for (let i = 0; i < 10; i++) h.set('c1', [20 * i, 20 * i + 10], `v${i}`).get('c2', [20 * i + 12, 20 * i + 15], `v${i}`);
    const result = check(h);
    expect(result).toMatchObject({ ok: true });
    if (result.ok === true) expect(result.statesExplored).toBeLessThanOrEqual(20);
  });

  it('accepts several independent keys', () => {
    const h = history()
      .set('c1', [0, 10], 'a', 'x')
      .set('c2', [0, 10], 'b', 'y')
      .get('c1', [20, 30], 'b', 'y')
      .cas('c2', [20, 30], 'a', 'c', true, 'c', 'x')
      .get('c3', [40, 50], 'c', 'x');
    expect(check(h)).toMatchObject({ ok: true, keys: 2 });
  });

  it('treats an invoke at the same instant as a completion as concurrent', () => {
    expect(check(history().set('c1', [0, 10], 'a').get('c2', [10, 20], null)).ok).toBe(true);
    expect(check(history().set('c1', [0, 10], 'a').get('c2', [11, 20], null)).ok).toBe(false);
  });
});

describe('non-linearizable histories', () => {
  it('rejects a stale read after a completed write, and says why', () => {
    const h = history().set('c1', [0, 10], 'a').set('c2', [20, 30], 'b').get('c3', [40, 50], 'a');
    const result = check(h);
    expect(result).toMatchObject({ ok: false, key: 'k', operations: h.ops });
    if (result.ok !== false) return;
    expect(result.explanation).toContain('places 2 of the 3 operations that must take effect');
    expect(result.explanation).toContain('Register value after it: "b"');
    expect(result.explanation).toContain('#3 c3 get ⇒ "a" [40, 50]: read "a" but the register held "b"');
  });

  it('rejects a read of a value nobody wrote', () => {
    expect(check(history().set('c1', [0, 10], 'a').get('c2', [5, 15], 'z')).ok).toBe(false);
  });

  it('rejects two cas that both swap from the same expected value', () => {
    const h = history().cas('c1', [0, 10], null, 'a', true, 'a').cas('c2', [0, 10], null, 'b', true, 'b');
    expect(check(h).ok).toBe(false);
  });

  it('rejects a write that is seen and then un-happens', () => {
    const h = history().set('c1', [0, 100], 'a').get('c2', [10, 20], 'a').get('c3', [30, 40], null);
    expect(check(h).ok).toBe(false);
  });

  it('rejects an unknown write that is seen and then un-happens', () => {
    const h = history().unknown('c1', 0, { type: 'set', value: 'x' }).get('c2', [10, 20], 'x').get('c3', [30, 40], null);
    expect(check(h).ok).toBe(false);
  });

  it('uses an unknown delete at most once', () => {
    const h = history()
      .set('c1', [0, 10], 'a')
      .unknown('c2', 5, { type: 'delete' })
      .get('c1', [20, 30], null)
      .set('c1', [40, 50], 'b')
      .get('c1', [60, 70], null);
    expect(check(h).ok).toBe(false);
  });

  it('rejects a read of a value whose only writer was sent after the read completed', () => {
    const h = history().get('c1', [0, 10], 'x').unknown('c2', 20, { type: 'set', value: 'x' });
    expect(check(h).ok).toBe(false);
  });

  it('rejects a cas that failed although the register held its expected value', () => {
    const h = history().set('c1', [0, 10], 'a').cas('c2', [20, 30], 'a', 'b', false, 'a');
    expect(check(h).ok).toBe(false);
  });

  it('reports the key with a lost update while another key is fine', () => {
    const h = history()
      .set('c1', [0, 10], 'a', 'good')
      .get('c2', [20, 30], 'a', 'good')
      .cas('c1', [0, 10], null, '1', true, '1', 'bad')
      .cas('c2', [20, 30], '1', '2', true, '2', 'bad')
      .cas('c3', [25, 35], '1', '3', true, '3', 'bad')
      .get('c1', [40, 50], '3', 'bad');
    const result = check(h);
    expect(result).toMatchObject({ ok: false, key: 'bad' });
    if (result.ok === false) expect(result.operations.map((op) => op.id)).toEqual([3, 4, 5, 6]);
  });
});

describe('search budget and input validation', () => {
  const big = generateLinearizableHistory(mulberry32(7), { operations: 400, clients: 5, spread: 30 });

  it('answers unknown when a key needs more states than allowed', () => {
    const result = checkLinearizable(big, { maxStatesPerKey: 50 });
    expect(result).toMatchObject({ ok: 'unknown', key: 'k' });
  });

  it('still reports a violation on a later key after giving up on an earlier one', () => {
    const broken = history().set('c1', [0, 10], 'a', 'other').get('c2', [20, 30], null, 'other');
    const result = checkLinearizable([...big, ...broken.ops], { maxStatesPerKey: 50 });
    expect(result).toMatchObject({ ok: false, key: 'other' });
  });

  it('throws on a malformed operation, which is a bug in the recorder', () => {
    const mismatched: Operation = { ...history().get('c1', [0, 10], null).ops[0]!, observed: { type: 'set' } };
    expect(() => checkLinearizable([mismatched])).toThrow(/observed a set result for a get request/);
    expect(() => checkLinearizable(history().set('c1', [10, 5], 'a').ops)).toThrow(/complete must not precede invoke/);
  });
});
