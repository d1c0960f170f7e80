// The in-memory image of the replicated log. The host persists it; this class
// only holds what the core needs to decide. Positions before `firstIndex` are
// reserved for a snapshot (next work): `offset` is the index just before the
// first held entry and `offsetTerm` its term, both 0 until compaction exists.
import type { Entry, Index, Term } from './types';

export class RaftLog {
  private entries: Entry[] = [];
  private offset: Index = 0;
  private offsetTerm: Term = 0;

  constructor(entries: Entry[]) {
    entries.forEach((e, i) => {
      if (e.index !== i + 1) throw new Error(`log not contiguous at position ${i}: index ${e.index}`);
      if (i > 0 && e.term < entries[i - 1]!.term) throw new Error(`log terms decrease at index ${e.index}`);
    });
    this.entries = entries.slice();
  }

  get firstIndex(): Index {
    return this.offset + 1;
  }

  get lastIndex(): Index {
    return this.offset + this.entries.length;
  }

  get lastTerm(): Term {
    return this.term(this.lastIndex);
  }

  /** Term of the entry at `index`, 0 for index 0 (the empty prefix); -1 if not held. */
  term(index: Index): Term {
    if (index === this.offset) return this.offsetTerm;
    const e = this.entries[index - this.offset - 1];
    return e ? e.term : -1;
  }

  entry(index: Index): Entry | undefined {
    return this.entries[index - this.offset - 1];
  }

  /** Entries in [from, to] (inclusive), clamped to what is held. */
  slice(from: Index, to: Index): Entry[] {
    const lo = Math.max(from, this.firstIndex) - this.offset - 1;
    const hi = Math.min(to, this.lastIndex) - this.offset;
    return lo < hi ? this.entries.slice(lo, hi) : [];
  }

  /**
   * Entries from `from` on, at most `maxCount` of them and at most `maxBytes`
   * of payload (but always at least one, so a large entry still goes out).
   */
  sliceLimited(from: Index, maxCount: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = Math.max(from, this.firstIndex); i <= this.lastIndex && out.length < maxCount; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  append(entry: Entry): void {
    if (entry.index !== this.lastIndex + 1) throw new Error(`append at ${entry.index} but last index is ${this.lastIndex}`);
    this.entries.push(entry);
  }

  /** Drop every entry with index >= `index`. */
  truncateFrom(index: Index): void {
    if (index <= this.offset) throw new Error(`cannot truncate at ${index}: compacted up to ${this.offset}`);
    this.entries.length = Math.max(0, index - this.offset - 1);
  }

  /**
   * First index of the run of entries sharing the term of `index`, scanning back
   * no further than `floor` (used for the fast-backoff hint of a rejection).
   */
  firstIndexOfTerm(index: Index, floor: Index): Index {
    const t = this.term(index);
    let i = index;
    while (i - 1 > Math.max(floor, this.offset) && this.term(i - 1) === t) i--;
    return i;
  }

  /** Last index <= `from` whose term is <= `term`: where a leader's log stops being newer than `term`. */
  lastIndexAtOrBelowTerm(from: Index, term: Term): Index {
    let i = Math.min(from, this.lastIndex);
    while (i > this.offset && this.term(i) > term) i--;
    return i;
  }
}
