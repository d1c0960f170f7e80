// What must hold after every step of the core, checked at the end of each
// step (TigerBeetle's habit: state the invariant, then assert it). A failed
// check is a bug in the core: it throws, and the host stops the node rather
// than act on a state that cannot be trusted.
import type { Core } from './core';
import type { Ready } from './ready';

export class InvariantError extends Error {
  override name = 'InvariantError';
}

export function assert(cond: boolean, what: () => string): asserts cond {
  if (!cond) throw new InvariantError(`invariant: ${what()}`);
}

/** The core's state and the Ready it is about to return agree with every rule below. */
export function checkInvariants(c: Core, out: Ready): void {
  const last = c.log.lastIndex;
  // Commit never passes the log (§5.3), and nothing is handed out past commit (§5.4.2).
  assert(c.commit <= last, () => `commit ${c.commit} past last index ${last} on ${c.id}`);
  assert(c.handedOut <= c.commit, () => `handed out ${c.handedOut} past commit ${c.commit} on ${c.id}`);
  assert(c.log.firstIndex <= last + 1, () => `first index ${c.log.firstIndex} past last index ${last} + 1`);
  // A node leads only itself, and only the leader tracks followers.
  assert((c.role === 'leader') === (c.leader?.id === c.id), () => `role ${c.role} but leader ${c.leader?.id ?? 'none'} on ${c.id}`);
  assert(c.role !== 'leader' || c.vote === c.id, () => `leader ${c.id} of term ${c.term} voted for ${c.vote}`);
  if (c.role === 'leader') {
    for (const pr of c.progress.values()) {
      const peer = pr.member.id;
      assert(pr.match <= last, () => `match ${pr.match} of ${peer} past last index ${last}`);
      assert(pr.next > pr.match && pr.next <= last + 1, () => `next ${pr.next} of ${peer} outside (${pr.match}, ${last + 1}]`);
    }
  }
  // The Ready: entries to persist run gap-free to the end of the log; committed
  // entries run gap-free up to what is handed out; reads only at handed-out indexes.
  const entries = out.entries;
  if (entries.length > 0) {
    const first = entries[0]!.index;
    entries.forEach((e, i) => assert(e.index === first + i, () => `entries to persist not contiguous at ${e.index}`));
    assert(entries[entries.length - 1]!.index === last, () => `entries to persist end before last index ${last}`);
  }
  const committed = out.committed;
  if (committed.length > 0) {
    const first = committed[0]!.index;
    committed.forEach((e, i) => assert(e.index === first + i, () => `committed entries not contiguous at ${e.index}`));
    assert(committed[committed.length - 1]!.index === c.handedOut, () => `committed entries do not end at handed-out ${c.handedOut}`);
  }
  for (const r of out.reads)
    assert(r.index <= c.handedOut, () => `read ${r.ref} released at ${r.index} before it is handed out (${c.handedOut})`);
  assert(Number.isFinite(out.deadline), () => `deadline ${out.deadline}`);
}
