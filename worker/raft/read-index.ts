// ReadIndex (thesis §6.4). A read arriving at the leader is safe to serve once
//   1. the leader has committed an entry of its own term (so its commit index
//      is at least every index committed before the read arrived), and
//   2. a majority acknowledged a heartbeat round started after the read
//      arrived (so no newer leader existed at that moment), and
//   3. the state machine has applied up to the read's index.
// Rounds are numbered; every AppendEntries carries the current round and each
// reply echoes it. At most one round is outstanding: reads arriving while one
// is in flight wait for the next, so many concurrent reads share one round.
import type { Index } from './types';

export interface PendingRead {
  ref: number;
  index: Index;
  /** The round whose quorum acknowledgement makes this read safe. */
  round: number;
}

export class ReadIndexQueue {
  /** The round last started (sent). */
  round = 0;
  /** The highest round known acknowledged by a majority. */
  confirmed = 0;
  private pending: PendingRead[] = [];

  get size(): number {
    return this.pending.length;
  }

  /** Queue a read; it needs a round that starts after now. */
  add(ref: number, index: Index): void {
    this.pending.push({ ref, index, round: this.round + 1 });
  }

  /** Should a new round start now? Only if reads wait for it and none is in flight. */
  wantsRound(): boolean {
    if (this.confirmed < this.round) return false;
    return this.pending.some((r) => r.round > this.round);
  }

  startRound(): number {
    return ++this.round;
  }

  /** A majority acknowledged `round`; returns the reads now confirmed by quorum. */
  confirm(round: number): PendingRead[] {
    if (round <= this.confirmed) return [];
    this.confirmed = Math.min(round, this.round);
    const done = this.pending.filter((r) => r.round <= this.confirmed);
    this.pending = this.pending.filter((r) => r.round > this.confirmed);
    return done;
  }

  /** Leadership ended: hand back every pending read. */
  drain(): PendingRead[] {
    const all = this.pending;
    this.pending = [];
    return all;
  }

  reset(): void {
    this.round = 0;
    this.confirmed = 0;
    this.pending = [];
  }
}
