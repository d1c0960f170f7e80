// The log's payload window: terms for every entry, payloads only near the end,
// the rest read back through the host's loader and checked against the terms.
import { describe, expect, it } from 'vitest';
import { loadStored, logOf } from '../../test/fixtures/stored-log';
import { RaftLog } from './log';
import type { Entry } from './types';

const entry = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, kind: 'command', data });
/** Entries 1..n; the term goes up by one every `perTerm` entries. */
const entries = (n: number, perTerm = 4, size = 10): Entry[] =>
  Array.from({ length: n }, (_, i) => entry(i + 1, 1 + Math.floor(i / perTerm), `${i + 1}`.padEnd(size, '.')));
const noLoads = () => {
  throw new Error('the loader must not be called');
};

describe('RaftLog payload window', () => {
  it('keeps every payload until entries are released, then at most the window of released ones', () => {
    const { log } = logOf(entries(10), { window: { entries: 2, bytes: Infinity } });
    expect(log.payloadsHeld).toBe(10);
    log.release(6); // 5 and 6 stay (the window), 7..10 are not handed out yet
    expect(log.payloadsHeld).toBe(6);
    log.release(10);
    expect(log.payloadsHeld).toBe(2);
    for (let i = 11; i <= 20; i++) log.append(entry(i, 3));
    expect(log.payloadsHeld).toBe(12); // new entries are held until released
    log.release(20);
    expect(log.payloadsHeld).toBe(2);
  });

  it('the byte bound drops released payloads even inside the entry window', () => {
    const { log } = logOf(entries(10, 4, 100), { window: { entries: 100, bytes: 250 } });
    log.release(10);
    expect(log.payloadsHeld).toBe(2); // 200 bytes; a third would be 300
    const { log: tiny } = logOf(entries(10, 4, 100), { window: { entries: 100, bytes: 50 } });
    tiny.release(10);
    expect(tiny.payloadsHeld).toBe(0); // a payload bigger than the bound goes too
  });

  it('answers terms of dropped entries without the loader', () => {
    const all = entries(40, 4);
    const log = new RaftLog({ terms: all.map((e) => e.term), tail: all.slice(30), load: noLoads, window: { entries: 1, bytes: 1 } });
    log.release(40);
    expect(log.payloadsHeld).toBe(0);
    for (const e of all) expect(log.term(e.index)).toBe(e.term);
    expect(log.term(0)).toBe(0);
    expect(log.term(41)).toBe(-1);
    expect(log.lastTerm).toBe(10);
    expect(log.firstIndexOfTerm(7, 0)).toBe(5);
    expect(log.lastIndexAtOrBelowTerm(40, 3)).toBe(12);
    expect(log.isUpToDate(40, 10)).toBe(true);
    expect(log.isUpToDate(39, 10)).toBe(false);
  });

  it('sliceLimited reads dropped entries through the loader, then continues from memory', () => {
    const all = entries(10);
    const { log, loads } = logOf(all, { held: 5 });
    expect(log.payloadsHeld).toBe(5);
    expect(log.sliceLimited(2, 10, 100, Infinity)).toEqual(all.slice(1));
    expect(loads).toEqual([[2, 5]]);
    expect(log.sliceLimited(3, 8, 3, Infinity)).toEqual(all.slice(2, 5)); // the count limit bounds the load too
    expect(loads).toEqual([
      [2, 5],
      [3, 5],
    ]);
    loads.length = 0;
    expect(log.sliceLimited(6, 10, 100, Infinity)).toEqual(all.slice(5));
    expect(loads).toEqual([]);
  });

  it('sliceLimited keeps the byte limit across loaded and held entries', () => {
    const all = entries(10, 4, 100);
    const { log, loads } = logOf(all, { held: 5 });
    expect(log.sliceLimited(1, 10, 100, 250).map((e) => e.index)).toEqual([1, 2]);
    expect(loads).toEqual([[1, 5]]);
    expect(log.sliceLimited(4, 10, 100, 250).map((e) => e.index)).toEqual([4, 5]);
    expect(log.sliceLimited(5, 10, 100, 250).map((e) => e.index)).toEqual([5, 6]);
    expect(log.sliceLimited(2, 10, 100, 1).map((e) => e.index)).toEqual([2]); // always one
  });

  it('a loader that returns the wrong entries is a broken invariant', () => {
    const all = entries(10);
    const wrongTerm = (from: number, to: number) => loadStored(all, from, to, Infinity).map((e) => ({ ...e, term: e.term + 1 }));
    const shifted = (from: number, to: number) => loadStored(all, from + 1, to, Infinity);
    const short = (from: number, to: number) => loadStored(all, from, to - 1, Infinity);
    const none = () => [];
    for (const load of [wrongTerm, shifted, short, none]) {
      const { log } = logOf(all, { held: 2, load });
      expect(() => log.sliceLimited(1, 10, 100, Infinity)).toThrow(/invariant/);
    }
    // Stopping early is allowed only past the byte limit.
    const { log } = logOf(all, { held: 2, load: short });
    expect(log.sliceLimited(1, 10, 100, 0).map((e) => e.index)).toEqual([1]);
    // A loader that throws (storage lacks the entry) fails the call too.
    const { log: lacking } = logOf(all, { held: 2, load: (from, to, b) => loadStored([], from, to, b) });
    expect(() => lacking.slice(1, 10)).toThrow(/no entry 1/);
  });

  it('truncates a suffix that is not held (a tail shorter than the log) and refuses to truncate released entries', () => {
    const all = entries(10);
    const { log } = logOf(all, { held: 0 });
    log.release(3);
    log.truncateFrom(6);
    expect(log.lastIndex).toBe(5);
    log.append(entry(6, 9, 'new'));
    expect(log.payloadsHeld).toBe(1);
    expect(log.slice(4, 6).map((e) => [e.index, e.term, e.data])).toEqual([
      [4, 1, all[3]!.data],
      [5, 2, all[4]!.data],
      [6, 9, 'new'],
    ]);
    expect(() => log.truncateFrom(3)).toThrow(/handed out/);
  });

  it('refuses a tail that does not match the terms', () => {
    const all = entries(5);
    const terms = all.map((e) => e.term);
    const window = { entries: 1, bytes: 1 };
    expect(() => new RaftLog({ terms, tail: all.slice(2, 4), load: noLoads, window })).toThrow(/tail/);
    expect(() => new RaftLog({ terms, tail: [{ ...all[4]!, term: 7 }], load: noLoads, window })).toThrow(/tail/);
    expect(() => new RaftLog({ terms: [2, 1], tail: [], load: noLoads, window })).toThrow(/decrease/);
    expect(new RaftLog({ terms, tail: all.slice(3), load: noLoads, window }).payloadsHeld).toBe(2);
  });
});
