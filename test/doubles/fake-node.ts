// An in-memory NodeApi for route tests: a map that applies writes at once,
// outcomes that can be scripted per call, and a record of every call so a
// test can assert that a refused request reached nothing. The real node is
// tested with its Durable Object elsewhere; this double only has to be
// faithful to the NodeApi contract.
import type { AdminOutcome, MembershipChange, NodeApi, NotLeader, ReadOutcome, TimedOut, WriteOutcome } from '../../worker/node-api';
import { encodeRequest, isRegister, registeredId } from '../../worker/kv/commands';
import type { KvRegistered, KvRequest, KvResult, KvSuccess } from '../../worker/kv/commands';
import { KvStateMachine } from '../../worker/kv/store';
import type { SessionLimits } from '../../worker/kv/sessions';
import type { Message } from '../../worker/raft/messages';
import { unreachable } from '../../worker/raft/types';
import { silentLogger } from '../../worker/raft/logger';
import { createApp } from '../../worker/api/app';
import { NodeMetrics, type NodeView } from '../../worker/metrics/node-metrics';
import type { MetricFamily } from '../../worker/metrics/registry';

type NodeStatus = Awaited<ReturnType<NodeApi['status']>>;

export type Call =
  | { method: 'write'; req: KvRequest }
  | { method: 'read'; key: string }
  | { method: 'receive'; messages: Message[] }
  | { method: 'status' }
  | { method: 'metrics' }
  | { method: 'view' }
  | { method: 'fetch'; url: string }
  | { method: 'changeMembership'; change: MembershipChange }
  | { method: 'transferLeadership'; id: string };

export const fakeStatus: NodeStatus = {
  id: 'n1',
  url: 'http://127.0.0.1:8787',
  role: 'leader',
  term: 3,
  leader: { id: 'n1', url: 'http://127.0.0.1:8787' },
  commitIndex: 7,
  appliedIndex: 7,
  lastLogIndex: 7,
  lastLogTerm: 3,
  firstLogIndex: 1,
  snapshotIndex: 0,
  membership: { voters: [], learners: [] },
  configIndex: 0,
  peers: [{ id: 'n2', url: 'http://127.0.0.1:8788', matchIndex: 7, nextIndex: 8, lastContactMs: 12, state: 'replicate' }],
};

export class FakeNode implements NodeApi {
  readonly store = new Map<string, string>();
  readonly calls: Call[] = [];
  /** Replies `receive` returns. */
  replies: Message[] = [];
  private readonly refusals: (NotLeader | TimedOut)[] = [];
  private readonly results: KvResult[] = [];
  /** Real counters, so routes render what a node would hand them. */
  readonly metricsOf = new NodeMetrics(
    { id: fakeStatus.id, url: fakeStatus.url },
    // The fake's status names no configuration; its metrics know the peers its status lists.
    { voters: [{ id: fakeStatus.id, url: fakeStatus.url }, ...fakeStatus.peers.map(({ id, url }) => ({ id, url }))], learners: [] },
    fakeStatus.term,
  );

  /** The next read or write answers with this instead of touching the map. */
  refuseNext(outcome: NotLeader | TimedOut): this {
    this.refusals.push(outcome);
    return this;
  }

  /** The next write answers with this result (e.g. a session error) without applying. */
  resultNext(result: KvResult): this {
    this.results.push(result);
    return this;
  }

  async write(req: KvRequest): Promise<WriteOutcome> {
    this.calls.push({ method: 'write', req });
    const refusal = this.refusals.shift();
    if (refusal) return refusal;
    const scripted = this.results.shift();
    if (scripted) return { type: 'ok', result: scripted };
    return { type: 'ok', result: this.apply(req) };
  }

  async read(key: string): Promise<ReadOutcome> {
    this.calls.push({ method: 'read', key });
    const refusal = this.refusals.shift();
    if (refusal) return refusal;
    return { type: 'ok', value: this.store.get(key) ?? null };
  }

  /** When set, `receive` throws it (a node that stopped, or broke on the messages). */
  receiveError: Error | null = null;

