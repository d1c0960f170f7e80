// Simulated clients. Each runs one operation at a time (get, set, delete or
// cas on a few shared keys) against whichever node it believes leads,
// following notLeader hints, timing out and retrying. A write keeps its
// session serial across retries, so the state machine applies it at most
// once (thesis §6.3).
//
// Every operation lands in the history the linearizability checker reads:
//   - answered: observed result, completion time;
//   - failed for sure (a read given up on): left out;
//   - unknown (a write given up on after a timeout): observed null, complete
//     Infinity; it may take effect at any point after its invocation.
// History times are integer microseconds of virtual time, bumped by one when
// two events share an instant, so real-time order is exactly event order.
import { encodeRequest, type KvCommand, type KvResult } from '../../worker/kv/commands';
import type { Member } from '../../worker/raft/types';
import type { KvObserved, KvOp, Operation } from './checkers/history';
import { violation } from './checkers/violation';
import type { Clock } from './clock';
import type { Network } from './network';
import type { Prng, Ratio } from './prng';
import type { ReadReply, SimNode, WriteReply } from './sim-node';
import type { Trace } from './trace';

export interface ClientOptions {
  count: number;
  keys: string[];
  thinkMaxMs: number;
  requestTimeoutMs: number;
  /** Chance, at each timeout in the safety phase, of giving up on the operation. */
  abandon: Ratio;
  /** Weights of get, set, delete, cas. */
  mix: [number, number, number, number];
  /** Pause before retrying when no leader is known. */
  retryBackoffMs: number;
}

interface InFlight {
  record: Operation;
  /** The encoded request, for writes. */
  data: string | null;
  attempt: number;
  /** Write attempts not refused for sure: any of them may still reach a log, so giving up leaves the outcome unknown. */
  open: Set<number>;
}

interface Client {
  id: string;
  serial: number;
  target: number;
  op: InFlight | null;
  /** Values seen per key, to make cas succeed now and then. */
  seen: Map<string, string | null>;
}

export class Clients {
  readonly history: Operation[] = [];
  readonly stats = { invoked: 0, ok: 0, unknown: 0, dropped: 0, attempts: 0, timeouts: 0, redirects: 0 };
  private readonly clients: Client[] = [];
  private issuing = true;
  private nextOpId = 1;
  private lastStamp = -1;

  constructor(
    private readonly clock: Clock,
    private readonly prng: Prng,
    private readonly opts: ClientOptions,
    private readonly nodes: readonly SimNode[],
    private readonly network: Network,
    private readonly trace: Trace,
  ) {
    for (let i = 0; i < opts.count; i++) {
      this.clients.push({ id: `c${i + 1}`, serial: 0, target: prng.below(nodes.length), op: null, seen: new Map() });
    }
  }

  start(): void {
    for (const c of this.clients) this.clock.after(this.prng.between(0, this.opts.thinkMaxMs), () => this.issue(c));
  }

  /** The liveness phase: finish what is in flight, start nothing new, never give up. */
  stopIssuing(): void {
    this.issuing = false;
  }

  /** Clients still waiting for an answer. */
  pending(): string[] {
    return this.clients.filter((c) => c.op).map((c) => `${c.id} op #${c.op?.record.id} (${c.op?.attempt} attempts)`);
  }

  private stamp(): number {
    this.lastStamp = Math.max(this.clock.now * 1000, this.lastStamp + 1);
    return this.lastStamp;
  }

  private issue(c: Client): void {
    if (!this.issuing || c.op) return;
    const key = this.prng.pick(this.opts.keys);
    const op = this.drawOp(c, key);
    let data: string | null = null;
    if (op.type !== 'get') {
      c.serial++;
      data = encodeRequest({ cmd: toCommand(key, op), session: { clientId: c.id, serial: c.serial } });
    }
    const record: Operation = { id: this.nextOpId++, client: c.id, key, op, invoke: this.stamp(), complete: Infinity, observed: null };
    c.op = { record, data, attempt: 0, open: new Set() };
    this.stats.invoked++;
    this.send(c);
  }

  private drawOp(c: Client, key: string): KvOp {
    const value = `${c.id}.${c.serial + 1}`;
    switch (this.prng.weighted(this.opts.mix)) {
      case 0:
        return { type: 'get' };
      case 1:
        return { type: 'set', value };
      case 2:
        return { type: 'delete' };
      default: {
        const expected = this.prng.below(4) === 0 ? null : (c.seen.get(key) ?? null);
        return { type: 'cas', expected, value };
      }
    }
  }

