// The Raft safety properties (§5.4, Figure 3), checked as the run goes:
//   - election safety: at most one leader per term, ever;
//   - log matching: two logs holding an entry with the same index and term
//     are identical up to that index;
//   - leader completeness: a leader's log holds every entry committed in an
//     earlier term;
//   - state machine safety: no two nodes apply different entries at one index;
//   - committed entries are never lost: always on a majority of disks, crashes
//     included, and never truncated by a node in a term above their commit
//     term (a stale leader may overwrite one on a lagging minority node).
// "Committed" means applied by some node: the checker keeps the one true
// commit history (the first application of each index) and compares every
// node against it, like VOPR's state checker.
import type { Entry, Index, NodeId, Term } from '../../../worker/raft/types';
import { decodeMembership } from '../../../worker/raft/membership';
import { violation } from './violation';

/** A node's durable log: `entries[i - 1]` holds index i. */
export interface DiskView {
  readonly entries: readonly Entry[];
}

export class SafetyChecker {
  private readonly leaders = new Map<Term, NodeId>();
  private readonly committed: Entry[] = [];
  /**
   * For each committed entry, an upper bound on the term it was committed
   * in: the term of the node that first applied it (a leader applies what it
   * commits in the same step, so that is usually exact), capped by the
   * highest leader term seen so far. Every leader of a higher term must hold
   * the entry; a leader of a lower term may still be elected later, by votes
   * granted before the commit. Never decreases along the log.
   */
  private readonly committedBy: Term[] = [];
  private maxLeaderTerm: Term = 0;
  private readonly disks = new Map<NodeId, DiskView>();
  private readonly views = new Map<NodeId, DiskView>();
  /** Applies made while the node had writes not yet durable, oldest first (see onApply). */
  private readonly tentative = new Map<NodeId, { entry: Entry; commitTerm: Term }[]>();
  /** Counters for the report: how much each check actually looked at. */
  readonly counts = { elections: 0, applies: 0, persistedEntries: 0, durabilityChecks: 0, staleOverwrites: 0 };

  /** `initialVoters`: the first configuration's voters (default: every registered node). */
  /**
   * `membershipChanges`: configurations may change during the run. Then an
   * entry may commit under a configuration still uncommitted (§4.1: in force
   * once appended) with a majority of its voters, which is sure to overlap
   * every majority of the configuration before it, but need not be a majority
   * of it; so the durability check asks for that overlap in every case.
   */
  constructor(
    private readonly clock: { now: number },
    private readonly initialVoters: readonly NodeId[] | null = null,
    private readonly membershipChanges = false,
  ) {}

  /**
   * The voters whose disks must hold the committed entries: those of the last
   * committed configuration (thesis §4.1), and how many of them suffice: a
   * majority while the configuration never changes; with changes, enough that
   * every majority of those voters includes a holder, which is what a later
   * election needs (see the constructor).
   */
  private durabilityQuorum(): { voters: NodeId[]; needed: number } {
    for (let i = this.committed.length - 1; i >= 0; i--) {
      const e = this.committed[i] as Entry;
      if (e.kind !== 'config') continue;
      const voters = decodeMembership(e.data).voters.map((v) => v.id);
      const n = voters.length;
      return { voters, needed: n - (Math.floor(n / 2) + 1) + 1 };
    }
    const voters = this.initialVoters ? [...this.initialVoters] : [...this.disks.keys()];
    const n = voters.length;
    return { voters, needed: this.membershipChanges ? n - (Math.floor(n / 2) + 1) + 1 : Math.floor(n / 2) + 1 };
  }

  get commitIndex(): Index {
    return this.committed.length;
  }

  /**
   * `durable` is what survives a crash of `node`; `visible` is what the node
   * itself reads (durable plus writes not yet synced). Decisions (elections,
   * applies, truncations) are checked against what the node sees; durability
   * and log matching against what is durable.
   */
  register(node: NodeId, durable: DiskView, visible: DiskView = durable): void {
    this.disks.set(node, durable);
    this.views.set(node, visible);
  }

