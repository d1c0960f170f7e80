// Clients waiting inside a node: writes wait for their entry to be applied,
// reads wait for their ReadIndex to be confirmed and then applied. The host
// feeds in what each Ready reports; this decides who is done and with what
// outcome. Each request settles exactly once.
import type { Failed, Proposed, ReadReady } from '../raft/ready';
import type { Entry, Index, Member, Term } from '../raft/types';

/** Not the leader: `leader` is who this node believes leads, or null if nobody is known. */
export interface NotLeader {
  type: 'notLeader';
  leader: Member | null;
}
/** Could not be confirmed in time; the outcome of a write is unknown (safe to retry with the same session). */
export interface TimedOut {
  type: 'timeout';
}

export type WriteOutcome<Result> = { type: 'ok'; result: Result } | NotLeader | TimedOut;
/** A membership change or leadership transfer: done, refused with a reason, or the usual notLeader / timeout. */
export type AdminOutcome = { type: 'ok'; configIndex: Index | null } | { type: 'rejected'; reason: string } | NotLeader | TimedOut;
export type ReadOutcome<Answer> = { type: 'ok'; value: Answer } | NotLeader | TimedOut;

interface PendingWrite<Result> {
  reply: (o: WriteOutcome<Result>) => void;
  /** Where the leader put the entry; null until the core reports it. */
  at: { index: Index; term: Term } | null;
}

interface PendingRead<Query, Answer> {
  query: Query;
  reply: (o: ReadOutcome<Answer>) => void;
  /** The confirmed read index (thesis §6.4); null until the core reports it. */
  index: Index | null;
}

export class PendingRequests<Result, Query, Answer> {
  private readonly writes = new Map<number, PendingWrite<Result>>();
  private readonly writeAtIndex = new Map<Index, number>();
  private readonly reads = new Map<number, PendingRead<Query, Answer>>();
  /** Reads with a confirmed index not yet applied; serveReads looks only at these. */
  private confirmed = 0;

  /** `settled(ref)` runs once per request when it resolves (to drop its deadline). */
  constructor(
    private readonly settled: (ref: number) => void,
    private readonly invariantBroken: (msg: string, fields: Record<string, unknown>) => void,
  ) {}

  addWrite(ref: number, reply: (o: WriteOutcome<Result>) => void): void {
    this.writes.set(ref, { reply, at: null });
  }

  addRead(ref: number, query: Query, reply: (o: ReadOutcome<Answer>) => void): void {
    this.reads.set(ref, { query, reply, index: null });
  }

  get size(): number {
    return this.writes.size + this.reads.size;
  }

  /** Whether request `ref` is still waiting for its outcome. */
  waiting(ref: number): boolean {
    return this.writes.has(ref) || this.reads.has(ref);
  }

  /** Remember where a proposal landed. Called before the same Ready's entries are applied. */
  proposed(p: Proposed, appliedIndex: Index): void {
    const w = this.writes.get(p.ref);
    if (w === undefined) return; // already timed out
    if (p.index <= appliedIndex) {
      this.invariantBroken('proposal reported after its index was applied', { ...p, appliedIndex });
      this.finishWrite(p.ref, { type: 'timeout' });
      return;
    }
    w.at = { index: p.index, term: p.term };
    this.writeAtIndex.set(p.index, p.ref);
  }

  /** An entry was applied. The write at that index succeeded iff the term matches too. */
  applied(entry: Entry, result: Result | null): void {
    const ref = this.writeAtIndex.get(entry.index);
    if (ref === undefined) return;
    const w = this.writes.get(ref);
    if (w?.at == null) return;
    if (w.at.term !== entry.term) {
      // Another leader's entry won this index: ours was never committed (§5.3).
      this.finishWrite(ref, { type: 'timeout' });
    } else if (result === null) {
      this.invariantBroken('our proposal applied without a result', { index: entry.index, kind: entry.kind });
      this.finishWrite(ref, { type: 'timeout' });
    } else {
      this.finishWrite(ref, { type: 'ok', result });
    }
  }

  /**
   * Reads confirmed in a Ready (their ReadIndex, thesis §6.4), then, when
   * `appliedMore`, the ones confirmed earlier: each whose index is applied is
   * answered. The answers come from one call of `answer` for all of them, so a
   * machine can look up many keys at once.
   */
  serveReads(
    confirmed: readonly ReadReady[],
    appliedIndex: Index,
    appliedMore: boolean,
    answer: (queries: readonly Query[]) => readonly Answer[],
  ): void {
    const due: number[] = [];
    for (const r of confirmed) {
      const read = this.reads.get(r.ref);
      if (read === undefined || read.index !== null) continue;
      if (r.index <= appliedIndex) {
        due.push(r.ref);
      } else {
        read.index = r.index;
        this.confirmed++;
      }
    }
    if (appliedMore && this.confirmed > 0) {
      for (const [ref, read] of this.reads) if (read.index !== null && read.index <= appliedIndex) due.push(ref);
    }
    if (due.length === 0) return;
    const values = answer(due.map((ref) => this.reads.get(ref)!.query));
    due.forEach((ref, i) => this.finishRead(ref, { type: 'ok', value: values[i] as Answer }));
  }

  failed(f: Failed): void {
    const outcome = { type: 'notLeader', leader: f.leader } as const;
    if (f.kind === 'propose') this.finishWrite(f.ref, outcome);
    else this.finishRead(f.ref, outcome);
  }

  /**
   * This node stopped leading. Its unapplied proposals may still be committed
   * by the next leader or may be lost; the outcome is unknown, so answer
   * timeout (a retry with the same session is safe, thesis §6.3). Reads with a
   * confirmed index stay: that index was valid when confirmed.
   */
  leadershipLost(): void {
    for (const ref of [...this.writes.keys()]) this.finishWrite(ref, { type: 'timeout' });
  }

  /** The request's deadline passed. */
  expire(ref: number): void {
    this.finishWrite(ref, { type: 'timeout' });
    this.finishRead(ref, { type: 'timeout' });
  }

  private finishWrite(ref: number, outcome: WriteOutcome<Result>): void {
    const w = this.writes.get(ref);
    if (w === undefined) return;
    this.writes.delete(ref);
    if (w.at !== null && this.writeAtIndex.get(w.at.index) === ref) this.writeAtIndex.delete(w.at.index);
    this.settled(ref);
    w.reply(outcome);
  }

  private finishRead(ref: number, outcome: ReadOutcome<Answer>): void {
    const r = this.reads.get(ref);
    if (r === undefined) return;
    this.reads.delete(ref);
    if (r.index !== null) this.confirmed--;
    this.settled(ref);
    r.reply(outcome);
  }
}