  private send(c: Client): void {
    const f = c.op;
    if (!f) return;
    const attempt = ++f.attempt;
    this.stats.attempts++;
    const node = this.nodes[c.target] as SimNode;
    const opId = f.record.id;
    this.clock.after(this.opts.requestTimeoutMs, () => this.onTimeout(c, opId, attempt));
    if (f.data !== null) {
      f.open.add(attempt);
      const data = f.data;
      this.network.carry(() => node.write(data, (r) => this.network.carry(() => this.onWriteReply(c, opId, attempt, r))));
    } else {
      const key = f.record.key;
      this.network.carry(() => node.read(key, (r) => this.network.carry(() => this.onReadReply(c, opId, attempt, r))));
    }
  }

  private onWriteReply(c: Client, opId: number, attempt: number, r: WriteReply): void {
    const f = c.op;
    if (!f || f.record.id !== opId) return; // an answer to something already settled
    if (r.type === 'ok') return this.complete(c, observedOf(r.result, this.clock.now, c.id, opId));
    if (attempt !== f.attempt) {
      if (r.type === 'notLeader') f.open.delete(attempt); // a late refusal of an attempt already replaced
      return;
    }
    // notLeader: refused for sure, this attempt never entered a log. timeout:
    // the node could not tell in time; the attempt may still commit, so it stays open.
    if (r.type === 'notLeader') f.open.delete(attempt);
    this.retry(c, r.type === 'notLeader' ? r.leader : null);
  }

  private onReadReply(c: Client, opId: number, attempt: number, r: ReadReply): void {
    const f = c.op;
    if (!f || f.record.id !== opId) return;
    if (r.type === 'ok') {
      c.seen.set(f.record.key, r.value);
      return this.complete(c, { type: 'get', value: r.value });
    }
    if (attempt !== f.attempt) return;
    this.retry(c, r.type === 'notLeader' ? r.leader : null);
  }

  private onTimeout(c: Client, opId: number, attempt: number): void {
    const f = c.op;
    if (!f || f.record.id !== opId || f.attempt !== attempt) return;
    this.stats.timeouts++;
    if (this.issuing && this.prng.chance(this.opts.abandon)) return this.giveUp(c);
    c.target = this.prng.below(this.nodes.length);
    this.send(c);
  }

  private retry(c: Client, leader: Member | null): void {
    const hinted = leader ? this.nodes.findIndex((n) => n.id === leader.id) : -1;
    const known = hinted >= 0 && hinted !== c.target;
    c.target = known ? hinted : this.prng.below(this.nodes.length);
    if (known) this.stats.redirects++;
    const f = c.op;
    if (!f) return;
    const opId = f.record.id;
    const attempt = f.attempt;
    const backoff = known ? this.prng.between(0, 5) : this.prng.between(1, this.opts.retryBackoffMs);
    this.clock.after(backoff, () => {
      if (c.op?.record.id === opId && c.op.attempt === attempt) this.send(c);
    });
  }

  private complete(c: Client, observed: KvObserved): void {
    const f = c.op;
    if (!f) return;
    f.record.complete = this.stamp();
    f.record.observed = observed;
    if (observed.type === 'cas') c.seen.set(f.record.key, observed.current);
    this.history.push(f.record);
    this.stats.ok++;
    this.trace.digest.int(f.record.id);
    this.trace.digest.int(f.record.complete);
    this.settle(c);
  }

  private giveUp(c: Client): void {
    const f = c.op;
    if (!f) return;
    const unknown = f.data !== null && f.open.size > 0;
    if (unknown) {
      this.history.push(f.record); // observed null, complete Infinity: unknown outcome
      this.stats.unknown++;
    } else {
      this.stats.dropped++; // a read, or a write refused for sure: it had no effect
    }
    this.trace.log(c.id, 'info', 'sim: client gave up', { op: f.record.id, unknown });
    this.settle(c);
  }

  private settle(c: Client): void {
    c.op = null;
    if (this.issuing) this.clock.after(this.prng.between(0, this.opts.thinkMaxMs), () => this.issue(c));
  }
}

function toCommand(key: string, op: Exclude<KvOp, { type: 'get' }>): KvCommand {
  switch (op.type) {
    case 'set':
      return { op: 'set', key, value: op.value };
    case 'delete':
      return { op: 'delete', key };
    case 'cas':
      return { op: 'cas', key, expected: op.expected, value: op.value };
  }
}

function observedOf(r: KvResult, now: number, client: string, opId: number): KvObserved {
  if (!r.ok) throw violation('session', now, `${client} op #${opId} was refused by its session: ${r.error} (${r.message})`);
  switch (r.op) {
    case 'set':
      return { type: 'set' };
    case 'delete':
      return { type: 'delete' };
    case 'register': // the simulated clients use named sessions and never register
      throw violation('session', now, `${client} op #${opId} got a register result`);
    case 'cas':
      return { type: 'cas', swapped: r.swapped, current: r.current };
  }
}
