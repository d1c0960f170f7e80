// Log replication (§5.3), batching and pipelining, and the commit rule (§5.4.2).
import { describe, expect, it } from 'vitest';
import { configFor, seeded, TestCluster } from '../../test/fixtures/raft-cluster';
import { logOf } from '../../test/fixtures/stored-log';
import { Core } from './core';
import { silentLogger } from './logger';
import type { AppendRequest, Message } from './messages';
import { maybeCommit } from './replication';
import type { Entry } from './types';

const entry = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, kind: 'command', data });

describe('replication', () => {
  it('every node applies the same commands in the same order', () => {
    const c = new TestCluster(5);
    const leader = c.elect();
    for (let i = 0; i < 50; i++) c.propose(leader, `cmd${i}`);
    c.advance(200);
    const want = Array.from({ length: 50 }, (_, i) => `cmd${i}`);
    for (const id of c.nodes.keys()) expect(c.commands(id)).toEqual(want);
  });

  it('a proposal on a follower fails with the leader as a hint', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    const follower = [...c.nodes.keys()].find((id) => id !== leader)!;
    const ref = c.propose(follower, 'x');
    expect(c.get(follower).failed).toContainEqual({
      ref,
      kind: 'propose',
      reason: 'notLeader',
      leader: c.get(leader).node.status(c.now).leader,
    });
  });

  it('a far-behind follower catches up in bounded messages', () => {
    const c = new TestCluster(3, { maxEntriesPerMessage: 16, maxBytesPerMessage: 1 << 20 });
    const leader = c.elect();
    const laggard = [...c.nodes.keys()].find((id) => id !== leader)!;
    c.isolate(laggard);
    for (let i = 0; i < 500; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    c.heal();
    let biggest = 0;
    const origDeliver = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) => {
      for (const m of ms) if (m.type === 'append') biggest = Math.max(biggest, m.entries.length);
      return origDeliver(...ms);
    };
    c.advance(2000);
    expect(c.commands(laggard)).toHaveLength(500);
    expect(biggest).toBeGreaterThan(1); // batched...
    expect(biggest).toBeLessThanOrEqual(16); // ...but never one huge message
  });

  it('respects the byte limit but always sends at least one entry', () => {
    const { log } = logOf([entry(1, 1, 'x'.repeat(100)), entry(2, 1, 'y'.repeat(100)), entry(3, 1, 'z')]);
    expect(log.sliceLimited(1, 3, 10, 150)).toHaveLength(1);
    expect(log.sliceLimited(1, 3, 10, 1)).toHaveLength(1);
    expect(log.sliceLimited(1, 3, 10, 1000)).toHaveLength(3);
    expect(log.sliceLimited(2, 3, 1, 1000)).toHaveLength(1);
    expect(log.sliceLimited(1, 2, 10, 1000)).toHaveLength(2);
  });

  it('pipelines: several appends are in flight before the first reply', () => {
    const c = new TestCluster(3, { maxEntriesPerMessage: 1, maxInflight: 4 });
    const leader = c.elect();
    c.advance(100);
    c.queue.length = 0;
    for (let i = 0; i < 10; i++) c.propose(leader, `p${i}`);
    const appendsTo = (id: string) => c.queue.filter((m) => m.type === 'append' && m.to === id && m.entries.length > 0).length;
    const follower = [...c.nodes.keys()].find((id) => id !== leader)!;
    expect(appendsTo(follower)).toBe(4); // the inflight limit, not 1 and not 10
    c.advance(300);
    expect(c.commands(follower)).toHaveLength(10);
  });

  it('§5.3: a stale duplicate AppendEntries does not truncate a longer matching log', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    const follower = [...c.nodes.keys()].find((id) => id !== leader)!;
    const captured: AppendRequest[] = [];
    for (let i = 0; i < 3; i++) {
      c.propose(leader, `a${i}`);
      captured.push(...c.queue.filter((m): m is AppendRequest => m.type === 'append' && m.to === follower && m.entries.length > 0));
      c.deliver();
    }
    const before = c.get(follower).node.status(c.now).lastLogIndex;
    const first = captured[0]!;
    const r = c.get(follower).node.step(first, c.now); // replay the oldest append
    expect(r.entries).toEqual([]); // nothing to persist: nothing was truncated or rewritten
    c.apply(follower, r);
    expect(c.get(follower).node.status(c.now).lastLogIndex).toBe(before);
  });

  it('§5.3: conflicting uncommitted entries are replaced, with few round trips (fast backoff)', () => {
    const c = new TestCluster(3);
    const old = c.elect();
    c.advance(100);
    // The old leader appends 200 entries nobody else gets.
    c.isolate(old);
    for (let i = 0; i < 200; i++) c.propose(old, `lost${i}`);
    c.advance(50);
    c.queue.length = 0;
    c.advance(1500); // the rest elect a new leader and commit new entries
    const leader = c.leaders().find((id) => id !== old)!;
    for (let i = 0; i < 5; i++) c.propose(leader, `kept${i}`);
    c.advance(100);
    let rejections = 0;
    const push = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) => {
      for (const m of ms) if (m.type === 'appendResp' && !m.success && m.from === old) rejections++;
      return push(...ms);
    };
    c.heal();
    c.advance(1000);
    const logOf = (id: string) => c.commands(id);
    expect(logOf(old)).toEqual(logOf(leader));
    expect(logOf(old).some((d) => d.startsWith('lost'))).toBe(false);
    expect(rejections).toBeLessThanOrEqual(4); // one term-run skip, not 200 single steps
  });

  it('a restarted node keeps its log and term and rejoins', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    for (let i = 0; i < 10; i++) c.propose(leader, `r${i}`);
    c.advance(200);
    const follower = [...c.nodes.keys()].find((id) => id !== leader)!;
    const term = c.get(follower).node.status(c.now).term;
    c.restart(follower);
    expect(c.get(follower).node.status(c.now).term).toBe(term);
    expect(c.get(follower).node.status(c.now).lastLogIndex).toBeGreaterThanOrEqual(11);
    c.propose(leader, 'after');
    c.advance(300);
    expect(c.commands(follower)).toEqual([...Array.from({ length: 10 }, (_, i) => `r${i}`), 'after']);
  });
});

