// The last minute of requests, one slot per second: how many writes and reads
// finished and how long they took, kept as coarse latency buckets so each
// second's percentiles can be read back. It feeds the dashboard's charts;
// Prometheus gets the cumulative histograms instead (node-metrics.ts).

/** Latency bucket upper bounds in ms: 0.25 ms growing by a quarter each, up to about 6 s. */
const boundsMs: readonly number[] = Array.from({ length: 46 }, (_, i) => Number((0.25 * 1.25 ** i).toPrecision(4)));

export const recentSeconds = 60;

interface Slot {
  second: number;
  counts: Record<RequestKind, number[]>;
}

export type RequestKind = 'write' | 'read';

/** One second of the last minute, as the dashboard plots it. Percentiles are bucket upper bounds, null when nothing finished. */
export interface RecentPoint {
  /** Start of the second, ms since the epoch. */
  t: number;
  writes: number;
  reads: number;
  writeP50: number | null;
  writeP99: number | null;
  readP50: number | null;
  readP99: number | null;
}

export class RecentRequests {
  private readonly slots: Slot[] = [];

  record(kind: RequestKind, ms: number, now: number): void {
    const slot = this.slotFor(Math.floor(now / 1000));
    let i = 0;
    while (i < boundsMs.length && ms > boundsMs[i]!) i++;
    slot.counts[kind][i]!++;
  }

  /** The last `recentSeconds` whole seconds before `now`'s second, oldest first (the current second is still filling). */
  series(now: number): RecentPoint[] {
    const current = Math.floor(now / 1000);
    const out: RecentPoint[] = [];
    for (let s = current - recentSeconds; s < current; s++) {
      const slot = this.slots.find((x) => x.second === s);
      const w = slot?.counts.write;
      const r = slot?.counts.read;
      out.push({
        t: s * 1000,
        writes: w ? sum(w) : 0,
        reads: r ? sum(r) : 0,
        writeP50: w ? quantile(w, 0.5) : null,
        writeP99: w ? quantile(w, 0.99) : null,
        readP50: r ? quantile(r, 0.5) : null,
        readP99: r ? quantile(r, 0.99) : null,
      });
    }
    return out;
  }

  private slotFor(second: number): Slot {
    const last = this.slots[this.slots.length - 1];
    if (last !== undefined && last.second === second) return last;
    // Clocks only move forward here (the node's clock is monotonic); a late
    // sample for an older second lands in the newest slot rather than reorder them.
    if (last !== undefined && last.second > second) return last;
    const slot: Slot = { second, counts: { write: emptyCounts(), read: emptyCounts() } };
    this.slots.push(slot);
    while (this.slots.length > 0 && this.slots[0]!.second <= second - recentSeconds - 1) this.slots.shift();
    return slot;
  }
}

function emptyCounts(): number[] {
  return new Array<number>(boundsMs.length + 1).fill(0);
}

function sum(counts: readonly number[]): number {
  let n = 0;
  for (const c of counts) n += c;
  return n;
}

/** The upper bound of the bucket holding the q-quantile; above the last bound, that bound's double. */
export function quantile(counts: readonly number[], q: number): number | null {
  const total = sum(counts);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return boundsMs[i] ?? boundsMs[boundsMs.length - 1]! * 2;
  }
  return null;
}
