// The in-memory image of the replicated log. The host persists it; this class
// only holds what the core needs to decide.
//
// The term of every entry stays in memory (one number an entry), but the
// payloads (kind and data) only for a window at the end. Once the core has
// handed an entry out for applying (`release`), its payload may drop out of
// memory when it lies more than `window.entries` entries (or `window.bytes` of
// data) behind the last one handed out. Whatever is not held is read back
// through the host's loader, synchronously, when a lagging follower or a
// replay needs it. Only handed-out entries are dropped, and those are
// committed and stored: the host stores a Ready's entries before it calls the
// core again. The loader must agree with the terms held here; if it does not,
// storage and memory have diverged, which is a bug (it throws).
//
// Entries up to `offset` are compacted away (§7): the state machine's
// snapshot covers them, and only the term of the last one (`offsetTerm`) is
// kept, for the consistency check of the entry after it. Nothing in memory
// grows with the compacted history.
import type { Entry, Index, Term } from './types';

/**
 * The host's synchronous read of stored entries `from` through `to`
 * (inclusive), in order. It may stop early, right after the entry that takes
 * the total length of `data` past `maxBytes`. It throws if storage lacks any.
 */
export type EntryLoader = (from: Index, to: Index, maxBytes: number) => Entry[];

/** How many handed-out entries keep their payload in memory (see the file comment). */
export interface PayloadWindow {
  entries: number;
  bytes: number;
}

/** The last index a snapshot covers and its term (§7); index 0 and term 0 when nothing is compacted. */
export interface SnapshotPoint {
  index: Index;
  term: Term;
}

export interface RaftLogInit {
  /** Where the stored log starts: the entries up to it are compacted. Default: nothing compacted. */
  compacted?: SnapshotPoint;
  /** The term of every stored entry after `compacted`: terms[i] is the term of index compacted.index + i + 1. */
  terms: readonly Term[];
  /** The last entries in full, ending at the last index (possibly none). */
  tail: readonly Entry[];
  load: EntryLoader;
  window: PayloadWindow;
}

export class RaftLog {
  private offset: Index = 0;
  private offsetTerm: Term = 0;
  private terms: Term[];
  /** Entries held in full: index `heldFrom + k` is at `held[start + k]`, through lastIndex. */
  private held: (Entry | undefined)[];
  private start = 0;
  private heldFrom: Index;
  /** Highest index handed out for applying: payloads at or below it may be dropped. */
  private released: Index = 0;
  /** Bytes of data held for indexes heldFrom..released. */
  private releasedBytes = 0;
  private readonly load: EntryLoader;
  private readonly window: PayloadWindow;

  constructor(init: RaftLogInit) {
    init.terms.forEach((t, i) => {
      if (i > 0 && t < init.terms[i - 1]!) throw new Error(`log terms decrease at index ${i + 1}`);
    });
    this.terms = init.terms.slice();
    this.offset = init.compacted?.index ?? 0;
    this.offsetTerm = init.compacted?.term ?? 0;
    this.released = this.offset;
    if (init.terms.length > 0 && init.terms[0]! < this.offsetTerm)
      throw new Error(`log terms decrease after the compacted index ${this.offset}`);
    this.heldFrom = this.lastIndex - init.tail.length + 1;
    init.tail.forEach((e, k) => {
      const index = this.heldFrom + k;
      if (e.index !== index || e.term !== this.term(index)) {
        throw new Error(
          `log tail does not match the terms at position ${k}: entry ${e.index} term ${e.term}, expected ${index} term ${this.term(index)}`,
        );
      }
    });
    this.held = init.tail.slice();
    this.load = init.load;
    this.window = init.window;
  }

  get firstIndex(): Index {
    return this.offset + 1;
  }

  /** The last compacted index and its term. */
  get compacted(): SnapshotPoint {
    return { index: this.offset, term: this.offsetTerm };
  }

  get lastIndex(): Index {
    return this.offset + this.terms.length;
  }

  get lastTerm(): Term {
    return this.term(this.lastIndex);
  }

  /** How many entries have their payload in memory. */
  get payloadsHeld(): number {
    return this.lastIndex - this.heldFrom + 1;
  }

