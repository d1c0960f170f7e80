// The Durable Object that is one Raft node: plumbing only. It builds the node
// host (host/node-host.ts) with the real adapters (assembly.ts) and turns the
// runtime's events into host calls: RPC methods, alarm(), and the frames of
// peer streams (adapters/peer-stream-server.ts). The host carries out every
// Ready; the output gate holds messages and RPC replies until the storage
// writes before them are durable.
// Input gates open while we await, so nothing here assumes state survives an
// await.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import { describeConfigErrors, parseNodeConfig } from './config';
import type { NodeConfigResult, NodeSettings } from './config';
import type { AdminOutcome, MembershipChange, NodeApi, ReadOutcome, StatusReport, WriteOutcome } from '../node-api';
import { acceptPeerStream } from '../adapters/peer-stream-server';
import { acceptClientSocket } from '../adapters/client-socket-server';
import type { ClientSocketNode } from '../adapters/client-socket-server';
import { clientSocketPath } from '../api/client-socket';
import type { AlarmTimers } from '../adapters/alarm-timers';
import { encodeRequest } from '../kv/commands';
import { requestWithDigest } from '../kv/sessions';
import type { KvRequest } from '../kv/commands';
import type { Message } from '../raft/messages';
import type { Index } from '../raft/types';
import { assembleNode, type Live, type NodeHooks } from './assembly';
import type { MetricFamily } from '../metrics/registry';
import type { NodeView } from '../metrics/node-metrics';
import { readStorageSizes, SnapshotSizeCache } from '../metrics/storage-sizes';

/** Test-only access to the internals (a symbol, so it is not an RPC method). */
export const inspectNode = Symbol('inspectNode');

