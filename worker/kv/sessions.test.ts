// The session table alone (thesis §6.3). End-to-end behaviour through log
// entries is in store.test.ts.
import { describe, expect, it } from 'vitest';
import { SessionTable, fingerprint } from './sessions';
import type { KvCommand, KvSuccess } from './commands';

const setA: KvCommand = { op: 'set', key: 'k', value: 'a' };
const setB: KvCommand = { op: 'set', key: 'k', value: 'b' };

/** A table plus a counter of how often a command was really executed. */
function harness(limits = { window: 4, maxSessions: 3 }) {
  const table = new SessionTable(limits);
  let executed = 0;
  let index = 0;
  const run = (clientId: string, serial: number, cmd: KvCommand = setA) =>
    table.run({ clientId, serial }, cmd, ++index, (): KvSuccess => {
      executed++;
      return { ok: true, op: 'delete', existed: executed % 2 === 0 };
    });
  return { table, run, executed: () => executed };
}

const savedSerials = (table: SessionTable, clientId: string) =>
  table
    .dump()
    .find((r) => r.clientId === clientId)
    ?.saved.map(([serial]) => serial);

describe('SessionTable', () => {
  it('returns the saved result for a retry without executing again', () => {
    const h = harness();
    const first = h.run('c', 1);
    expect(h.run('c', 1)).toBe(first);
    expect(h.executed()).toBe(1);
  });

  it('refuses a reused serial with a different command', () => {
    const h = harness();
    h.run('c', 1, setA);
    const r = h.run('c', 1, setB);
    expect(r).toMatchObject({ ok: false, error: 'serial_reused' });
    expect(h.executed()).toBe(1);
  });

  it('applies unseen serials inside the window, in any order, and remembers them', () => {
    const h = harness(); // window 4: with highest 8, serials 5..8 are inside
    h.run('c', 8);
    h.run('c', 6);
    h.run('c', 5);
    expect(h.executed()).toBe(3);
    expect(savedSerials(h.table, 'c')).toEqual([8, 6, 5]);
    h.run('c', 5);
    expect(h.executed()).toBe(3);
  });

  it('refuses a serial at or below highest - window as stale, even one it once saw', () => {
    const h = harness();
    h.run('c', 1);
    h.run('c', 6); // window 4: only 3..6 are inside now
    expect(h.run('c', 1)).toMatchObject({ ok: false, error: 'stale_serial' }); // seen, forgotten
    expect(h.run('c', 2)).toMatchObject({ ok: false, error: 'stale_serial' }); // never seen
    expect(h.run('c', 3)).toMatchObject({ ok: true });
    expect(h.executed()).toBe(3);
  });

  it('keeps only serials inside the window, after small steps and big jumps alike', () => {
    const h = harness();
    for (let s = 1; s <= 10; s++) h.run('c', s);
    expect(savedSerials(h.table, 'c')).toEqual([7, 8, 9, 10]);
    h.run('c', 9 + 4 * 100);
    expect(savedSerials(h.table, 'c')).toEqual([409]);
  });

  it('does not save errors', () => {
    const h = harness();
    h.run('c', 5, setA);
    h.run('c', 5, setB); // serial_reused
    expect(h.table.dump()[0]?.saved).toHaveLength(1);
    expect(h.run('c', 5, setA)).toMatchObject({ ok: true });
  });

  it('evicts the least recently used session when full; an evicted client starts afresh', () => {
    const h = harness(); // at most 3 sessions
    h.run('a', 1);
    h.run('b', 1);
    h.run('c', 1);
    h.run('a', 1); // a retry still counts as use: b is now the least recent
    h.run('d', 1);
    expect(h.table.dump().map((r) => r.clientId)).toEqual(['c', 'a', 'd']);
    expect(h.executed()).toBe(4);
    h.run('b', 1); // b was forgotten, so this runs again (and evicts c)
    expect(h.executed()).toBe(5);
    expect(h.table.dump().map((r) => r.clientId)).toEqual(['a', 'd', 'b']);
  });

  it('counts refused requests as use for eviction', () => {
    const h = harness();
    h.run('a', 9);
    h.run('b', 1);
    h.run('c', 1);
    expect(h.run('a', 1)).toMatchObject({ error: 'stale_serial' });
    h.run('d', 1);
    expect(h.table.dump().map((r) => r.clientId)).toEqual(['c', 'a', 'd']);
  });

  it('load(dump()) gives an equal table that keeps its eviction order', () => {
    const h = harness();
    h.run('a', 3);
    h.run('b', 1);
    h.run('a', 2);
    const copy = SessionTable.load(JSON.parse(JSON.stringify(h.table.dump())), { window: 4, maxSessions: 3 });
    expect(copy.dump()).toEqual(h.table.dump());
  });

  it('load refuses records that break the limits or the window', () => {
    const rec = (clientId: string, saved: [number, number, KvSuccess][] = []) => ({
      clientId,
      highest: 10,
      lastIndex: 1,
      saved,
    });
    const limits = { window: 4, maxSessions: 2 };
    expect(() => SessionTable.load([rec('a'), rec('b'), rec('c')], limits)).toThrow(/limit/);
    expect(() => SessionTable.load([rec('a'), rec('a')], limits)).toThrow(/duplicate/);
    expect(() => SessionTable.load([rec('a', [[6, 0, { ok: true, op: 'set' }]])], limits)).toThrow(/window/);
    expect(() => SessionTable.load([rec('a', [[11, 0, { ok: true, op: 'set' }]])], limits)).toThrow(/window/);
    expect(() => SessionTable.load([rec('a', [[7, -1, { ok: true, op: 'set' }]])], limits)).toThrow(/hash/);
    expect(() => SessionTable.load([rec('a', [[7, 0, { ok: false } as never]])], limits)).toThrow(/success/);
    expect(SessionTable.load([rec('a', [[7, 0, { ok: true, op: 'set' }]])], limits).size()).toBe(1);
  });
});

describe('fingerprint (FNV-1a 32 over UTF-8)', () => {
  it('matches published FNV-1a test vectors', () => {
    expect(fingerprint('')).toBe(0x811c9dc5);
    expect(fingerprint('a')).toBe(0xe40c292c);
    expect(fingerprint('foobar')).toBe(0xbf9cf968);
  });

  it('agrees with a naive byte-wise version on non-ASCII text', () => {
    const naive = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of new TextEncoder().encode(s)) h = Number((BigInt((h ^ b) >>> 0) * 0x01000193n) % 2n ** 32n);
      return h;
    };
    for (const s of ['é', 'ü😀x', '\ud800', 'a\udc00b', '日本語', '{"op":"set","key":"k","value":"v"}']) {
      expect(fingerprint(s), s).toBe(naive(s));
    }
  });
});
