import { describe, expect, it } from 'vitest';
import { RecencyList } from './recency-list';

interface Item {
  name: string;
  older: Item | null;
  newer: Item | null;
}

const item = (name: string): Item => ({ name, older: null, newer: null });
const names = (list: RecencyList<Item>) => [...list.fromOldest()].map((i) => i.name);

describe('RecencyList', () => {
  it('orders by use and unlinks from the ends and the middle', () => {
    const list = new RecencyList<Item>();
    expect(list.peekOldest()).toBeNull();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    for (const i of [a, b, c, d]) list.pushNewest(i);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    list.moveToNewest(a);
    list.moveToNewest(a); // already newest: no change
    expect(names(list)).toEqual(['b', 'c', 'd', 'a']);
    list.remove(c);
    expect(names(list)).toEqual(['b', 'd', 'a']);
    list.remove(list.peekOldest() as Item);
    list.remove(a);
    expect(names(list)).toEqual(['d']);
    expect(list.peekOldest()).toBe(d);
    list.remove(d);
    expect(names(list)).toEqual([]);
    list.pushNewest(c);
    expect(names(list)).toEqual(['c']);
  });
});
