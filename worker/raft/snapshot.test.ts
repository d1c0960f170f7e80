// Log compaction and InstallSnapshot (§7), through the lock-step harness: the
// production host compacts every few entries, and a follower behind the
// compacted prefix receives the leader's state machine in small chunks.
import { describe, expect, it } from 'vitest';
import { TestCluster } from '../../test/fixtures/raft-cluster';
import type { Message } from './messages';

const tiny = { snapshotEvery: 5, logRetain: 2, snapshotChunkBytes: 40 };
const others = (c: TestCluster, id: string) => [...c.nodes.keys()].filter((x) => x !== id);

/** Drop (and count) the messages of `type` that `drop` picks, until it returns false. */
function dropWhere(c: TestCluster, drop: (m: Message) => boolean): { dropped: Message[] } {
  const dropped: Message[] = [];
  const push = c.queue.push.bind(c.queue);
  c.queue.push = (...ms) => push(...ms.filter((m) => (drop(m) ? (dropped.push(m), false) : true)));
  return { dropped };
}

/**
 * A 3-node cluster where one follower missed 30 writes while the leader
 * compacted past them; healed, so the leader must send it a snapshot.
 */
function laggardBehindCompaction(options: ConstructorParameters<typeof TestCluster>[1]): {
  c: TestCluster;
  leader: string;
  laggard: string;
} {
  const c = new TestCluster(3, options);
  const leader = c.elect();
  const laggard = others(c, leader)[0]!;
  c.isolate(laggard);
  for (let i = 0; i < 30; i++) c.propose(leader, `v${i}`);
  c.advance(100);
  expect(c.get(leader).node.status(c.now).firstLogIndex).toBeGreaterThan(2); // the laggard's next entry is gone
  c.heal();
  return { c, leader, laggard };
}

