// The fake network between nodes (and between clients and nodes). Per
// message it draws a delay, may drop it, may deliver it twice, and now and
// then holds it back for a long time so that it overtakes nothing but is
// overtaken by everything (reordering). Partitions are per directed link, so
// a one-way partition is just a link blocked in one direction.
import type { Message } from '../../worker/raft/messages';
import type { Clock } from './clock';
import type { Prng, Ratio } from './prng';
import type { Digest } from './trace';

export interface NetworkOptions {
  delayMinMs: number;
  delayMaxMs: number;
  drop: Ratio;
  duplicate: Ratio;
  /** Chance that a message takes the slow path: a delay up to `slowMaxMs`. */
  slow: Ratio;
  slowMaxMs: number;
  /** Client <-> node links: their own delay and loss, never partitioned. */
  clientDelayMaxMs: number;
  clientDrop: Ratio;
  /** Deliver a JSON copy instead of the sender's object, as the real wire does. */
  wireCopy: boolean;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  blocked: number;
  duplicated: number;
}

export class Network {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, blocked: 0, duplicated: 0 };
  private readonly index = new Map<string, number>();
  private readonly blockedLinks: Uint8Array;
  /** False in the liveness phase: no drops, duplicates or slow messages. */
  private faulty = true;

  constructor(
    private readonly clock: Clock,
    private readonly prng: Prng,
    private readonly opts: NetworkOptions,
    private readonly nodeIds: readonly string[],
    private readonly deliver: (msg: Message) => void,
    private readonly digest: Digest,
  ) {
    nodeIds.forEach((id, i) => this.index.set(id, i));
    this.blockedLinks = new Uint8Array(nodeIds.length * nodeIds.length);
  }

  send(msg: Message): void {
    this.stats.sent++;
    if (this.isBlocked(msg.from, msg.to)) {
      this.stats.blocked++;
      return;
    }
    if (this.faulty && this.prng.chance(this.opts.drop)) {
      this.stats.dropped++;
      return;
    }
    const wire = this.opts.wireCopy ? (JSON.parse(JSON.stringify(msg)) as Message) : msg;
    this.schedule(wire);
    if (this.faulty && this.prng.chance(this.opts.duplicate)) {
      this.stats.duplicated++;
      this.schedule(wire);
    }
  }

  /** Carries a client request or reply: delayed, maybe lost, never partitioned. */
  carry(action: () => void): void {
    if (this.faulty && this.prng.chance(this.opts.clientDrop)) return;
    this.clock.after(this.prng.between(0, this.opts.clientDelayMaxMs), action);
  }

  setFaulty(faulty: boolean): void {
    this.faulty = faulty;
  }

  isBlocked(from: string, to: string): boolean {
    const f = this.index.get(from);
    const t = this.index.get(to);
    if (f === undefined || t === undefined) throw new Error(`message between unknown nodes ${from} -> ${to}`);
    return this.blockedLinks[f * this.nodeIds.length + t] === 1;
  }

  /** Blocks messages from `from` to `to` (one direction only). */
  block(from: string, to: string): void {
    this.setLink(from, to, 1);
  }

  unblock(from: string, to: string): void {
    this.setLink(from, to, 0);
  }

  /** Blocks both directions between every node of `a` and every node of `b`. */
  split(a: readonly string[], b: readonly string[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  healAll(): void {
    this.blockedLinks.fill(0);
  }

  /** A readable description of the blocked links, for logs. */
  describe(): string {
    const out: string[] = [];
    for (const from of this.nodeIds) {
      for (const to of this.nodeIds) if (from !== to && this.isBlocked(from, to)) out.push(`${from}->${to}`);
    }
    return out.length ? out.join(' ') : 'none';
  }

  private setLink(from: string, to: string, v: 0 | 1): void {
    const f = this.index.get(from);
    const t = this.index.get(to);
    if (f === undefined || t === undefined) throw new Error(`unknown link ${from} -> ${to}`);
    this.blockedLinks[f * this.nodeIds.length + t] = v;
  }

  private schedule(msg: Message): void {
    const o = this.opts;
    let delay = this.prng.between(o.delayMinMs, o.delayMaxMs);
    if (this.faulty && this.prng.chance(o.slow)) delay += this.prng.between(0, o.slowMaxMs);
    this.clock.after(delay, () => {
      // A partition that starts while a message is in flight loses it too.
      if (this.isBlocked(msg.from, msg.to)) {
        this.stats.blocked++;
        return;
      }
      this.stats.delivered++;
      this.digest.int(this.clock.now);
      this.digest.str(msg.type);
      this.digest.int(msg.term);
      this.deliver(msg);
    });
  }
}
