// A leader's own log write, held back so its AppendEntries leave first.
//
// The thesis (§10.2.1) lets a leader write new entries to its disk in parallel
// with sending them to followers, as long as it counts itself toward a
// majority only once they are stored. In a Durable Object every network
// message waits (output gate) for the storage writes made before it, and the
// write blocks the thread, so the node holds the write back one macrotask:
// the AppendEntries reach the socket first, and the leader's fsync overlaps
// the followers' network hop and theirs.
//
// The core counts the entries as stored at once. That stays true to the
// outside because the held write is made before the next core call (nothing
// commits them until a follower's reply, which is a later event), and the
// output gate then holds any acknowledgement until the write is durable.
import type { Ready } from '../raft/ready';
import type { Entry, HardState, Role } from '../raft/types';

/**
 * Whether this Ready's storage write may wait until after its messages are
 * sent: only a leader's new entries, and only when the Ready changes neither
 * term nor vote (a vote must be stored before any message relies on it) and
 * commits none of the new entries (a node without peers commits its entries
 * in the Ready that makes them, and would answer before storing them).
 */
export function mayWriteAfterSending(ready: Ready, roleBefore: Role, changesTermOrVote: boolean): boolean {
  const first = ready.entries[0];
  if (first === undefined || changesTermOrVote) return false;
  if ((ready.softState?.role ?? roleBefore) !== 'leader') return false;
  const lastCommitted = ready.committed[ready.committed.length - 1];
  return lastCommitted === undefined || lastCommitted.index < first.index;
}

export interface HeldWrite {
  hardState: HardState | null;
  entries: Entry[];
}