  async receive(messages: Message[]): Promise<Message[]> {
    this.calls.push({ method: 'receive', messages });
    if (this.receiveError !== null) throw this.receiveError;
    return this.replies;
  }

  /** What `status` answers; tests replace it to play a follower or another configuration. */
  statusNow: NodeStatus = fakeStatus;

  async status(): Promise<NodeStatus> {
    this.calls.push({ method: 'status' });
    return this.statusNow;
  }

  /** Outcomes the next membership changes and transfers answer with, in order; ok when none is scripted. */
  readonly adminOutcomes: AdminOutcome[] = [];

  async changeMembership(change: MembershipChange): Promise<AdminOutcome> {
    this.calls.push({ method: 'changeMembership', change });
    return this.adminOutcomes.shift() ?? { type: 'ok', configIndex: this.statusNow.lastLogIndex + 1 };
  }

  async transferLeadership(id: string): Promise<AdminOutcome> {
    this.calls.push({ method: 'transferLeadership', id });
    return this.adminOutcomes.shift() ?? { type: 'ok', configIndex: null };
  }

  async metrics(): Promise<MetricFamily[]> {
    this.calls.push({ method: 'metrics' });
    return this.metricsOf.collect(fakeStatus, {
      logEntries: fakeStatus.lastLogIndex,
      logBytes: 100,
      databaseBytes: 4096,
      snapshotBytes: 0,
    });
  }

  async view(): Promise<NodeView> {
    this.calls.push({ method: 'view' });
    return this.metricsOf.view(Date.now(), 4096, null);
  }

  /** The real node answers 101 with a socket; Node's Response cannot, so the double answers 200. */
  async fetch(request: Request): Promise<Response> {
    this.calls.push({ method: 'fetch', url: request.url });
    return new Response('stream accepted', { status: 200 });
  }

  private registered = 0;

  private apply(req: KvRequest): KvSuccess | KvRegistered {
    if (isRegister(req)) return { ok: true, op: 'register', clientId: registeredId(++this.registered) };
    const { cmd } = req;
    switch (cmd.op) {
      case 'set':
        this.store.set(cmd.key, cmd.value);
        return { ok: true, op: 'set' };
      case 'delete':
        return { ok: true, op: 'delete', existed: this.store.delete(cmd.key) };
      case 'cas': {
        const current = this.store.get(cmd.key) ?? null;
        if (current !== cmd.expected) return { ok: true, op: 'cas', swapped: false, current };
        this.store.set(cmd.key, cmd.value);
        return { ok: true, op: 'cas', swapped: true, current: cmd.value };
      }
      default:
        return unreachable(cmd);
    }
  }
}

/**
 * A node whose writes go through the real state machine, one log entry each,
 * for route tests whose answers depend on its session rules.
 */
export class MachineNode extends FakeNode {
  readonly machine: KvStateMachine;
  private lastIndex = 0;

  /** `sessionLimits` small enough for a test to fill the table. */
  constructor(sessionLimits?: Partial<SessionLimits>) {
    super();
    this.machine = new KvStateMachine({ sessionLimits });
  }

  override async write(req: KvRequest): Promise<WriteOutcome> {
    this.calls.push({ method: 'write', req });
    const entry = { index: ++this.lastIndex, term: 1, kind: 'command' as const, data: encodeRequest(req) };
    const result = this.machine.apply(entry);
    if (result === null) throw new Error('a command entry gave no result');
    return { type: 'ok', result };
  }

  override async read(key: string): Promise<ReadOutcome> {
    this.calls.push({ method: 'read', key });
    return { type: 'ok', value: this.machine.get(key) };
  }
}

export const TEST_SECRET = 'test-cluster-secret';

/** The app served from `node`, with the given cluster secret ('' = none configured). */
export function appWith(node: NodeApi, clusterSecret = TEST_SECRET) {
  return createApp<object>({ node: () => node, clusterSecret: () => clusterSecret, logger: () => silentLogger });
}