  /** `node` became leader of `term`; its disk already holds what the step persisted. */
  onLeader(node: NodeId, term: Term): void {
    this.counts.elections++;
    const prior = this.leaders.get(term);
    if (prior !== undefined && prior !== node) {
      throw violation('electionSafety', this.clock.now, `two leaders in term ${term}: ${prior} and ${node}`);
    }
    this.leaders.set(term, node);
    this.maxLeaderTerm = Math.max(this.maxLeaderTerm, term);
    const log = this.view(node).entries;
    // committedBy never decreases along the log, so the entries to check are a prefix.
    for (let i = 0; i < this.committed.length && (this.committedBy[i] as Term) < term; i++) {
      const c = this.committed[i] as Entry;
      const mine = log[i];
      if (!mine || mine.term !== c.term) {
        throw violation(
          'leaderCompleteness',
          this.clock.now,
          `${node} became leader of term ${term} without committed entry ${describe(c)}; it has ${mine ? describe(mine) : 'nothing'} there (log length ${log.length})`,
        );
      }
    }
  }

  /**
   * `node`, in `term`, applied `entry`. The host has already checked it
   * applies in index order. `durable`: nothing the node wrote is still
   * waiting to sync, so the apply may show outside at once. Otherwise it is
   * tentative: the node's outputs wait for the sync (output gate), and a crash
   * first makes it as if it never happened; it joins the commit history only
   * at the sync (`synced`), and a crash drops it (`crashed`).
   */
  onApply(node: NodeId, entry: Entry, term: Term, durable = true): void {
    this.counts.applies++;
    const own = this.view(node).entries[entry.index - 1];
    if (!own || !sameEntry(own, entry)) {
      throw violation(
        'stateMachineSafety',
        this.clock.now,
        `${node} applied ${describe(entry)} but its log holds ${own ? describe(own) : 'nothing'} at that index`,
      );
    }
    const commitTerm = Math.min(this.maxLeaderTerm, term);
    if (durable) return this.record(node, entry, commitTerm);
    const list = this.tentative.get(node);
    if (list) list.push({ entry, commitTerm });
    else this.tentative.set(node, [{ entry, commitTerm }]);
  }

  /** The committed history up to `index` (what a snapshot at `index` stands for). */
  committedPrefix(index: Index): Entry[] {
    if (index > this.committed.length) {
      throw violation(
        'host',
        this.clock.now,
        `a snapshot at ${index} was installed, but only ${this.committed.length} entries are known committed`,
      );
    }
    return this.committed.slice(0, index);
  }

  /** Everything `node` wrote is durable: its tentative applies are now facts. */
  synced(node: NodeId): void {
    const list = this.tentative.get(node);
    if (!list) return;
    this.tentative.delete(node);
    for (const t of list) this.record(node, t.entry, t.commitTerm);
  }

  /** `node` crashed: what it applied on writes not yet durable was never seen by anyone. */
  crashed(node: NodeId): void {
    this.tentative.delete(node);
  }

  private record(node: NodeId, entry: Entry, commitTerm: Term): void {
    const known = this.committed[entry.index - 1];
    if (known) {
      if (!sameEntry(known, entry)) {
        throw violation(
          'stateMachineSafety',
          this.clock.now,
          `${node} applied ${describe(entry)} where ${describe(known)} was applied before`,
        );
      }
      return;
    }
    if (entry.index !== this.committed.length + 1) {
      throw violation('host', this.clock.now, `${node} applied index ${entry.index} before anyone applied ${this.committed.length + 1}`);
    }
    this.committed.push(entry);
    const previous = this.committedBy[this.committedBy.length - 1] ?? 0;
    this.committedBy.push(Math.max(previous, commitTerm));
  }

