// Clients waiting inside the Durable Object: writes wait for their entry to be
// applied, reads wait for their ReadIndex to be confirmed and applied. The
// Durable Object feeds in what each Ready reports; this decides who is done
// and with what outcome. Each request settles exactly once.
import type { KvResult } from './kv/commands';
import type { ReadOutcome, WriteOutcome } from './node-api';
import type { Failed, Proposed, ReadReady } from './raft/ready';
import type { Entry, Index, Term } from './raft/types';

interface PendingWrite {
  resolve: (o: WriteOutcome) => void;
  /** Where the leader put the entry; null until the core reports it. */
  at: { index: Index; term: Term } | null;
}

interface PendingRead {
  key: string;
  resolve: (o: ReadOutcome) => void;
  /** The confirmed read index (thesis §6.4); null until the core reports it. */
  index: Index | null;
}

export class PendingRequests {
  private readonly writes = new Map<number, PendingWrite>();
  private readonly writeAtIndex = new Map<Index, number>();
  private readonly reads = new Map<number, PendingRead>();

  /** `settled(ref)` runs once per request when it resolves (to drop its deadline timer). */
  constructor(
    private readonly settled: (ref: number) => void,
    private readonly invariantBroken: (msg: string, fields: Record<string, unknown>) => void,
  ) {}

  addWrite(ref: number, resolve: (o: WriteOutcome) => void): void {
    this.writes.set(ref, { resolve, at: null });
  }

  addRead(ref: number, key: string, resolve: (o: ReadOutcome) => void): void {
    this.reads.set(ref, { key, resolve, index: null });
  }

  get size(): number {
    return this.writes.size + this.reads.size;
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
  applied(entry: Entry, result: KvResult | null): void {
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

  /** A read's index is confirmed; serve it now if the state machine has caught up. */
  readReady(r: ReadReady, appliedIndex: Index, get: (key: string) => string | null): void {
    const read = this.reads.get(r.ref);
    if (read === undefined) return;
    read.index = r.index;
    if (r.index <= appliedIndex) this.finishRead(r.ref, { type: 'ok', value: get(read.key) });
  }

  /** After applying: serve every confirmed read whose index is now applied. */
  serveReads(appliedIndex: Index, get: (key: string) => string | null): void {
    for (const [ref, read] of this.reads) {
      if (read.index !== null && read.index <= appliedIndex) this.finishRead(ref, { type: 'ok', value: get(read.key) });
    }
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

  private finishWrite(ref: number, outcome: WriteOutcome): void {
    const w = this.writes.get(ref);
    if (w === undefined) return;
    this.writes.delete(ref);
    if (w.at !== null && this.writeAtIndex.get(w.at.index) === ref) this.writeAtIndex.delete(w.at.index);
    this.settled(ref);
    w.resolve(outcome);
  }

  private finishRead(ref: number, outcome: ReadOutcome): void {
    const r = this.reads.get(ref);
    if (r === undefined) return;
    this.reads.delete(ref);
    this.settled(ref);
    r.resolve(outcome);
  }
}
