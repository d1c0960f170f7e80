// The session table alone (thesis §6.3). End-to-end behaviour through log
// entries is in store.test.ts.
import { describe, expect, it } from 'vitest';
import { SessionTable, fingerprint, fingerprintNative, requestWithDigest } from './sessions';
import { encodeCommand } from './commands';
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
    const rec = (clientId: string, saved: [number, string, KvSuccess][] = []) => ({
      clientId,
      highest: 10,
      lastIndex: 1,
      saved,
    });
    const limits = { window: 4, maxSessions: 2 };
    const d = fingerprint('x');
    expect(() => SessionTable.load([rec('a'), rec('b'), rec('c')], limits)).toThrow(/limit/);
    expect(() => SessionTable.load([rec('a'), rec('a')], limits)).toThrow(/duplicate/);
    expect(() => SessionTable.load([rec('a', [[6, d, { ok: true, op: 'set' }]])], limits)).toThrow(/window/);
    expect(() => SessionTable.load([rec('a', [[11, d, { ok: true, op: 'set' }]])], limits)).toThrow(/window/);
    expect(() => SessionTable.load([rec('a', [[7, 'short', { ok: true, op: 'set' }]])], limits)).toThrow(/digest/);
    expect(() => SessionTable.load([rec('a', [[7, d, { ok: false } as never]])], limits)).toThrow(/success/);
    expect(SessionTable.load([rec('a', [[7, d, { ok: true, op: 'set' }]])], limits).size()).toBe(1);
  });
});

describe('fingerprint (128 bits of SHA-256)', () => {
  it('the native (Web Crypto) fingerprint is the same digest as the JavaScript one', async () => {
    for (const text of ['', 'abc', 'ü😀\u0000"', 'x'.repeat(70_000), encodeCommand({ op: 'cas', key: 'k', expected: null, value: 'v' })]) {
      expect(await fingerprintNative(text)).toBe(fingerprint(text));
    }
  });

  it('a proposed request with a session carries the fingerprint of its command; others carry none', async () => {
    const cmd: KvCommand = { op: 'set', key: 'k', value: 'v' };
    expect(await requestWithDigest({ cmd, session: { clientId: 'c', serial: 1 } })).toEqual({
      cmd,
      session: { clientId: 'c', serial: 1 },
      digest: fingerprint(encodeCommand(cmd)),
    });
    expect(await requestWithDigest({ cmd })).toEqual({ cmd });
    expect(await requestWithDigest({ register: true })).toEqual({ register: true });
  });

  it('matches the SHA-256 test vector for "abc", truncated to 16 bytes', () => {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3...
    expect(fingerprint('abc')).toBe(
      btoa(String.fromCharCode(...[0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23])).slice(
        0,
        22,
      ),
    );
  });

  it('tells apart two commands whose 32-bit FNV-1a hashes collide', () => {
    // Found by a birthday search over values "v0", "v1", ...: both hash to 2217050131 under FNV-1a 32.
    const a: KvCommand = { op: 'set', key: 'k', value: 'v115159' };
    const b: KvCommand = { op: 'set', key: 'k', value: 'v1230482' };
    expect(fingerprint(encodeCommand(a))).not.toBe(fingerprint(encodeCommand(b)));
    const h = harness();
    h.run('c', 1, a);
    expect(h.run('c', 1, b)).toMatchObject({ ok: false, error: 'serial_reused' });
    expect(h.executed()).toBe(1);
  });
});