describe('log compaction and InstallSnapshot (§7)', () => {
  it('a leader compacts its log as it applies, keeping only the retained tail', () => {
    const c = new TestCluster(3, tiny);
    const leader = c.elect();
    for (let i = 0; i < 40; i++) c.propose(leader, `v${i}`);
    c.advance(200);
    for (const id of c.nodes.keys()) {
      const s = c.get(id).node.status(c.now);
      expect(s.snapshotIndex).toBeGreaterThan(30);
      expect(s.firstLogIndex).toBe(s.snapshotIndex + 1);
      expect(c.commands(id)).toHaveLength(40);
    }
  });

  it('a follower behind the compacted prefix is sent a snapshot in chunks, then the log after it', () => {
    const { c, leader, laggard } = laggardBehindCompaction(tiny);
    let chunks = 0;
    dropWhere(c, (m) => (m.type === 'snapshot' && chunks++, false));
    c.advance(1000);
    expect(chunks).toBeGreaterThan(2); // the applied list does not fit one 40-character chunk
    for (let i = 30; i < 35; i++) c.propose(leader, `v${i}`);
    c.advance(200);
    expect(c.commands(laggard)).toEqual(c.commands(leader));
    expect(c.get(laggard).node.status(c.now).snapshotIndex).toBeGreaterThan(0);
  });

  it('the leader keeps the entries after a snapshot in flight, so the follower needs only one', () => {
    const { c, leader, laggard } = laggardBehindCompaction({ ...tiny, snapshotChunkBytes: 64 });
    // The follower's answers come back one per step, while writes keep coming: without the
    // cap, compaction passes the snapshot being sent and the follower needs another one.
    const held: Message[] = [];
    let installs = 0;
    const push = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) => {
      for (const m of ms) {
        if (m.type === 'snapshotResp' && m.from === laggard) {
          if (m.installed) installs++;
          held.push(m);
        } else push(m);
      }
      return c.queue.length;
    };
    for (let t = 0; t < 200 && (installs === 0 || held.length > 0); t++) {
      c.propose(leader, `w${t}`);
      const next = held.shift();
      if (next) push(next);
      c.advance(5);
    }
    c.queue.push = push;
    c.advance(500);
    expect(c.commands(laggard)).toEqual(c.commands(leader));
    expect(installs).toBe(1);
  });

  it('the leader closes its snapshot (a durable machine frees its copy) once no follower is being sent it', () => {
    const { c, leader, laggard } = laggardBehindCompaction(tiny);
    c.advance(1000);
    expect(c.commands(laggard)).toEqual(c.commands(leader));
    expect(c.get(leader).snapshotsOpened).toBe(1);
    expect(c.get(leader).openSnapshots).toBe(0);
  });

  it('a follower that stops answering mid-snapshot does not hold back compaction, and gets a current one when back', () => {
    const { c, leader, laggard } = laggardBehindCompaction(tiny);
    c.advance(30); // the transfer has started
    const l = c.get(leader);
    expect(l.node.status(c.now).peers.find((p) => p.id === laggard)?.state).toBe('snapshot');
    expect(l.openSnapshots).toBe(1);
    c.isolate(laggard);
    const firstBefore = l.node.status(c.now).firstLogIndex;
    for (let t = 0; t < 150; t++) {
      c.propose(leader, `down${t}`);
      c.advance(100); // 15 s in all: past snapshotPeerSilentMs (host/snapshot-sender.ts)
    }
    // The log moved on without it, and the old copy was sent on rather than a new copy per compaction.
    expect(l.node.status(c.now).firstLogIndex).toBeGreaterThan(firstBefore + 100);
    expect(l.snapshotsOpened).toBe(1);
    c.heal();
    c.advance(3000);
    expect(c.commands(laggard)).toEqual(c.commands(leader));
    expect(l.openSnapshots).toBe(0);
  });

  it('a lost chunk is sent again until it gets through', () => {
    const { c, leader, laggard } = laggardBehindCompaction(tiny);
    let lost = 0;
    const { dropped } = dropWhere(c, (m) => m.type === 'snapshot' && m.chunk === 1 && lost++ < 3);
    c.advance(2000);
    expect(dropped.length).toBe(3);
    expect(c.commands(laggard)).toEqual(c.commands(leader));
  });

  it('a follower that lost its staging (a restart) asks for chunk 0 again', () => {
    const c = new TestCluster(3, tiny);
    const leader = c.elect();
    const follower = others(c, leader)[0]!;
    const term = c.get(leader).node.status(c.now).term;
    const chunk = (n: number) => ({
      type: 'snapshot' as const,
      from: leader,
      to: follower,
      term,
      leaderUrl: 'http://x',
      index: 50,
      lastTerm: term,
      chunk: n,
      data: 'part',
      done: false,
      membership: c.get(leader).node.membership(),
    });
    const f = c.get(follower).node;
    expect(f.step(chunk(0), c.now).messages).toEqual([expect.objectContaining({ type: 'snapshotResp', nextChunk: 1, installed: false })]);
    expect(f.step(chunk(1), c.now).snapshotChunk).toMatchObject({ chunk: 1 });
    expect(f.step(chunk(1), c.now).messages).toEqual([expect.objectContaining({ nextChunk: 2 })]); // a duplicate: not staged twice
    c.restart(follower);
    const r = c.get(follower).node.step(chunk(2), c.now);
    expect(r.snapshotChunk).toBeNull();
    expect(r.messages).toEqual([expect.objectContaining({ type: 'snapshotResp', nextChunk: 0, installed: false })]);
  });

  it('a snapshot for entries the follower already committed installs nothing and answers where the logs match', () => {
    const c = new TestCluster(3, tiny);
    const leader = c.elect();
    for (let i = 0; i < 10; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    const follower = others(c, leader)[0]!;
    const commit = c.get(follower).node.status(c.now).commitIndex;
    const term = c.get(leader).node.status(c.now).term;
    const r = c.get(follower).node.step(
      {
        type: 'snapshot',
        from: leader,
        to: follower,
        term,
        leaderUrl: 'http://x',
        index: commit - 1,
        lastTerm: term,
        chunk: 0,
        data: '[]',
        done: true,
        membership: c.get(leader).node.membership(),
      },
      c.now,
    );
    expect(r.installSnapshot).toBeNull();
    expect(r.snapshotChunk).toBeNull();
    expect(r.messages).toEqual([expect.objectContaining({ type: 'snapshotResp', installed: true, matchIndex: commit })]);
  });

  it("a follower holding the snapshot's last entry keeps the entries after it", () => {
    const c = new TestCluster(3, { ...tiny, snapshotEvery: 1000 });
    const leader = c.elect();
    for (let i = 0; i < 6; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    const follower = others(c, leader)[0]!;
    const f = c.get(follower);
    const before = f.node.status(c.now);
    const term = before.term;
    // A snapshot at an index the follower holds but has not yet committed, as a new leader's might be.
    const at = before.commitIndex + 1;
    const extra = { index: at, term, kind: 'command' as const, data: 'x' };
    c.apply(
      follower,
      f.node.step(
        {
          type: 'append',
          from: leader,
          to: follower,
          term,
          leaderUrl: 'http://x',
          prevLogIndex: before.lastLogIndex,
          prevLogTerm: before.lastLogTerm,
          entries: [
            { ...extra, index: before.lastLogIndex + 1 },
            { ...extra, index: before.lastLogIndex + 2 },
          ],
          commit: before.commitIndex,
          round: 0,
        },
        c.now,
      ),
    );
    const index = before.lastLogIndex + 1;
    const r = c.apply(
      follower,
      f.node.step(
        {
          type: 'snapshot',
          from: leader,
          to: follower,
          term,
          leaderUrl: 'http://x',
          index,
          lastTerm: term,
          chunk: 0,
          data: JSON.stringify(c.get(leader).applied),
          done: true,
          membership: c.get(leader).node.membership(),
        },
        c.now,
      ),
    );
    expect(r.installSnapshot).toMatchObject({ index, term, keepLog: true });
    const after = f.node.status(c.now);
    expect(after.lastLogIndex).toBe(before.lastLogIndex + 2); // the entry after the snapshot stayed
    expect(after.firstLogIndex).toBe(index + 1);
    expect(after.appliedIndex).toBe(index);
  });

  it('§5.4.2: an installed-snapshot answer claiming more than was sent is not counted beyond it', () => {
    const c = new TestCluster(3, tiny);
    const leader = c.elect();
    const [liar, other] = others(c, leader) as [string, string];
    c.isolate(liar);
    for (let i = 0; i < 30; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    c.heal();
    c.isolate(other); // from now on the liar alone makes a majority with the leader
    for (let i = 0; i < 3; i++) c.propose(leader, `late${i}`); // never sent to the liar: it is owed a snapshot
    let installed = false;
    const push = c.queue.push.bind(c.queue);
    c.queue.push = (...ms) =>
      push(
        ...ms
          .filter((m) => !(installed && m.type === 'append' && m.to === liar)) // the liar gets nothing after the snapshot
          .map((m) => {
            if (m.type !== 'snapshotResp' || !m.installed || m.from !== liar) return m;
            installed = true;
            return { ...m, matchIndex: 1_000_000 };
          }),
      );
    c.advance(1000);
    expect(installed).toBe(true);
    const held = c.get(liar).node.status(c.now).lastLogIndex;
    const st = c.get(leader).node.status(c.now);
    expect(st.commitIndex).toBeLessThanOrEqual(held);
    expect(c.commands(leader).filter((v) => v.startsWith('late'))).toEqual([]);
  });
});
