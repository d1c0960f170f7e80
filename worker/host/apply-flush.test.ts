// When the host has the state machine write what it applied: with the next
// log write, not in the event that applies. The event in which a leader learns
// that its entries are committed then writes nothing, so the answers it
// releases wait for no durable write of their own (Raft §5.3: an entry is
// committed once stored on a majority; applying it is not a second storage
// round). A restart applies again what comes after the stored applied index.
import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../test/fixtures/raft-cluster';

describe('host: applied effects go out with the next log write (§5.3)', () => {
  it('a Ready that only applies entries writes nothing; the next log write carries them, first', () => {
    const c = new TestCluster(3);
    const id = c.elect();
    const leader = c.get(id);
    c.propose(id, 'a');
    c.deliver(); // the followers store a and answer; the leader commits and applies it
    const a = leader.applied[leader.applied.length - 1]!;
    expect(a.data).toBe('a');
    leader.writes.length = 0;

    // Applying b's predecessor happened above without a write; b's own log write flushes it first, in one transaction.
    c.propose(id, 'b');
    expect(leader.writes).toEqual(['begin', `flush@${a.index}`, 'save', 'end']);
    leader.writes.length = 0;
    c.deliver();
    expect(leader.applied[leader.applied.length - 1]!.data).toBe('b');
    expect(leader.writes).toEqual([]); // the commit of b wrote nothing
  });

  it('a log write with nothing applied to flush opens no transaction of its own', () => {
    const c = new TestCluster(3);
    const id = c.elect();
    const leader = c.get(id);
    c.propose(id, 'a');
    c.deliver();
    c.propose(id, 'b'); // flushes a
    leader.writes.length = 0;
    c.propose(id, 'c'); // b is not committed yet: nothing applied since
    expect(leader.writes).toEqual(['save']);
  });

  it('a node with nothing more to write flushes at a tick once the applied effects have waited long enough', () => {
    const c = new TestCluster(3);
    const id = c.elect();
    const leader = c.get(id);
    c.propose(id, 'a');
    c.deliver();
    const a = leader.applied[leader.applied.length - 1]!;
    leader.writes.length = 0;
    c.advance(200); // heartbeats only
    expect(leader.writes).toEqual([`flush@${a.index}`]);
  });

  it('a node restarted before the flush applies the entries again from its log', () => {
    const c = new TestCluster(3);
    const id = c.elect();
    c.propose(id, 'a');
    c.deliver();
    const leader = c.get(id);
    expect(leader.writes.filter((w) => w.startsWith('flush@')).every((w) => Number(w.slice(6)) < leader.applied.length)).toBe(true);
    c.restart(id);
    c.elect();
    c.advance(100);
    expect(c.commands(id)).toEqual(['a']);
  });
});
