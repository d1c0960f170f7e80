// Membership changes and leadership transfers waiting for their outcome, as
// PendingRequests is for client requests: a change succeeds when the config
// entry it was given is applied with the same term; a transfer when the core
// reports it (Ready.adminResults). Each settles exactly once.
import type { AdminResult, Failed, Proposed } from '../raft/ready';
import type { Entry, Index, Term } from '../raft/types';
import type { AdminOutcome } from './pending-requests';

export class AdminRequests {
  private readonly waiting = new Map<number, { reply: (o: AdminOutcome) => void; at: { index: Index; term: Term } | null }>();

  /** `settled(ref)` runs once per request when it resolves (to drop its deadline timer). */
  constructor(private readonly settled: (ref: number) => void) {}

  add(ref: number, reply: (o: AdminOutcome) => void): void {
    this.waiting.set(ref, { reply, at: null });
  }

  has(ref: number): boolean {
    return this.waiting.has(ref);
  }

  /** The change `p.ref` is in the log; false if it is not one of ours (a client write). */
  proposed(p: Proposed): boolean {
    const w = this.waiting.get(p.ref);
    if (w === undefined) return false;
    w.at = { index: p.index, term: p.term };
    return true;
  }

  /** A config entry was applied: ours only if the term matches too; otherwise another leader's entry won the index (§5.3). */
  applied(entry: Entry): void {
    for (const [ref, w] of this.waiting) {
      if (w.at?.index !== entry.index) continue;
      this.finish(ref, w.at.term === entry.term ? { type: 'ok', configIndex: entry.index } : { type: 'timeout' });
    }
  }

  failed(f: Failed): void {
    this.finish(f.ref, { type: 'notLeader', leader: f.leader });
  }

  result(r: AdminResult): void {
    this.finish(r.ref, r.ok ? { type: 'ok', configIndex: null } : { type: 'rejected', reason: r.reason });
  }

  /** This node stopped leading: changes already in the log may or may not commit. */
  leadershipLost(): void {
    for (const [ref, w] of this.waiting) if (w.at !== null) this.finish(ref, { type: 'timeout' });
  }

  expire(ref: number): void {
    this.finish(ref, { type: 'timeout' });
  }

  private finish(ref: number, outcome: AdminOutcome): void {
    const w = this.waiting.get(ref);
    if (w === undefined) return;
    this.waiting.delete(ref);
    this.settled(ref);
    w.reply(outcome);
  }
}
