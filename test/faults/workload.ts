// K concurrent clients doing get/set/delete/cas on a handful of keys, each
// recording every operation into the checker's history format. Every write
// carries a value no other write uses (`c3-17`: client 3, serial 17), so a
// read names the write it saw. What each client does is drawn from the run's
// seed; when it happens is up to the cluster.
import type { KvOp, Operation } from '../sim/checkers/history';
import type { Prng } from '../sim/prng';
import { KvClient } from './kv-client';

export interface WorkloadOptions {
  clients: number;
  keys: string[];
  /** Prefix of every Client-Id, unique per run. */
  runTag: string;
  nodes: Map<string, string>;
  proxyTargets: Map<number, string>;
  opDeadlineMs: number;
  attemptTimeoutMs: number;
  /** Pause between two operations of one client, drawn in [0, thinkMaxMs]. */
  thinkMaxMs: number;
  now: () => number;
}

export interface WorkloadStats {
  ok: number;
  failed: number;
  unknown: number;
  byType: Record<KvOp['type'], { ok: number; failed: number; unknown: number }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Workload {
  readonly history: Operation[] = [];
  readonly anomalies: string[] = [];
  readonly stats: WorkloadStats = {
    ok: 0,
    failed: 0,
    unknown: 0,
    byType: { get: zero(), set: zero(), delete: zero(), cas: zero() },
  };
  private nextId = 1;
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly o: WorkloadOptions,
    private readonly rng: Prng,
  ) {}

  /** A client for other phases (the final reads), recording into the same history. */
  client(name: string, rng: Prng): KvClient {
    return new KvClient({
      name: `${this.o.runTag}-${name}`,
      nodes: this.o.nodes,
      proxyTargets: this.o.proxyTargets,
      opDeadlineMs: this.o.opDeadlineMs,
      attemptTimeoutMs: this.o.attemptTimeoutMs,
      maxAttempts: 40,
      rng,
      onAnomaly: (d) => this.anomalies.push(`${name}: ${d}`),
    });
  }

  start(): void {
    for (let i = 1; i <= this.o.clients; i++) {
      const rng = this.rng.fork();
      this.loops.push(this.clientLoop(`c${i}`, rng));
    }
  }

  /** Lets each client finish its current operation (bounded by the op deadline). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Runs one operation and records it; returns the outcome for the caller's bookkeeping. */
  async run(client: KvClient, name: string, key: string, op: KvOp): Promise<Operation | null> {
    const id = this.nextId++;
    const invoke = this.o.now();
    const outcome = await client.perform(key, op);
    const complete = this.o.now();
    const tally = this.stats.byType[op.type];
    this.stats[outcome.type]++;
    tally[outcome.type]++;
    if (outcome.type === 'failed') return null; // certainly had no effect: left out of the history
    const rec: Operation =
      outcome.type === 'ok'
        ? { id, client: name, key, op, invoke, complete, observed: outcome.observed }
        : { id, client: name, key, op, invoke, complete: Infinity, observed: null };
    this.history.push(rec);
    return rec;
  }

  private async clientLoop(name: string, rng: Prng): Promise<void> {
    const client = this.client(name, rng.fork());
    // What this client believes each key holds, to aim its cas operations.
    const known = new Map<string, string | null>();
    for (let n = 0; n < 1_000_000 && !this.stopping; n++) {
      const key = rng.pick(this.o.keys);
      const op = this.nextOp(rng, client, key, known);
      const rec = await this.run(client, name, key, op);
      if (rec?.observed) remember(known, key, op, rec.observed);
      else if (op.type !== 'get') known.delete(key);
      const think = rng.between(0, this.o.thinkMaxMs);
      if (think > 0 && !this.stopping) await sleep(think);
    }
  }

  private nextOp(rng: Prng, client: KvClient, key: string, known: Map<string, string | null>): KvOp {
    const value = `${client.id.slice(this.o.runTag.length + 1)}-${client.nextSerial()}`;
    switch (rng.weighted([35, 25, 15, 25])) {
      case 0:
        return { type: 'get' };
      case 1:
        return { type: 'set', value };
      case 2:
        return { type: 'delete' };
      default: {
        // Mostly aim at what we last saw, so swaps succeed often; sometimes at absent.
        const expected = known.has(key) && rng.below(4) !== 0 ? (known.get(key) ?? null) : null;
        return { type: 'cas', expected, value };
      }
    }
  }
}

function remember(known: Map<string, string | null>, key: string, op: KvOp, observed: NonNullable<Operation['observed']>): void {
  switch (observed.type) {
    case 'get':
      known.set(key, observed.value);
      return;
    case 'set':
      if (op.type === 'set') known.set(key, op.value);
      return;
    case 'delete':
      known.set(key, null);
      return;
    case 'cas':
      known.set(key, observed.current);
      return;
  }
}

function zero(): { ok: number; failed: number; unknown: number } {
  return { ok: 0, failed: 0, unknown: 0 };
}
