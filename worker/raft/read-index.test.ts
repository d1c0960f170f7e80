// ReadIndex (thesis §6.4): reads are served only after a quorum round that
// started after they arrived, and only once an entry of the leader's term is committed.
import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../test/fixtures/raft-cluster';

const followerOf = (c: TestCluster, leader: string) => [...c.nodes.keys()].find((id) => id !== leader)!;

describe('ReadIndex', () => {
  it('a follower refuses and names the leader', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    const f = followerOf(c, leader);
    const ref = c.read(f);
    expect(c.get(f).failed).toContainEqual({ ref, kind: 'read', reason: 'notLeader', leader: c.get(leader).node.status(c.now).leader });
  });

  it('is served after one heartbeat round, at an index covering every committed write', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    for (let i = 0; i < 5; i++) c.propose(leader, `w${i}`);
    c.advance(100);
    const commit = c.get(leader).node.status(c.now).commitIndex;
    const ref = c.read(leader);
    expect(c.get(leader).reads).toEqual([]); // not before the round
    c.deliver();
    expect(c.get(leader).reads).toEqual([{ ref, index: commit }]);
  });

  it('a single-node cluster serves at once', () => {
    const c = new TestCluster(1);
    const leader = c.elect();
    c.propose(leader, 'x');
    const ref = c.read(leader);
    expect(c.get(leader).reads.map((r) => r.ref)).toEqual([ref]);
  });

  it("a new leader waits for its term's no-op to commit", () => {
    const c = new TestCluster(3);
    const old = c.elect();
    for (let i = 0; i < 3; i++) c.propose(old, `w${i}`);
    c.advance(100);
    c.isolate(old);
    // elect someone else, but catch the moment it becomes leader, before its no-op commits
    let leader: string | undefined;
    for (let t = 0; t < 3000 && !leader; t += 1) {
      c.now += 1;
      for (const n of c.nodes.values()) if (n.id !== old && c.now >= n.deadline) c.apply(n.id, n.node.tick(c.now));
      // deliver only vote traffic so no AppendEntries is answered yet
      c.queue = c.queue.filter((m) => m.type === 'vote' || m.type === 'voteResp' || m.type === 'append');
      const votes = c.queue.filter((m) => m.type === 'vote' || m.type === 'voteResp');
      c.queue = c.queue.filter((m) => m.type === 'append');
      for (const m of votes) if (!c.cut.has(`${m.from}->${m.to}`)) c.apply(m.to, c.get(m.to).node.step(m, c.now));
      leader = c.leaders().find((id) => id !== old);
    }
    expect(leader).toBeDefined();
    const st = c.get(leader!).node.status(c.now);
    expect(st.commitIndex).toBeLessThan(st.lastLogIndex); // the no-op is not committed yet
    const ref = c.read(leader!);
    c.deliver();
    const served = c.get(leader!).reads.find((r) => r.ref === ref);
    expect(served).toBeDefined();
    expect(served!.index).toBe(st.lastLogIndex); // at least the no-op's index
  });

  it('a leader cut off from the majority never serves; the read fails when it steps down', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    c.isolate(leader);
    const ref = c.read(leader);
    c.advance(2000);
    expect(c.get(leader).reads.find((r) => r.ref === ref)).toBeUndefined();
    expect(c.get(leader).failed).toContainEqual(expect.objectContaining({ ref, kind: 'read', reason: 'leadershipLost' }));
  });

  it('a deposed leader that has not noticed yet does not serve (acks come only from its term)', () => {
    const c = new TestCluster(3, { checkQuorum: false, preVote: false });
    const old = c.elect();
    c.advance(100);
    c.isolate(old);
    c.advance(2000);
    const fresh = c.leaders().find((id) => id !== old)!;
    c.propose(fresh, 'newer');
    c.advance(100);
    expect(c.get(old).node.status(c.now).role).toBe('leader'); // still believes it leads
    const ref = c.read(old);
    c.heal();
    c.advance(500);
    expect(c.get(old).reads.find((r) => r.ref === ref)).toBeUndefined();
    expect(c.get(old).failed.some((f) => f.ref === ref)).toBe(true);
  });

  it("a stale node's answer to an old term's AppendEntries acknowledges no read round (sim seed 5006454)", () => {
    // Rounds are numbered per term. A follower that answers an AppendEntries of an
    // older term tells the sender its own term; if the sender has meanwhile
    // reached that term, the answer must not count as an ack of a round with the
    // same number in the new term.
    const c = new TestCluster(3, { checkQuorum: false, preVote: false });
    const leader = c.elect();
    c.advance(100);
    for (let i = 0; i < 5; i++) {
      c.read(leader);
      c.deliver();
    }
    const f = followerOf(c, leader);
    c.read(leader); // starts a round; hold back its AppendEntries to f
    const held = c.queue.find((m) => m.type === 'append' && m.to === f && m.round > 0)!;
    expect(held).toBeDefined();
    c.queue = c.queue.filter((m) => m !== held);
    c.deliver();
    // The leader restarts and wins the next term with f's vote.
    c.restart(leader);
    c.now += 1_000;
    c.apply(leader, c.get(leader).node.tick(c.now));
    c.deliver();
    expect(c.get(leader).node.status(c.now).role).toBe('leader');
    const term = c.get(leader).node.status(c.now).term;
    // The old-term message reaches f now; f's answer carries f's (new) term.
    c.queue.push(held);
    c.deliver();
    // Cut off, the leader must not confirm a read with that answer and its own ack.
    c.isolate(leader);
    const ref = c.read(leader);
    c.deliver();
    expect(c.get(leader).node.status(c.now).term).toBe(term);
    expect(c.get(leader).reads.find((r) => r.ref === ref)).toBeUndefined();
  });

  it('concurrent reads share heartbeat rounds', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    const rounds = new Set<number>();
    const push = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) => {
      for (const m of ms) if (m.type === 'append' && m.from === leader) rounds.add(m.round);
      return push(...ms);
    };
    const before = Math.max(0, ...rounds);
    const refs: number[] = [];
    for (let i = 0; i < 50; i++) refs.push(c.read(leader)); // all arrive before any reply
    c.deliver();
    for (let i = 0; i < 50; i++) refs.push(c.read(leader));
    c.deliver();
    expect(
      c
        .get(leader)
        .reads.map((r) => r.ref)
        .sort((a, b) => a - b),
    ).toEqual(refs);
    // Each burst: the first read starts a round at once; the other 49 arrived after it
    // started, so they share the next one. 100 reads, 4 rounds.
    expect(Math.max(...rounds) - before).toBeLessThanOrEqual(4);
  });

  it('reads handed in together as one batch share a single round', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    const rounds: number[] = [];
    const push = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) => {
      for (const m of ms) if (m.type === 'append' && m.from === leader) rounds.push(m.round);
      return push(...ms);
    };
    const refs = c.readBatch(leader, 20);
    // One round started, one AppendEntries per follower carries it.
    expect(rounds).toHaveLength(2);
    expect(new Set(rounds).size).toBe(1);
    c.deliver(4); // the two AppendEntries and their two replies: that one round serves them all
    expect(c.get(leader).reads.map((r) => r.ref)).toEqual(refs);
    expect(rounds).toHaveLength(2); // and no second round was needed
    // A follower refuses the whole batch, naming the leader.
    const f = followerOf(c, leader);
    const refused = c.readBatch(f, 3);
    expect(
      c
        .get(f)
        .failed.filter((x) => refused.includes(x.ref))
        .map((x) => x.reason),
    ).toEqual(['notLeader', 'notLeader', 'notLeader']);
  });
});