describe('replies are not trusted beyond what was sent (§5.3, §5.4.2)', () => {
  it.each([100, 1e15])('an acknowledged matchIndex of %s is clamped to the highest index sent to that follower', (claimed) => {
    // One message in flight per follower, so most new entries wait unsent.
    const c = new TestCluster(3, { maxInflight: 1 });
    const leader = c.elect();
    c.advance(100);
    const [liar, other] = [...c.nodes.keys()].filter((id) => id !== leader) as [string, string];
    c.isolate(other); // the liar alone decides what a majority holds
    const start = c.get(leader).node.status(c.now).lastLogIndex;
    for (let i = 0; i < 10; i++) c.propose(leader, `v${i}`);
    const toLiar = c.queue.filter((m) => m.type === 'append' && m.to === liar);
    c.queue = [];
    expect(toLiar).toHaveLength(1);
    const sentUpTo = start + 1; // only the first new entry left
    const l = c.get(leader);
    c.apply(liar, c.get(liar).node.step(toLiar[0]!, c.now));
    const [honest] = c.queue.splice(0);
    expect(honest).toMatchObject({ type: 'appendResp', success: true, matchIndex: sentUpTo });
    c.apply(leader, l.node.step({ ...honest!, matchIndex: claimed } as Message, c.now));
    const st = l.node.status(c.now);
    expect(st.lastLogIndex).toBe(start + 10);
    expect(st.commitIndex).toBe(sentUpTo); // not the entries only the leader holds
    expect(st.peers.find((p) => p.id === liar)?.matchIndex).toBe(sentUpTo);
    // And the leader keeps replicating to it: the follower catches up and everything commits.
    c.advance(200);
    expect(c.get(liar).node.status(c.now).lastLogIndex).toBe(start + 10);
    expect(l.node.status(c.now).commitIndex).toBe(start + 10);
    expect(c.commands(liar)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });
});

describe('an inconsistent append never breaks a node (it is dropped, not thrown on)', () => {
  /** A settled 3-node cluster with a few committed commands. */
  function settled() {
    const c = new TestCluster(3);
    const leader = c.elect();
    for (let i = 0; i < 3; i++) c.propose(leader, `v${i}`);
    c.advance(200);
    const [f1, f2] = [...c.nodes.keys()].filter((id) => id !== leader) as [string, string];
    const st = c.get(leader).node.status(c.now);
    expect(st.commitIndex).toBe(st.lastLogIndex);
    return { c, leader, f1, f2, term: st.term, last: st.lastLogIndex };
  }
  const noop = (index: number, term: number): Entry => ({ index, term, kind: 'noop', data: '' });
  const appendFrom = (
    from: string,
    to: string,
    term: number,
    prevLogIndex: number,
    prevLogTerm: number,
    entries: Entry[],
  ): AppendRequest => ({
    type: 'append',
    from,
    to,
    term,
    leaderUrl: 'http://x',
    prevLogIndex,
    prevLogTerm,
    entries,
    commit: 0,
    round: 0,
  });

  it("§5.2: an append in the leader's own term, sent to the leader, is dropped; it stays leader", () => {
    const { c, leader, f1, term, last } = settled();
    const l = c.get(leader);
    c.queue = [];
    const forged = appendFrom(f1, leader, term, last, term, [noop(last + 1, term)]);
    expect(() => c.apply(leader, l.node.step(forged, c.now))).not.toThrow();
    expect(l.node.status(c.now)).toMatchObject({ role: 'leader', term, lastLogIndex: last });
    expect(c.queue.filter((m) => m.type === 'appendResp')).toEqual([]);
    c.propose(leader, 'after');
    c.advance(100);
    expect(c.commands(f1).at(-1)).toBe('after');
  });

  it('§5.3: entries with a repeat are dropped whole, never answered with a matchIndex past our log', () => {
    const { c, leader, f1, term, last } = settled();
    const f = c.get(f1);
    c.queue = [];
    const dup = appendFrom(leader, f1, term, last, term, [noop(last + 1, term), noop(last + 1, term)]);
    expect(() => c.apply(f1, f.node.step(dup, c.now))).not.toThrow();
    expect(f.node.status(c.now).lastLogIndex).toBe(last);
    expect(c.queue).toEqual([]);
    // Entries starting past prevLogIndex + 1 likewise.
    const gap = appendFrom(leader, f1, term, last, term, [noop(last + 2, term)]);
    expect(() => c.apply(f1, f.node.step(gap, c.now))).not.toThrow();
    expect(f.node.status(c.now).lastLogIndex).toBe(last);
    expect(c.queue).toEqual([]);
  });

  it('§5.4 Leader Completeness: an entry conflicting with a committed one is dropped, the log kept', () => {
    const { c, f1, f2, term, last } = settled();
    const f = c.get(f1);
    const before = f.node.status(c.now);
    expect(before.commitIndex).toBe(last);
    c.queue = [];
    // A peer claiming to lead a later term, whose log disagrees below our commit index.
    const rogue = appendFrom(f2, f1, term + 1, last - 2, c.get(f1).disk.entries[last - 3]!.term, [noop(last - 1, term + 1)]);
    expect(() => c.apply(f1, f.node.step(rogue, c.now))).not.toThrow();
    const after = f.node.status(c.now);
    expect(after).toMatchObject({ lastLogIndex: last, commitIndex: last });
    expect(f.disk.entries.map((e) => e.term)).toEqual(c.get(f2).disk.entries.map((e) => e.term));
    expect(c.queue).toEqual([]);
  });
});

describe('commit rule (§5.4.2)', () => {
  function leaderCore(entries: Entry[], term: number) {
    const core = new Core(configFor(1, 3), logOf(entries).log, { term, vote: 'n1', commit: 0 }, seeded(1), silentLogger, 0);
    core.becomeLeader(0);
    return core;
  }

  it('does not commit an old-term entry by counting replicas', () => {
    const core = leaderCore([entry(1, 1), entry(2, 2)], 3); // noop of term 3 lands at index 3
    for (const pr of core.progress.values()) pr.match = 2; // a majority holds index 2 (term 2)
    maybeCommit(core);
    expect(core.commit).toBe(0);
  });

  it('commits old entries indirectly once an entry of the current term is on a majority', () => {
    const core = leaderCore([entry(1, 1), entry(2, 2)], 3);
    core.progress.get('n2')!.match = 3;
    maybeCommit(core);
    expect(core.commit).toBe(3);
  });

  it('needs a real majority in a 4-node cluster', () => {
    const core = new Core(configFor(1, 4), logOf([]).log, { term: 1, vote: 'n1', commit: 0 }, seeded(1), silentLogger, 0);
    core.becomeLeader(0);
    core.progress.get('n2')!.match = 1; // leader + 1 follower = 2 of 4
    maybeCommit(core);
    expect(core.commit).toBe(0);
    core.progress.get('n3')!.match = 1;
    maybeCommit(core);
    expect(core.commit).toBe(1);
  });
});

describe('group commit', () => {
  it('proposeBatch appends every command in one Ready and one AppendEntries per follower', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    c.queue.length = 0;
    const r = c.apply(
      leader,
      c.get(leader).node.proposeBatch(
        [1, 2, 3, 4].map((ref) => ({ ref, data: `b${ref}` })),
        c.now,
      ),
    );
    expect(r.entries.map((e) => e.data)).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(r.proposed.map((p) => p.ref)).toEqual([1, 2, 3, 4]);
    const appends = r.messages.filter((m): m is AppendRequest => m.type === 'append' && m.entries.length > 0);
    expect(appends).toHaveLength(2);
    for (const a of appends) expect(a.entries.map((e) => e.data)).toEqual(['b1', 'b2', 'b3', 'b4']);
    c.advance(100);
    for (const id of c.nodes.keys()) expect(c.commands(id)).toEqual(['b1', 'b2', 'b3', 'b4']);
  });

  it('on a follower every proposal of the batch fails with the leader hint', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(100);
    const f = [...c.nodes.keys()].find((id) => id !== leader)!;
    const r = c.get(f).node.proposeBatch(
      [
        { ref: 7, data: 'x' },
        { ref: 8, data: 'y' },
      ],
      c.now,
    );
    expect(r.failed.map((x) => [x.ref, x.reason, x.leader?.id])).toEqual([
      [7, 'notLeader', leader],
      [8, 'notLeader', leader],
    ]);
    expect(r.entries).toEqual([]);
  });
});
