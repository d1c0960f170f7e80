// A leader's outgoing snapshot (§7): the one consistent copy of the state
// machine it streams to followers behind its log, chunk by chunk. One copy
// serves every such follower while the log still holds the entries after it;
// it is freed once no follower needs it.
import type { PeerStatus, RaftNode } from '../raft/node';
import type { Ready, SnapshotSend } from '../raft/ready';
import type { Index, Term } from '../raft/types';
import type { Clock, SnapshotReader } from './ports';

/**
 * A follower being sent a snapshot that has answered nothing for this long is
 * taken for down: it no longer holds back compaction, and is sent the old copy
 * (cheap) rather than a new one, until it answers again.
 */
export const snapshotPeerSilentMs = 10_000;
const answering = (p: PeerStatus): boolean => p.lastContactMs !== null && p.lastContactMs < snapshotPeerSilentMs;

export interface SnapshotSenderParts {
  core: RaftNode;
  clock: Clock;
  chunkBytes: number;
  /** Opens a copy of the state machine at its applied index (after writing what it applied). */
  open: () => SnapshotReader;
  /** Runs a call into the core and carries out its Ready (NodeHost.run). */
  run: (call: (core: RaftNode, now: number) => Ready) => void;
  /** Stops the node if the work throws (NodeHost.guard). */
  guard: <T>(work: () => T) => T;
}

export class SnapshotSender {
  private outgoing: { reader: SnapshotReader; lastTerm: Term } | null = null;

  constructor(private readonly p: SnapshotSenderParts) {}

  /**
   * The highest index compaction may reach while a copy is being sent: a
   * follower resumes from the log right after it, so those entries stay.
   * A follower that stopped answering holds nothing back. Null: no limit.
   */
  compactionLimit(): Index | null {
    const snap = this.outgoing;
    if (snap === null || !this.peers().some(answering)) return null;
    return snap.reader.index;
  }

  /** The core asked for a chunk for a follower: read it from the current copy (or a new one) and hand it over. */
  send(send: SnapshotSend, compactedAt: Index): void {
    const p = this.p;
    let snap = this.outgoing;
    // A copy stays usable while the log still holds the entries after it; a
    // request for another (older) one restarts the follower on the current one.
    // A follower that is down is sent the old one rather than a new copy per compaction; once it
    // answers again, its next chunk request starts it on a current one.
    const usable = snap !== null && (snap.reader.index >= compactedAt || !this.peers().some((s) => s.id === send.to && answering(s)));
    const reuse = snap !== null && usable && (send.index === null || send.index === snap.reader.index);
    if (!reuse || snap === null) {
      if (!this.peers().some((s) => s.id === send.to)) return; // it caught up meanwhile: no copy for nothing
      this.drop();
      const reader = p.guard(() => p.open());
      snap = { reader, lastTerm: p.core.termAt(reader.index) };
      this.outgoing = snap;
    }
    const current = snap;
    const chunk = reuse && send.index !== null ? send.chunk : 0;
    const { data, done } = p.guard(() => current.reader.chunk(chunk, p.chunkBytes));
    p.run((core, now) => core.sendSnapshot(send.to, { index: current.reader.index, lastTerm: current.lastTerm, chunk, data, done }, now));
  }

  /** After a Ready that asked for no chunk: free the copy once no follower needs it (all installed it, or we lead no more). */
  release(): void {
    if (this.outgoing !== null && this.peers().length === 0) this.drop();
  }

  /** Free the copy now (a snapshot was installed here, or a new copy replaces it). */
  drop(): void {
    const snap = this.outgoing;
    this.outgoing = null;
    if (snap !== null) this.p.guard(() => snap.reader.close?.());
  }

  /** Peers the leader is sending a snapshot to (none unless it leads). */
  private peers(): PeerStatus[] {
    return this.p.core.status(this.p.clock()).peers.filter((s) => s.state === 'snapshot');
  }
}
