// Membership changes (thesis §4.1, single-server), learners, removing the
// leader (§4.2.2), removed nodes that cannot disrupt (§4.2.3), and
// leadership transfer (§3.10), through the lock-step harness.
import { describe, expect, it } from 'vitest';
import { member, TestCluster } from '../../test/fixtures/raft-cluster';
import { applyChange, type Membership } from './membership';

const ids = (m: Membership) => ({ voters: m.voters.map((v) => v.id), learners: m.learners.map((l) => l.id) });
const others = (c: TestCluster, id: string) => [...c.nodes.keys()].filter((x) => x !== id);

describe('single-server membership changes (thesis §4.1)', () => {
  it('a new node joins as a learner: it gets the log but neither votes nor counts toward commit', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    for (let i = 0; i < 5; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    const n4 = c.addNode(4);
    c.proposeChange(leader, { type: 'add', member: member(4), role: 'learner' });
    c.advance(200);
    expect(c.commands('n4')).toEqual(c.commands(leader));
    expect(ids(n4.node.membership())).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    expect(n4.node.status(c.now).role).toBe('follower');
    // With two voters cut off, the learner does not make a majority: nothing new commits.
    const [a, b] = others(c, leader).filter((x) => x !== 'n4');
    c.isolate(a!);
    c.isolate(b!);
    const before = c.get(leader).node.status(c.now).commitIndex;
    c.propose(leader, 'needs-a-voter');
    c.advance(50);
    expect(c.get(leader).node.status(c.now).commitIndex).toBe(before);
  });

  it('a caught-up learner is promoted and then counts: a 4-voter cluster needs 3', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.addNode(4);
    c.proposeChange(leader, { type: 'add', member: member(4), role: 'learner' });
    c.advance(100);
    const ref = c.proposeChange(leader, { type: 'promote', id: 'n4' });
    c.advance(100);
    expect(c.get(leader).proposed.map((p) => p.ref)).toContain(ref);
    expect(ids(c.get('n4').node.membership()).voters).toEqual(['n1', 'n2', 'n3', 'n4']);
    const [a] = others(c, leader).filter((x) => x !== 'n4');
    c.isolate(a!);
    c.propose(leader, 'three-of-four');
    c.advance(50);
    expect(c.commands(leader)).toContain('three-of-four');
  });

  it('§4.2.1: a learner is caught up only if what it lacks fits in one message, bytes counted', () => {
    // One voter: promoting its learner makes a majority of two, so a lagging learner would
    // stall every commit. A message carries two of these 30-byte commands, however high the
    // entry limit.
    const c = new TestCluster(1, { maxEntriesPerMessage: 512, maxBytesPerMessage: 64 });
    const leader = c.elect();
    c.addNode(2);
    c.proposeChange(leader, { type: 'add', member: member(2), role: 'learner' });
    c.advance(50);
    const cmd = (i: number) => `w${i}`.padEnd(30, '.');
    // Cut n2 off, write commands from..to-1 without it, then ask to promote it.
    const promoteBehind = (from: number, to: number): number => {
      c.isolate('n2');
      for (let i = from; i < to; i++) c.propose(leader, cmd(i));
      return c.proposeChange(leader, { type: 'promote', id: 'n2' });
    };
    const far = promoteBehind(0, 40);
    expect(c.get(leader).admin).toContainEqual({ ref: far, ok: false, reason: expect.stringMatching(/has not caught up/) });
    c.heal();
    c.advance(50);
    const three = promoteBehind(40, 43); // three behind: two messages
    expect(c.get(leader).admin).toContainEqual({ ref: three, ok: false, reason: expect.stringMatching(/has not caught up/) });
    c.heal();
    c.advance(50);
    const two = promoteBehind(43, 45); // two behind: one message
    expect(c.get(leader).admin.map((a) => a.ref)).not.toContain(two);
    c.heal();
    c.advance(50);
    expect(c.get(leader).proposed.map((p) => p.ref)).toContain(two);
    expect(ids(c.get(leader).node.membership()).voters).toEqual(['n1', 'n2']);
    c.propose(leader, 'both-voters');
    c.advance(50);
    expect(c.commands('n2')).toContain('both-voters');
  });

  it('refuses a second change while one is uncommitted, and a change before the term has a committed entry', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(50);
    for (const f of others(c, leader)) c.isolate(f); // nothing commits from here
    c.addNode(4);
    c.addNode(5);
    c.proposeChange(leader, { type: 'add', member: member(4), role: 'learner' });
    const second = c.proposeChange(leader, { type: 'add', member: member(5), role: 'learner' });
    expect(c.get(leader).admin).toContainEqual({ ref: second, ok: false, reason: expect.stringMatching(/already in progress/) });
  });

  it('removing the leader: it steps down once the change commits, and another leads without waiting out a timeout', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(50);
    c.proposeChange(leader, { type: 'remove', id: leader });
    const start = c.now;
    let next: string | undefined;
    while (c.now - start < 100 && next === undefined) {
      c.advance(5);
      next = c.leaders().find((l) => l !== leader);
    }
    expect(next).toBeDefined(); // within 100 ms: the election timeout is at least 100
    expect(c.get(leader).node.status(c.now).role).toBe('follower');
    // The removed node never campaigns again.
    c.advance(1000);
    expect(c.get(leader).node.status(c.now).role).toBe('follower');
    expect(ids(c.get(next!).node.membership()).voters).toEqual(others(c, leader).sort());
  });

  it('§4.2.3: a removed node that missed its removal cannot disrupt the cluster', () => {
    // Without pre-vote and check-quorum, so only the membership check stands between it and the cluster.
    const c = new TestCluster(3, { preVote: false, checkQuorum: false });
    const leader = c.elect();
    const victim = others(c, leader)[0]!;
    c.isolate(victim);
    c.proposeChange(leader, { type: 'remove', id: victim });
    c.advance(100);
    const term = c.get(leader).node.status(c.now).term;
    c.advance(1000); // the victim campaigns again and again, alone
    c.heal();
    c.advance(1000);
    expect(c.get(leader).node.status(c.now).role).toBe('leader');
    expect(c.get(leader).node.status(c.now).term).toBe(term);
    expect(c.get(victim).node.status(c.now).term).toBeGreaterThan(term); // it did try
  });

  it('the configuration survives a restart and a snapshot', () => {
    const c = new TestCluster(3, { snapshotEvery: 5, logRetain: 0 });
    const leader = c.elect();
    c.addNode(4);
    c.proposeChange(leader, { type: 'add', member: member(4), role: 'learner' });
    for (let i = 0; i < 20; i++) c.propose(leader, `v${i}`);
    c.advance(200);
    const follower = others(c, leader).find((x) => x !== 'n4')!;
    expect(c.get(follower).node.status(c.now).firstLogIndex).toBeGreaterThan(3); // the config entry is compacted away
    c.restart(follower);
    expect(ids(c.get(follower).node.membership())).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
  });

  it('the single-server rule: one voter in or out at a time; never the last voter', () => {
    const m: Membership = { voters: [member(1)], learners: [member(2)] };
    expect(applyChange(m, { type: 'remove', id: 'n1' })).toEqual({ ok: false, reason: 'n1 is the last voter' });
    expect(applyChange(m, { type: 'add', member: member(2), role: 'voter' })).toMatchObject({ ok: false });
    expect(applyChange(m, { type: 'add', member: { id: 'n9', url: member(2).url }, role: 'learner' })).toMatchObject({ ok: false });
    expect(applyChange(m, { type: 'promote', id: 'n2' })).toEqual({
      ok: true,
      membership: { voters: [member(1), member(2)], learners: [] },
    });
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  it('hands leadership to an up-to-date voter well within an election timeout; writes meanwhile are refused without a leader', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(50);
    const target = others(c, leader)[0]!;
    const ref = c.transfer(leader, target);
    const during = c.propose(leader, 'during');
    expect(c.get(leader).failed).toContainEqual({ ref: during, kind: 'propose', reason: 'notLeader', leader: null });
    const start = c.now;
    while (c.leaders()[0] !== target && c.now - start < 100) c.advance(1);
    expect(c.leaders()).toEqual([target]);
    expect(c.now - start).toBeLessThan(50);
    expect(c.get(leader).admin).toContainEqual({ ref, ok: true });
  });

  it('gives up after an election timeout when the target does not answer, and the old leader takes writes again', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(50);
    const target = others(c, leader)[0]!;
    c.isolate(target);
    const ref = c.transfer(leader, target);
    c.advance(250);
    expect(c.get(leader).admin).toContainEqual({ ref, ok: false, reason: expect.stringMatching(/did not take over/) });
    expect(c.leaders()).toContain(leader);
    c.propose(leader, 'after');
    c.advance(50);
    expect(c.commands(leader)).toContain('after');
  });

  it('refuses a transfer to itself or to a non-voter', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    const self = c.transfer(leader, leader);
    const stranger = c.transfer(leader, 'n9');
    expect(c.get(leader).admin).toEqual([
      { ref: self, ok: false, reason: `${leader} already leads` },
      { ref: stranger, ok: false, reason: 'n9 is not a voter' },
    ]);
  });
});
