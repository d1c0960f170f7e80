// Faults between the members of one edge cluster, for tests only: the
// pool-workers suite (test/edge/) runs whole clusters inside one workerd and
// injects drops, delays and partitions here, in the stub transport, the one
// place every message between members passes. Nothing in the product sets
// them; with none set, a send costs one map lookup.
//
// The registry is module state of the isolate, not of a Durable Object, so
// faults stay in force across a member's reset (ctx.abort), as a broken
// network would.
import type { NodeId } from '../raft/types';

export interface LinkFaultPlan {
  /** Chance in [0, 1) that a batch is lost before it reaches the peer. */
  dropRequest?: number;
  /** Chance that the peer handles a batch but its replies are lost on the way back. */
  dropReply?: number;
  /** Extra delay of each batch, uniform in [min, max] milliseconds. */
  delayMs?: readonly [number, number];
  /** The random source (seeded in tests, so a failure replays). */
  random: () => number;
}

export type LinkVerdict = { kind: 'pass' | 'dropRequest' | 'dropReply'; delayMs: number };

export class LinkFaults {
  private readonly cut = new Set<string>();

  constructor(private plan: LinkFaultPlan) {}

  /** Replace the drop and delay settings (partitions stay). */
  setPlan(plan: LinkFaultPlan): void {
    this.plan = plan;
  }

  /** No message passes between `a` and any of `others`, either way, until heal(). */
  partition(a: NodeId, others: readonly NodeId[]): void {
    for (const b of others) {
      this.cut.add(`${a}>${b}`);
      this.cut.add(`${b}>${a}`);
    }
  }

  /** Only messages from `from` to `to` are lost (a one-way partition). */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  verdict(from: NodeId, to: NodeId): LinkVerdict {
    const { random, dropRequest = 0, dropReply = 0, delayMs } = this.plan;
    const delay = delayMs === undefined ? 0 : delayMs[0] + random() * (delayMs[1] - delayMs[0]);
    if (this.cut.has(`${from}>${to}`) || random() < dropRequest) return { kind: 'dropRequest', delayMs: delay };
    // The reply travels the other way: a one-way cut back loses it.
    if (this.cut.has(`${to}>${from}`) || random() < dropReply) return { kind: 'dropReply', delayMs: delay };
    return { kind: 'pass', delayMs: delay };
  }
}

const byCluster = new Map<string, LinkFaults>();

/** Faults for every link of `cluster`; null removes them. */
export function setLinkFaults(cluster: string, faults: LinkFaults | null): void {
  if (faults === null) byCluster.delete(cluster);
  else byCluster.set(cluster, faults);
}

export function linkFaultsOf(cluster: string): LinkFaults | undefined {
  return byCluster.size === 0 ? undefined : byCluster.get(cluster);
}
