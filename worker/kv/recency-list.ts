// Items ordered by last use, for LRU eviction: an intrusive doubly linked
// list, so touching and evicting are O(1).
//
// Why not rely on a Map's insertion order (delete and re-insert on use, evict
// `keys().next()`)? V8 leaves a tombstone per deleted Map entry until the
// table is rehashed, and `keys().next()` walks over them, so with the table
// full and every new client evicting one, each eviction costs O(table size).

export interface Linked<T> {
  older: T | null;
  newer: T | null;
}

export class RecencyList<T extends Linked<T>> {
  private oldest: T | null = null;
  private newest: T | null = null;

  /** Add an item that is in no list as the most recently used. */
  pushNewest(item: T): void {
    item.older = this.newest;
    item.newer = null;
    if (this.newest === null) this.oldest = item;
    else this.newest.newer = item;
    this.newest = item;
  }

  /** Unlink an item that is in this list. */
  remove(item: T): void {
    if (item.older === null) this.oldest = item.newer;
    else item.older.newer = item.newer;
    if (item.newer === null) this.newest = item.older;
    else item.newer.older = item.older;
    item.older = null;
    item.newer = null;
  }

  moveToNewest(item: T): void {
    if (this.newest === item) return;
    this.remove(item);
    this.pushNewest(item);
  }

  peekOldest(): T | null {
    return this.oldest;
  }

  *fromOldest(): IterableIterator<T> {
    for (let item = this.oldest; item !== null; item = item.newer) yield item;
  }
}
