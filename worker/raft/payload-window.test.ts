// The node with a bounded payload window: a restart replays a long committed
// log in capped batches read through the loader, Ready.moreCommitted keeps the
// host asking until all of it is out, reads wait for their index to be handed
// out, and a lagging follower is served from storage.
import { describe, expect, it } from 'vitest';
import { configFor, seeded, TestCluster } from '../../test/fixtures/raft-cluster';
import { loadStored, persistedFrom, type StoredLog } from '../../test/fixtures/stored-log';
import type { RaftConfig } from './config';
import { RaftNode } from './node';
import type { Ready } from './ready';
import type { Entry } from './types';

const command = (index: number, data = `c${index}`.padEnd(10, '.')): Entry => ({ index, term: 1, kind: 'command', data });

/** A single node restarted from a disk of `n` entries of term 1, `commit` of them committed. */
function restarted(n: number, commit: number, overrides: Partial<RaftConfig>) {
  const disk: StoredLog = { hardState: { term: 1, vote: 'n1', commit }, entries: Array.from({ length: n }, (_, i) => command(i + 1)) };
  const loads: [number, number][] = [];
  const node = new RaftNode({
    config: configFor(1, 1, overrides),
    persisted: persistedFrom(disk),
    random: seeded(1),
    now: 0,
    loadEntries: (from, to, maxBytes) => {
      loads.push([from, to]);
      return loadStored(disk.entries, from, to, maxBytes);
    },
  });
  return { node, loads };
}

/** Call tick(now) while the Ready says more committed entries wait; every Ready, the first included. */
function drain(node: RaftNode, first: Ready, now: number): Ready[] {
  const out = [first];
  while (out[out.length - 1]!.moreCommitted) out.push(node.tick(now));
  return out;
}

describe('bounded payload window', () => {
  it('a restart replays a long committed log in capped batches through the loader', () => {
    const { node, loads } = restarted(100, 90, { maxCommittedEntriesPerReady: 8, payloadWindowEntries: 4 });
    expect(node.payloadsHeld()).toBe(10); // only the entries after the stored commit index
    const readies = drain(node, node.tick(0), 0);
    expect(readies.map((r) => r.committed.length)).toEqual([8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 2]);
    expect(readies.map((r) => r.moreCommitted)).toEqual([...Array(11).fill(true), false]);
    expect(readies.flatMap((r) => r.committed.map((e) => e.index))).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    expect(readies.flatMap((r) => r.committed)).toEqual(Array.from({ length: 90 }, (_, i) => command(i + 1)));
    expect(loads[0]).toEqual([1, 8]);
    expect(loads).toHaveLength(12); // one read per batch; entry 90 is still on disk, not in memory
    expect(node.payloadsHeld()).toBe(10);
    expect(node.status(0).appliedIndex).toBe(90);
  });

  it('caps a batch by bytes too, but always hands out one entry', () => {
    const { node } = restarted(20, 20, { maxCommittedBytesPerReady: 25 });
    expect(drain(node, node.tick(0), 0).map((r) => r.committed.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
    const { node: tiny } = restarted(3, 3, { maxCommittedBytesPerReady: 1 });
    expect(drain(tiny, tiny.tick(0), 0).map((r) => r.committed.length)).toEqual([1, 1, 1]);
  });

  it('a host that ignores moreCommitted still gets the rest with its next calls', () => {
    const { node } = restarted(10, 10, { maxCommittedEntriesPerReady: 4 });
    expect(node.tick(0).committed.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(node.tick(50).committed.map((e) => e.index)).toEqual([5, 6, 7, 8]);
    const last = node.tick(60);
    expect(last.committed.map((e) => e.index)).toEqual([9, 10]);
    expect(last.moreCommitted).toBe(false);
  });

  it('thesis §6.4: a read is released only with the batch that hands out its index', () => {
    const { node } = restarted(40, 40, { maxCommittedEntriesPerReady: 4 });
    const now = 1_000; // past the election timeout: the lone node wins at once
    const elected = node.tick(now);
    expect(node.status(now).role).toBe('leader');
    expect(elected.moreCommitted).toBe(true);
    const r = node.read(7, now);
    expect(r.reads).toEqual([]);
    const readies = drain(node, r, now);
    const at = readies.findIndex((x) => x.reads.length > 0);
    expect(readies[at]!.reads).toEqual([{ ref: 7, index: 41 }]); // the no-op of the new term
    const handedOut = readies.slice(0, at + 1).flatMap((x) => x.committed);
    expect(handedOut[handedOut.length - 1]!.index).toBe(41);
    expect(readies.slice(at + 1).every((x) => x.committed.length === 0)).toBe(true);
  });

  it('a leader serves a far-behind follower from storage and keeps only its window in memory', () => {
    const c = new TestCluster(3, { payloadWindowEntries: 2, maxEntriesPerMessage: 16 });
    const leader = c.elect();
    const laggard = [...c.nodes.keys()].find((id) => id !== leader)!;
    c.isolate(laggard);
    for (let i = 0; i < 200; i++) c.propose(leader, `v${i}`);
    c.advance(100);
    expect(c.get(leader).node.payloadsHeld()).toBe(2);
    c.heal();
    c.advance(2000);
    expect(c.commands(laggard)).toEqual(Array.from({ length: 200 }, (_, i) => `v${i}`));
    for (const n of c.nodes.values()) expect(n.node.payloadsHeld()).toBeLessThanOrEqual(2);
  });

  it('a restarted follower with a tiny window and batch replays everything and rejoins', () => {
    const c = new TestCluster(3, { payloadWindowEntries: 1, payloadWindowBytes: 1, maxCommittedEntriesPerReady: 3 });
    const leader = c.elect();
    for (let i = 0; i < 30; i++) c.propose(leader, `r${i}`);
    c.advance(200);
    const follower = [...c.nodes.keys()].find((id) => id !== leader)!;
    c.restart(follower);
    c.propose(leader, 'after');
    c.advance(300);
    expect(c.commands(follower)).toEqual([...Array.from({ length: 30 }, (_, i) => `r${i}`), 'after']);
  });
});
