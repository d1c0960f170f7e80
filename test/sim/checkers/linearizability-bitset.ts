// The set of operations already linearized, as a bitset with an incremental
// hash. The search adds and removes one operation per step and looks the set
// up in its cache after each addition, so both must be cheap:
// - the hash is the XOR of a fixed random word per operation (Zobrist
//   hashing), updated in O(1) on every add/remove;
// - a stored snapshot skips the leading words whose bits are all set. Ops are
//   numbered in invoke order and the search linearizes roughly in that order,
//   so that prefix grows steadily and a snapshot is usually a word or two.

const FULL = 0xffffffff;

/** A frozen copy of an `OpSet`, compact enough to keep one per visited state. */
export interface OpSetSnapshot {
  /** Number of leading words with every bit set. */
  readonly fullWords: number;
  /** The words after those, with trailing zero words dropped. */
  readonly tail: readonly number[];
}

export class OpSet {
  private readonly words: Uint32Array;
  private readonly zobrist: Uint32Array;
  /** A lower bound on the number of leading full words; raised lazily. */
  private fullWords = 0;
  private hashValue = 0;

  constructor(size: number) {
    const wordCount = Math.ceil(size / 32);
    this.words = new Uint32Array(wordCount);
    // Bits past `size` in the last word count as set, so a set holding every
    // operation has only full words and an empty tail.
    if (size % 32 !== 0) this.words[wordCount - 1] = (FULL << (size % 32)) >>> 0;
    this.zobrist = zobristWords(size);
  }

  get hash(): number {
    return this.hashValue;
  }

  has(op: number): boolean {
    return ((this.words[op >>> 5]! >>> (op & 31)) & 1) === 1;
  }

  add(op: number): void {
    const w = op >>> 5;
    this.words[w] = this.words[w]! | (1 << (op & 31));
    this.hashValue = (this.hashValue ^ this.zobrist[op]!) >>> 0;
  }

  remove(op: number): void {
    const w = op >>> 5;
    this.words[w] = this.words[w]! & ~(1 << (op & 31));
    this.hashValue = (this.hashValue ^ this.zobrist[op]!) >>> 0;
    if (w < this.fullWords) this.fullWords = w;
  }

  snapshot(): OpSetSnapshot {
    const start = this.advanceFullWords();
    const end = this.tailEnd(start);
    // A plain array: far cheaper than a typed array for the one or two words
    // a snapshot usually holds, and snapshots are made for every state.
    const tail: number[] = [];
    for (let i = start; i < end; i++) tail.push(this.words[i]!);
    return { fullWords: start, tail };
  }

  matches(snapshot: OpSetSnapshot): boolean {
    const start = this.advanceFullWords();
    if (start !== snapshot.fullWords) return false;
    const end = this.tailEnd(start);
    if (end - start !== snapshot.tail.length) return false;
    for (let i = start; i < end; i++) {
      if (this.words[i] !== snapshot.tail[i - start]) return false;
    }
    return true;
  }

  /** True when every member of `snapshot` is also in this set. */
  containsAll(snapshot: OpSetSnapshot): boolean {
    const start = this.advanceFullWords();
    if (snapshot.fullWords > start) return false;
    for (let i = 0; i < snapshot.tail.length; i++) {
      const mine = this.words[snapshot.fullWords + i]!;
      if ((snapshot.tail[i]! & ~mine) !== 0) return false;
    }
    return true;
  }

  private advanceFullWords(): number {
    while (this.fullWords < this.words.length && this.words[this.fullWords] === FULL) this.fullWords++;
    return this.fullWords;
  }

  private tailEnd(start: number): number {
    let end = this.words.length;
    while (end > start && this.words[end - 1] === 0) end--;
    return end;
  }
}

/**
 * Fixed pseudo-random words (mulberry32 with a constant seed), so the search
 * visits states in the same order on every run and a failure replays exactly.
 */
function zobristWords(size: number): Uint32Array {
  const out = new Uint32Array(size);
  let seed = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return out;
}
