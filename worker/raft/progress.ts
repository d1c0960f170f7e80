// What a leader knows about one follower (§5.3, plus flow control).
// - probe: we do not know where the logs match; one AppendEntries at a time,
//   walking nextIndex back with the follower's hints until one succeeds.
// - replicate: the logs match up to `match`; send ahead optimistically, up to
//   `maxInflight` unacknowledged messages (pipelining).
// - snapshot: the entries the follower needs are compacted; a snapshot goes
//   out chunk by chunk (§7), and no AppendEntries until it is installed.
import type { Index, Member, Term } from './types';

export interface Inflight {
  /** Last index carried by the message. */
  last: Index;
  sentAt: number;
}

export class Progress {
  match: Index = 0;
  next: Index;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** In snapshot state: the snapshot being sent (null until the host took it), the last chunk sent and when. */
  snapshot: { index: Index; lastTerm: Term; chunk: number; sentAt: number } | null = null;
  /** In snapshot state: when the host was last asked for a chunk. */
  snapshotAskedAt = 0;
  /** In probe state: a probe is outstanding; wait for its answer or the next heartbeat. */
  probeSent = false;
  inflight: Inflight[] = [];
  /**
   * The highest index any message to this follower covered in the current
   * term (an append's last entry or its prevLogIndex, a snapshot's index): an
   * acknowledgement beyond it cannot be honest, so none is believed beyond it.
   */
  highestSent: Index = 0;
  /** Highest ReadIndex round this follower acknowledged in the current term (thesis §6.4). */
  ackedRound = 0;
  /** When we last heard from this follower in the current term (any reply). */
  lastContact: number | null = null;

  constructor(
    readonly member: Member,
    lastIndex: Index,
  ) {
    this.next = lastIndex + 1;
  }

  becomeSnapshot(now: number): void {
    this.state = 'snapshot';
    this.snapshot = null;
    this.snapshotAskedAt = now;
    this.probeSent = false;
    this.inflight = [];
  }

  becomeProbe(next: Index): void {
    this.state = 'probe';
    this.snapshot = null;
    this.next = Math.max(next, this.match + 1);
    this.probeSent = false;
    this.inflight = [];
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = Math.max(this.next, this.match + 1);
    this.probeSent = false;
    this.inflight = [];
  }

  /** A message covering the log up to `index` went to this follower. */
  covered(index: Index): void {
    if (index > this.highestSent) this.highestSent = index;
  }

  /** Record a successful append up to `index`; false if it told us nothing new. */
  acknowledge(index: Index): boolean {
    index = Math.min(index, this.highestSent); // see highestSent
    this.inflight = this.inflight.filter((f) => f.last > index);
    if (index <= this.match) return false;
    this.match = index;
    if (this.next <= index) this.next = index + 1;
    return true;
  }

  canSend(maxInflight: number): boolean {
    if (this.state === 'snapshot') return false;
    return this.state === 'probe' ? !this.probeSent : this.inflight.length < maxInflight;
  }

  /** Record that entries up to `last` went out. */
  sent(last: Index, now: number): void {
    if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      this.inflight.push({ last, sentAt: now });
      this.next = last + 1;
    }
  }

  /** The oldest unacknowledged message has waited longer than `timeoutMs`: assume it was lost. */
  stalled(now: number, timeoutMs: number): boolean {
    const first = this.inflight[0];
    return first !== undefined && now - first.sentAt > timeoutMs;
  }
}