export class RaftNodeObject extends DurableObject<Env> implements NodeApi {
  private live: Live | null = null;
  private readonly configError: string | null = null;
  private startError: string | null = null;
  /** Monotonic: never behind Date.now(), never behind an alarm that has fired. */
  private clock = 0;
  private readonly snapshotSize = new SnapshotSizeCache();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const parsed = this.configure(env);
    if (parsed === null) return; // told who it is later (the edge topology's members)
    if (!parsed.ok) {
      this.configError = describeConfigErrors(parsed.errors);
      console.log(JSON.stringify({ level: 'error', msg: this.configError, node: env.NODE_ID ?? null }));
      return;
    }
    // No request may see a half-loaded node.
    void ctx.blockConcurrencyWhile(() => this.start(parsed.settings));
  }

  /** The node's settings from its vars; a subclass that learns its identity later answers null until then. */
  protected configure(env: Env): NodeConfigResult | null {
    return parseNodeConfig(env);
  }

  /** How the node reaches its peers: HTTP to their URLs unless a subclass says otherwise. */
  protected transportFor(_settings: NodeSettings): NodeHooks['transport'] {
    return undefined;
  }

  async write(req: KvRequest): Promise<WriteOutcome> {
    const [outcome] = await this.proposeWrites([req]);
    return outcome!;
  }

  /** Several writes at once (the Worker's coalesced requests, front/coalesce.ts): proposed together, answered in order. */
  async writeBatch(reqs: KvRequest[]): Promise<WriteOutcome[]> {
    return Promise.all(await this.proposeWrites(reqs));
  }

  private async proposeWrites(reqs: KvRequest[]): Promise<Promise<WriteOutcome>[]> {
    this.requireLive();
    const start = this.now();
    // Every replica applies the entry with the digest the proposer puts in it (sessions.ts);
    // all before any is registered, so a throw leaves nothing behind.
    const encoded = (await Promise.all(reqs.map(requestWithDigest))).map(encodeRequest);
    const { host, metrics } = this.requireLive();
    const outcomes: Promise<WriteOutcome>[] = [];
    const timed = (o: WriteOutcome) => metrics.onWriteOutcome(o.type, this.now() - start, this.now());
    host.propose(encoded.map((data) => ({ data, reply: promised(outcomes, timed) })));
    return outcomes;
  }

  async read(key: string): Promise<ReadOutcome> {
    return this.startReads([key])[0]!;
  }

  /** Several linearizable reads at once (front/coalesce.ts); they share a ReadIndex round. */
  async readBatch(keys: string[]): Promise<ReadOutcome[]> {
    return Promise.all(this.startReads(keys));
  }

  private startReads(keys: string[]): Promise<ReadOutcome>[] {
    const { host, metrics } = this.requireLive();
    const outcomes: Promise<ReadOutcome>[] = [];
    const start = this.now();
    const timed = (o: ReadOutcome) => metrics.onReadOutcome(o.type, this.now() - start, this.now());
    host.read(keys.map((query) => ({ query, reply: promised(outcomes, timed) })));
    return outcomes;
  }

  async receive(messages: Message[]): Promise<Message[]> {
    return this.receiveNow(messages);
  }

  private receiveNow(messages: Message[]): Message[] {
    const live = this.requireLive();
    live.metrics.onReceived(messages, this.now());
    return live.host.receive(messages);
  }

  /**
   * A socket upgrade the Worker forwarded: a client's (GET /v1/socket,
   * adapters/client-socket-server.ts) or a peer's, whose secret the Worker
   * has checked (adapters/peer-stream-server.ts).
   */
  override async fetch(request: Request): Promise<Response> {
    this.requireLive();
    if (new URL(request.url).pathname === clientSocketPath) return acceptClientSocket(request, this.clientSocketNode, this.live?.logger);
    // A frame's messages are stepped as a POST's would be.
    return acceptPeerStream(request, (messages) => this.receiveNow(messages), this.live?.logger);
  }

  /** Client socket frames go straight to the batched paths the Worker's coalesced calls use. */
  private readonly clientSocketNode: ClientSocketNode = {
    writes: (reqs) => this.proposeWrites(reqs),
    reads: (keys) => this.startReads(keys),
  };

  async status(): Promise<StatusReport> {
    const live = this.requireLive();
    const status = live.host.status();
    const streams = live.transport.streamStates();
    return streams === null ? status : { ...status, streams };
  }

  async changeMembership(change: MembershipChange): Promise<AdminOutcome> {
    const { host } = this.requireLive();
    return new Promise((resolve) => host.changeMembership(change, resolve));
  }

  async transferLeadership(id: string): Promise<AdminOutcome> {
    const { host } = this.requireLive();
    return new Promise((resolve) => host.transferLeadership(id, resolve));
  }

  /** The node's Prometheus families (GET /metrics adds the Worker's own and renders them). */
  async metrics(): Promise<MetricFamily[]> {
    const live = this.requireLive();
    return live.metrics.collect(live.host.status(), readStorageSizes(this.ctx.storage.sql));
  }

  /** What the dashboard shows besides the status: the last minute of requests, elections, peers last heard. */
  async view(): Promise<NodeView> {
    const live = this.requireLive();
    const sql = this.ctx.storage.sql;
    return live.metrics.view(this.now(), sql.databaseSize, this.snapshotSize.get(sql, live.host.status().snapshotIndex));
  }

  override async alarm(): Promise<void> {
    const live = this.live;
    if (live === null) return; // misconfigured or failed to start: nothing was scheduled
    // The runtime fires an alarm no earlier than it was armed for, so the
    // clock may safely move up to that time (this also lets tests force an
    // alarm with runDurableObjectAlarm and see its deadlines as due).
    const armedAt = live.timers.armedAt;
    if (armedAt !== null) this.clock = Math.max(this.clock, armedAt);
    live.timers.fire(this.now());
  }

  /** For tests in test/workers only. */
  [inspectNode](): { timers: AlarmTimers; pendingRequests: number; now: number; payloadsHeld: number; appliedIndex: Index } {
    const live = this.requireLive();
    return {
      timers: live.timers,
      pendingRequests: live.host.pendingRequests,
      now: this.now(),
      payloadsHeld: live.core.payloadsHeld(),
      appliedIndex: live.host.appliedIndex,
    };
  }

  protected async start(settings: NodeSettings): Promise<void> {
    try {
      const hooks = { now: () => this.now(), fatal: (err: unknown) => this.crash(err), transport: this.transportFor(settings) };
      const live = await assembleNode(this.ctx, settings, hooks);
      this.live = live;
      live.host.start(); // replays the committed log into the fresh state machine
    } catch (err) {
      this.live = null;
      this.startError = `node failed to start: ${String(err)}`;
      console.log(JSON.stringify({ level: 'error', msg: this.startError, node: settings.raft.self.id }));
      throw err;
    }
  }

  /**
   * The host stopped after a throw from the core or from storage: memory may
   * be ahead of what is stored, so reset the object and let it reload.
   */
  private crash(err: unknown): void {
    this.live = null;
    this.startError = `node stopped after an internal error: ${String(err)}`;
    this.ctx.abort(this.startError);
  }

  private requireLive(): Live {
    if (this.live !== null) return this.live;
    throw new Error(this.configError ?? this.startError ?? 'node is not running');
  }

  private now(): number {
    this.clock = Math.max(this.clock, Date.now());
    return this.clock;
  }
}

/** A reply callback whose outcome becomes a promise appended to `into`, told to `observe` first. */
function promised<T>(into: Promise<T>[], observe: (outcome: T) => void): (outcome: T) => void {
  let resolve!: (outcome: T) => void;
  into.push(new Promise<T>((r) => (resolve = r)));
  return (outcome) => {
    observe(outcome);
    resolve(outcome);
  };
}
