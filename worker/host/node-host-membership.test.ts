// The host's own list of peers (group commit asks the transport how busy each
// one is; reads skip the ReadIndex round only with no other voter) follows the
// configuration in force (thesis §4.1: a configuration takes effect when it is
// appended), not the peers a node was started with.
import { describe, expect, it } from 'vitest';
import { member, TestCluster } from '../../test/fixtures/raft-cluster';

/** Propose one write through the host (not the core) and return the peers its group commit asked about. */
function loadsAskedByAWrite(c: TestCluster, id: string): string[] {
  const n = c.get(id);
  n.loadAsked = [];
  n.host.propose([{ data: `w${c.now}`, reply: () => {} }]);
  c.advance(20);
  return [...new Set(n.loadAsked)].sort();
}

describe('the host follows the configuration in force (thesis §4.1)', () => {
  it('an added member joins the group-commit peer list, a removed one leaves it, on the leader and on a joined node, across a restart', () => {
    const c = new TestCluster(3);
    const leader = c.elect();
    c.advance(50);
    const [a, b] = ['n1', 'n2', 'n3'].filter((x) => x !== leader);
    expect(loadsAskedByAWrite(c, leader)).toEqual([a, b].sort());

    const n4 = c.addNode(4);
    // A joining node starts with no configuration, hence no peers.
    expect(n4.host.peerIds).toEqual([]);
    c.proposeChange(leader, { type: 'add', member: member(4), role: 'learner' });
    c.advance(100);
    // Learners get AppendEntries too, so a write's batching asks about them.
    expect(loadsAskedByAWrite(c, leader)).toEqual([a, b, 'n4'].sort());
    expect(n4.host.peerIds.sort()).toEqual(['n1', 'n2', 'n3']);

    c.proposeChange(leader, { type: 'promote', id: 'n4' });
    c.advance(100);
    c.proposeChange(leader, { type: 'remove', id: a! });
    c.advance(100);
    expect(loadsAskedByAWrite(c, leader)).toEqual([b, 'n4'].sort());
    expect(c.get(leader).host.peerIds.sort()).toEqual([b, 'n4'].sort());
    expect(n4.host.peerIds.sort()).toEqual([leader, b].sort());

    // The transport always knew whom it was handed messages for, the new member in the very step that added it.
    // (The joined node's early replies ride back on the leader's requests in a real node, not through its transport.)
    for (const id of [leader, b!]) expect(c.get(id).sentToUnknown, id).toEqual([]);

    // After a restart the stored configuration, not the start-up peers, says who the peers are.
    c.restart('n4');
    expect(c.get('n4').host.peerIds.sort()).toEqual([leader, b].sort());
    c.restart(b!);
    expect(c.get(b!).host.peerIds.sort()).toEqual([leader, 'n4'].sort());
  });
});
