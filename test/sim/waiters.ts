// Client requests a node has taken in and not yet answered, as the Durable
// Object would hold them: proposals waiting to learn their log position,
// writes waiting for their entry to be applied, reads waiting for ReadIndex
// and then for the state machine to catch up. A crash drops them all.
import type { KvResult } from '../../worker/kv/commands';
import type { Entry, Index, Member, Term } from '../../worker/raft/types';

export type WriteReply = { type: 'ok'; result: KvResult } | { type: 'notLeader'; leader: Member | null } | { type: 'lost' };
export type ReadReply =
  | { type: 'ok'; value: string | null }
  | { type: 'notLeader'; leader: Member | null }
  | { type: 'leadershipLost'; leader: Member | null };

type ReplyTo<T> = (r: T) => void;

export class Waiters {
  private nextRef = 1;
  private readonly proposing = new Map<number, ReplyTo<WriteReply>>();
  private readonly writesAt = new Map<Index, { term: Term; reply: ReplyTo<WriteReply> }[]>();
  private readonly reading = new Map<number, { key: string; reply: ReplyTo<ReadReply> }>();
  private readonly readsAt: { index: Index; key: string; reply: ReplyTo<ReadReply> }[] = [];

  constructor(private readonly get: (key: string) => string | null) {}

  write(reply: ReplyTo<WriteReply>): number {
    const ref = this.nextRef++;
    this.proposing.set(ref, reply);
    return ref;
  }

  read(key: string, reply: ReplyTo<ReadReply>): number {
    const ref = this.nextRef++;
    this.reading.set(ref, { key, reply });
    return ref;
  }

  /** The proposal `ref` sits at (index, term): it succeeds iff that exact entry is applied. */
  proposed(ref: number, index: Index, term: Term): void {
    const reply = this.proposing.get(ref);
    if (!reply) return;
    this.proposing.delete(ref);
    const list = this.writesAt.get(index);
    if (list) list.push({ term, reply });
    else this.writesAt.set(index, [{ term, reply }]);
  }

  failed(ref: number, kind: 'propose' | 'read', reason: string, leader: Member | null): void {
    if (kind === 'propose') {
      const reply = this.proposing.get(ref);
      this.proposing.delete(ref);
      reply?.({ type: 'notLeader', leader });
      return;
    }
    const r = this.reading.get(ref);
    this.reading.delete(ref);
    r?.reply(reason === 'notLeader' ? { type: 'notLeader', leader } : { type: 'leadershipLost', leader });
  }

  /**
   * `entry` was applied with `result`. Writes waiting at its index learn
   * their fate; returns false if one of them was answered by a non-command.
   */
  applied(entry: Entry, result: KvResult | null): boolean {
    let consistent = true;
    const waiting = this.writesAt.get(entry.index);
    if (waiting) {
      this.writesAt.delete(entry.index);
      for (const w of waiting) {
        if (w.term !== entry.term) w.reply({ type: 'lost' }); // another leader's entry won this index
        else if (result) w.reply({ type: 'ok', result });
        else consistent = false;
      }
    }
    this.serveUpTo(entry.index);
    return consistent;
  }

  /** ReadIndex confirmed `ref` at `index`: serve it once `index` is applied. */
  readReady(ref: number, index: Index, appliedIndex: Index): void {
    const r = this.reading.get(ref);
    if (!r) return;
    this.reading.delete(ref);
    if (index <= appliedIndex) r.reply({ type: 'ok', value: this.get(r.key) });
    else this.readsAt.push({ index, key: r.key, reply: r.reply });
  }

  private serveUpTo(applied: Index): void {
    if (this.readsAt.length === 0) return;
    const still = this.readsAt.filter((r) => r.index > applied);
    for (const r of this.readsAt) if (r.index <= applied) r.reply({ type: 'ok', value: this.get(r.key) });
    this.readsAt.length = 0;
    this.readsAt.push(...still);
  }
}
