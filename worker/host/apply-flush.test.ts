// When the host has the state machine write what it applied: with a later
// log write, not in the event that applies. The event in which a leader
// learns that its entries are committed then writes nothing, so the answers
// it releases wait for no durable write of their own (Raft §5.3: an entry is
// committed once stored on a majority; applying it is not a second storage
// round). Effects wait until applyFlushMs old or applyFlushEntries many, so a
// flush covers many entries. A restart applies again what comes after the
// stored applied index.
import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../test/fixtures/raft-cluster';
import { applyFlushEntries, applyFlushMs } from './applied-effects';

/** A 3-node cluster whose leader has committed and applied `a`; its writes so far are forgotten. */
function committedA() {
  const c = new TestCluster(3);
  const id = c.elect();
  const leader = c.get(id);
  c.propose(id, 'a');
  c.deliver(); // the followers store a and answer; the leader commits and applies it
  const a = leader.applied[leader.applied.length - 1]!;
  expect(a.data).toBe('a');
  return { c, id, leader, a };
}

describe('host: applied effects go out with a later log write (§5.3)', () => {
  it('a Ready that only applies entries writes nothing', () => {
    const { c, id, leader } = committedA();
    leader.writes.length = 0;
    c.propose(id, 'b');
    leader.writes.length = 0;
    c.deliver();
    expect(leader.applied[leader.applied.length - 1]!.data).toBe('b');
    expect(leader.writes).toEqual([]); // the commit of b wrote nothing
  });

  it('a log write soon after rides alone; once the effects are applyFlushMs old, the next log write carries them, first, in one transaction', () => {
    const { c, id, leader, a } = committedA();
    const flushed = leader.writes.filter((w) => w.startsWith('flush@')).length;
    c.propose(id, 'b');
    expect(leader.writes.filter((w) => w.startsWith('flush@'))).toHaveLength(flushed);
    expect(leader.writes[leader.writes.length - 1]).toBe('save');
    c.deliver();
    leader.writes.length = 0;
    c.now += applyFlushMs; // no timer fires: only the log write can flush
    c.propose(id, 'c');
    const b = leader.applied[leader.applied.length - 1]!;
    expect(b.index).toBe(a.index + 1);
    expect(leader.writes).toEqual(['begin', `flush@${b.index}`, 'save', 'end']);
  });

  it('applyFlushEntries applied entries are written with the next log write, however young', () => {
    const { c, id, leader } = committedA();
    c.now += applyFlushMs;
    c.propose(id, 'flush a');
    c.deliver();
    for (let i = 0; i < applyFlushEntries; i++) c.propose(id, `x${i}`);
    c.deliver();
    leader.writes.length = 0;
    c.propose(id, 'last');
    expect(leader.writes).toEqual(['begin', `flush@${leader.applied[leader.applied.length - 1]!.index}`, 'save', 'end']);
  });

  it('a log write with nothing applied to flush opens no transaction of its own', () => {
    const { c, id, leader } = committedA();
    c.now += applyFlushMs;
    c.propose(id, 'b'); // flushes a
    leader.writes.length = 0;
    c.now += applyFlushMs;
    c.propose(id, 'c'); // b is not committed yet: nothing applied since
    expect(leader.writes).toEqual(['save']);
  });

  it('a node with nothing more to write flushes at a tick once the effects are applyFlushMs old', () => {
    const { c, leader, a } = committedA();
    leader.writes.length = 0;
    c.advance(applyFlushMs / 2); // heartbeats only
    expect(leader.writes).toEqual([]);
    c.advance(applyFlushMs * 2);
    expect(leader.writes).toEqual([`flush@${a.index}`]);
  });

  it('a node restarted before the flush applies the entries again from its log', () => {
    const { c, id, leader } = committedA();
    expect(leader.writes.filter((w) => w.startsWith('flush@')).every((w) => Number(w.slice(6)) < leader.applied.length)).toBe(true);
    c.restart(id);
    c.elect();
    c.advance(100);
    expect(c.commands(id)).toEqual(['a']);
  });
});