  /**
   * Called before `node` stores `entries` (deleting everything from
   * entries[0].index on), `term` being the node's term once this step is
   * persisted. A node may lose a committed entry only to a stale leader, one
   * whose term is below the entry's commit term: such a leader never held
   * the entry, and the committing majority, already in a higher term, never
   * listens to it (the entry stays on a majority, which checkDurable checks).
   * A leader of a higher term must hold the entry, so it never truncates it.
   */
  beforePersist(node: NodeId, entries: readonly Entry[], term: Term): void {
    const first = entries[0];
    if (!first) return;
    const log = this.view(node).entries;
    const end = Math.min(log.length, this.committed.length);
    for (let i = first.index; i <= end; i++) {
      const old = log[i - 1] as Entry;
      const c = this.committed[i - 1] as Entry;
      if (old.term !== c.term) continue; // this disk never held the committed entry here
      const replacement = entries[i - first.index];
      if (replacement && sameEntry(replacement, old)) continue;
      if (term <= (this.committedBy[i - 1] as Term)) {
        this.counts.staleOverwrites++; // legal: a stale leader, see above
        continue;
      }
      throw violation(
        'committedLost',
        this.clock.now,
        `${node} in term ${term} truncated entry ${describe(c)}, committed by term ${this.committedBy[i - 1]} at the latest (storing ${entries.length} entries from index ${first.index})`,
      );
    }
  }

  /** Called after `node` stored entries from `fromIndex` on: log matching against every other disk. */
  afterPersist(node: NodeId, fromIndex: Index): void {
    const mine = this.disk(node).entries;
    for (let i = fromIndex; i <= mine.length; i++) {
      this.counts.persistedEntries++;
      const e = mine[i - 1] as Entry;
      const prevTerm = i > 1 ? (mine[i - 2] as Entry).term : 0;
      for (const [other, disk] of this.disks) {
        if (other === node) continue;
        const theirs = disk.entries[i - 1];
        if (!theirs || theirs.term !== e.term) continue;
        const theirPrevTerm = i > 1 ? (disk.entries[i - 2]?.term ?? -1) : 0;
        if (!sameEntry(theirs, e) || theirPrevTerm !== prevTerm) {
          throw violation(
            'logMatching',
            this.clock.now,
            `${node} and ${other} both hold index ${i} term ${e.term} but differ: ${describe(e)} (prev term ${prevTerm}) vs ${describe(theirs)} (prev term ${theirPrevTerm})`,
          );
        }
      }
    }
  }

  /** Every committed entry must sit on enough voters' disks (crashed nodes' disks count; see durabilityQuorum). */
  checkDurable(why: string): void {
    this.counts.durabilityChecks++;
    const { voters, needed } = this.durabilityQuorum();
    const disks = voters.map((id) => this.disks.get(id)).filter((d): d is DiskView => d !== undefined);
    for (let i = 0; i < this.committed.length; i++) {
      const c = this.committed[i] as Entry;
      let holders = 0;
      for (const disk of disks) {
        const e = disk.entries[i];
        if (e && e.term === c.term) holders++;
      }
      if (holders < needed) {
        throw violation(
          'committedLost',
          this.clock.now,
          `after ${why}: committed entry ${describe(c)} is on ${holders} of the voters' disks (${voters.join(',')}), fewer than the ${needed} needed; ` +
            `disks: ${voters.map((id) => `${id} holds ${this.disks.get(id)?.entries.length ?? '?'}`).join(', ')}; committed ${this.committed.length}`,
        );
      }
    }
  }

  private view(node: NodeId): DiskView {
    const d = this.views.get(node);
    if (!d) throw new Error(`safety checker: unknown node ${node}`);
    return d;
  }

  private disk(node: NodeId): DiskView {
    const d = this.disks.get(node);
    if (!d) throw new Error(`safety checker: unknown node ${node}`);
    return d;
  }
}

export function sameEntry(a: Entry, b: Entry): boolean {
  return a.index === b.index && a.term === b.term && a.kind === b.kind && a.data === b.data;
}

function describe(e: Entry): string {
  const data = e.data.length > 60 ? e.data.slice(0, 57) + '...' : e.data;
  return `#${e.index}@t${e.term} ${e.kind}${data ? ` ${data}` : ''}`;
}