  /** Term of the entry at `index`, 0 for index 0 (the empty prefix); -1 past either end (compacted or beyond the last). */
  term(index: Index): Term {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset) return -1;
    return this.terms[index - this.offset - 1] ?? -1;
  }

  /** Entries in [from, to] (inclusive), clamped to the log. */
  slice(from: Index, to: Index): Entry[] {
    return this.sliceLimited(from, to, Infinity, Infinity);
  }

  /**
   * Entries in [from, to], clamped to the log, at most `maxCount` of them and
   * at most `maxBytes` of payload (but always at least one, so a large entry
   * still goes out). Entries not held are read through the loader.
   */
  sliceLimited(from: Index, to: Index, maxCount: number, maxBytes: number): Entry[] {
    const lo = Math.max(from, this.firstIndex);
    const hi = Math.min(to, this.lastIndex, lo + maxCount - 1);
    const out: Entry[] = [];
    let bytes = 0;
    const take = (e: Entry): boolean => {
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) return false;
      out.push(e);
      return true;
    };
    if (lo > hi) return out;
    if (lo < this.heldFrom) {
      const last = Math.min(hi, this.heldFrom - 1);
      const loaded = this.loadChecked(lo, last, maxBytes);
      for (const e of loaded) if (!take(e)) return out;
      if (loaded.length < last - lo + 1) return out; // the loader stopped at the byte limit
    }
    for (let i = Math.max(lo, this.heldFrom); i <= hi; i++) if (!take(this.at(i))) break;
    return out;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  append(entry: Entry): void {
    if (entry.index !== this.lastIndex + 1) throw new Error(`append at ${entry.index} but last index is ${this.lastIndex}`);
    this.terms.push(entry.term);
    this.held.push(entry);
  }

  /** Drop every entry with index >= `index`. */
  truncateFrom(index: Index): void {
    if (index <= this.offset) throw new Error(`cannot truncate at ${index}: compacted up to ${this.offset}`);
    if (index <= this.released) throw new Error(`invariant: truncating at ${index}, but entries up to ${this.released} were handed out`);
    if (index > this.lastIndex) return;
    this.terms.length = index - this.offset - 1;
    if (index <= this.heldFrom) {
      this.held = [];
      this.start = 0;
      this.heldFrom = index;
    } else {
      this.held.length = this.start + (index - this.heldFrom);
    }
  }

  /**
   * The core has handed out every entry up to `index` for applying: drop the
   * payloads that fall out of the window behind it.
   */
  release(index: Index): void {
    if (index > this.lastIndex) throw new Error(`invariant: releasing ${index} beyond the last index ${this.lastIndex}`);
    for (let i = Math.max(this.released + 1, this.heldFrom); i <= index; i++) this.releasedBytes += this.at(i).data.length;
    this.released = Math.max(this.released, index);
    const w = this.window;
    while (this.heldFrom <= this.released && (this.released - this.heldFrom + 1 > w.entries || this.releasedBytes > w.bytes)) {
      this.releasedBytes -= this.at(this.heldFrom).data.length;
      this.held[this.start++] = undefined;
      this.heldFrom++;
    }
    // Give the dropped slots back now and then; amortized O(1) per entry.
    if (this.start > 1024 && this.start * 2 > this.held.length) {
      this.held = this.held.slice(this.start);
      this.start = 0;
    }
  }

  /**
   * §7: forget entries up to `index` (already handed out for applying, so the
   * state machine covers them). Their payloads leave memory, their terms too.
   */
  compact(index: Index): void {
    if (index <= this.offset) return;
    if (index > this.released) throw new Error(`invariant: compacting to ${index}, but only ${this.released} were handed out`);
    const term = this.term(index);
    while (this.heldFrom <= index) {
      this.releasedBytes -= this.at(this.heldFrom).data.length;
      this.held[this.start++] = undefined;
      this.heldFrom++;
    }
    this.terms = this.terms.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
    this.held = this.held.slice(this.start);
    this.start = 0;
  }

  /**
   * §7: a snapshot at (index, term) replaces the log. If we hold that very
   * entry, the entries after it stay (they may be ahead of the snapshot);
   * otherwise the whole log goes. Either way everything up to `index` counts
   * as handed out: the state machine is the snapshot's.
   */
  restore(point: SnapshotPoint): void {
    if (point.index <= this.released)
      throw new Error(`invariant: restoring a snapshot at ${point.index}, behind handed-out ${this.released}`);
    if (this.term(point.index) === point.term) {
      for (let i = Math.max(this.released + 1, this.heldFrom); i <= point.index; i++) this.releasedBytes += this.at(i).data.length;
      this.released = point.index;
      this.compact(point.index);
      return;
    }
    this.terms = [];
    this.held = [];
    this.start = 0;
    this.offset = point.index;
    this.offsetTerm = point.term;
    this.heldFrom = point.index + 1;
    this.released = point.index;
    this.releasedBytes = 0;
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

  /** A held entry; `index` must be in [heldFrom, lastIndex]. */
  private at(index: Index): Entry {
    const e = this.held[this.start + index - this.heldFrom];
    if (e === undefined) throw new Error(`invariant: entry ${index} is not held (held from ${this.heldFrom})`);
    return e;
  }

  /** Read [from, to] through the loader and check it against the terms we hold. */
  private loadChecked(from: Index, to: Index, maxBytes: number): Entry[] {
    const got = this.load(from, to, maxBytes);
    let bytes = 0;
    got.forEach((e, k) => {
      if (e.index !== from + k || e.term !== this.term(from + k)) {
        throw new Error(
          `invariant: loaded entry ${e.index} (term ${e.term}) where the log holds index ${from + k} (term ${this.term(from + k)})`,
        );
      }
      bytes += e.data.length;
    });
    const wanted = to - from + 1;
    if (got.length === 0 || got.length > wanted || (got.length < wanted && bytes <= maxBytes)) {
      throw new Error(`invariant: loading ${from}..${to} (at most ${maxBytes} bytes) returned ${got.length} entries`);
    }
    return got;
  }
}
