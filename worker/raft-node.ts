// The Durable Object that is one Raft node. Glue only: it owns the pure core
// (raft/node.ts), the KV state machine, and the adapters (node-assembly.ts
// builds them at start; adapters/peer-stream-server.ts answers peer streams),
// and carries out each Ready in the order ready.ts documents. Every call into
// the core is followed, synchronously, by the SQL writes it asks for; messages
// go out afterwards, and the output gate holds them (and RPC replies, and
// answers on peer streams) until those writes are durable.
// One exception: a leader's new entries are written one macrotask after their
// AppendEntries leave, and before the next core call (held-writes.ts).
// Input gates open while we await, so nothing below assumes state survives an
// await: every core call re-reads what it needs.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env';
import { describeConfigErrors, parseNodeConfig } from './node-config';
import type { NodeSettings } from './node-config';
import type { NodeApi, ReadOutcome, StatusReport, WriteOutcome } from './node-api';
import { acceptPeerStream, answerClose, answerFrame } from './adapters/peer-stream-server';
import { encodeRequest } from './kv/commands';
import type { KvRequest } from './kv/commands';
import type { Proposal, RaftNode } from './raft/node';
import type { Message } from './raft/messages';
import type { Ready } from './raft/ready';
import type { Index, NodeId } from './raft/types';
import { mayWriteAfterSending, type HeldWrite } from './held-writes';
import { MacrotaskBatch } from './macrotask-batch';
import { assembleNode, requestTimer, type Live } from './node-assembly';
import type { AlarmTimers } from './adapters/alarm-timers';

/** Messages for these peers are returned to the caller instead of being POSTed. */
interface ReplyCapture {
  to: ReadonlySet<NodeId>;
  out: Message[];
}

/** Test-only access to the internals (a symbol, so it is not an RPC method). */
export const inspectNode = Symbol('inspectNode');

const tickTimer = 'tick';

export class RaftNodeObject extends DurableObject<Env> implements NodeApi {
  private live: Live | null = null;
  private readonly configError: string | null = null;
  private startError: string | null = null;
  /** Monotonic: never behind Date.now(), never behind an alarm that has fired. */
  private clock = 0;
  private nextRef = 1;
  /**
   * Group commit: writes arriving together are proposed together, one macrotask
   * later, so they share one durable write and one AppendEntries per peer
   * instead of one of each per write.
   */
  private readonly proposals = new MacrotaskBatch<Proposal>((batch) => {
    if (this.live !== null) this.run((core, now) => core.proposeBatch(batch, now));
  });
  /**
   * A node with no peers confirms a read in the very call that asks for it, so
   * each read would be answered within the event that brought it. Under
   * saturation workerd then keeps serving the connections whose next request
   * is already in, and starves the others (measured: p99 400-700 ms at 64
   * clients, p50 5 ms). Answering from a macrotask, as writes are, lets every
   * waiting request in first. With peers, the heartbeat round does the same.
   */
  private readonly soloReads = new MacrotaskBatch<number>((refs) => {
    if (this.live !== null) for (const r of refs) this.run((core, now) => core.read(r, now));
  });
  private appliedIndex: Index = 0;
  /** A leader's own log writes, held back until its AppendEntries are on their way (held-writes.ts). */
  private readonly heldWrites = new MacrotaskBatch<HeldWrite>((writes) => {
    const live = this.live;
    if (live === null) return; // stopped: the held entries were never acknowledged
    try {
      for (const w of writes) live.storage.save(w.hardState, w.entries);
    } catch (err) {
      this.crash(live, err);
    }
  });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const parsed = parseNodeConfig(env);
    if (!parsed.ok) {
      this.configError = describeConfigErrors(parsed.errors);
      console.log(JSON.stringify({ level: 'error', msg: this.configError, node: env.NODE_ID ?? null }));
      return;
    }
    // No request may see a half-loaded node.
    void ctx.blockConcurrencyWhile(() => this.start(parsed.settings));
  }

  async write(req: KvRequest): Promise<WriteOutcome> {
    return this.proposeWrites([req])[0]!;
  }

  /** Several writes at once (the Worker's coalesced requests, worker/coalesce.ts): proposed together, answered in order. */
  async writeBatch(reqs: KvRequest[]): Promise<WriteOutcome[]> {
    return Promise.all(this.proposeWrites(reqs));
  }

  private proposeWrites(reqs: KvRequest[]): Promise<WriteOutcome>[] {
    const live = this.requireLive();
    const encoded = reqs.map(encodeRequest); // before any is registered, so a throw leaves nothing behind
    const batch: Proposal[] = [];
    const done = encoded.map((data) => {
      const ref = this.nextRef++;
      batch.push({ ref, data });
      const outcome = new Promise<WriteOutcome>((resolve) => live.pending.addWrite(ref, resolve));
      this.armRequestDeadline(live, ref);
      return outcome;
    });
    if (batch.length === 0) return done;
    if (this.proposals.size === 0 && this.proposeAtOnce(live)) {
      this.run((core, now) => core.proposeBatch(batch, now));
    } else {
      for (const p of batch) this.proposals.add(p);
    }
    return done;
  }

  /**
   * Whether to propose now rather than one macrotask later. Now when nothing
   * is in flight to any peer: the writes go out at once, for latency. Now also
   * when no peer has a free slot: nothing would leave before a slot frees
   * anyway (the transport holds the AppendEntries and sends them with whatever
   * joins them), so waiting would only cost one more event. Only in between,
   * when a message would leave at once to a peer that is already busy, do the
   * writes wait for the others of the same macrotask, to share its messages.
   */
  private proposeAtOnce(live: Live): boolean {
    const { peers } = live.settings.raft;
    if (peers.length === 0) return false;
    const t = live.transport;
    const idle = peers.every((p) => t.inflightTo(p.id) === 0 && t.heldFor(p.id) === 0);
    return idle || peers.every((p) => !t.hasFreeSlot(p.id));
  }

  async read(key: string): Promise<ReadOutcome> {
    return this.startReads([key])[0]!;
  }

  /** Several linearizable reads at once (worker/coalesce.ts); they share a ReadIndex round. */
  async readBatch(keys: string[]): Promise<ReadOutcome[]> {
    return Promise.all(this.startReads(keys));
  }

  private startReads(keys: string[]): Promise<ReadOutcome>[] {
    const live = this.requireLive();
    const refs: number[] = [];
    const done = keys.map((key) => {
      const ref = this.nextRef++;
      refs.push(ref);
      const outcome = new Promise<ReadOutcome>((resolve) => live.pending.addRead(ref, key, resolve));
      this.armRequestDeadline(live, ref);
      return outcome;
    });
    if (refs.length === 0) return done;
    if (live.settings.raft.peers.length > 0) {
      this.run((core, now) => core.readBatch(refs, now));
    } else {
      for (const ref of refs) this.soloReads.add(ref);
    }
    return done;
  }

  async receive(messages: Message[]): Promise<Message[]> {
    return this.receiveNow(messages);
  }

  /** A peer opening its stream; the Worker has checked the secret (adapters/peer-stream-server.ts). */
  override async fetch(request: Request): Promise<Response> {
    this.requireLive();
    return acceptPeerStream(this.ctx, request);
  }

  /** A frame on a peer's stream: stepped as a POST's messages would be; the replies answer it. */
  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    answerFrame(ws, data, (messages) => this.receiveNow(messages), this.live?.logger);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
  }

  private receiveNow(messages: Message[]): Message[] {
    const live = this.requireLive();
    const self = live.settings.raft.self.id;
    const capture: ReplyCapture = { to: new Set(messages.map((m) => m.from)), out: [] };
    for (const m of messages) {
      if (m.to !== self) {
        live.logger.log('warn', 'dropped a message addressed to another node', { from: m.from, to: m.to, type: m.type });
        continue;
      }
      if (live.logger.enabled?.('debug') !== false) live.logger.log('debug', 'recv', { from: m.from, type: m.type, msgTerm: m.term });
      this.run((core, now) => core.step(m, now), capture);
    }
    return capture.out;
  }

  async status(): Promise<StatusReport> {
    const live = this.requireLive();
    const status = live.core.status(this.now());
    const streams = live.transport.streamStates();
    return streams === null ? status : { ...status, streams };
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
      pendingRequests: live.pending.size,
      now: this.now(),
      payloadsHeld: live.core.payloadsHeld(),
      appliedIndex: this.appliedIndex,
    };
  }

  private async start(settings: NodeSettings): Promise<void> {
    try {
      this.live = await assembleNode(this.ctx, settings, {
        deliver: (replies) => this.deliver(replies),
        now: () => this.now(),
      });
      // The first Readies replay the committed log into the fresh state machine.
      this.run((c, t) => c.tick(t));
    } catch (err) {
      this.startError = `node failed to start: ${String(err)}`;
      console.log(JSON.stringify({ level: 'error', msg: this.startError, node: settings.raft.self.id }));
      throw err;
    }
  }

  /** Replies that came back from a peer over the transport. */
  private deliver(replies: Message[]): void {
    if (this.live === null) return;
    for (const m of replies) {
      if (this.live.logger.enabled?.('debug') !== false) this.live.logger.log('debug', 'recv', { from: m.from, type: m.type, msgTerm: m.term });
      this.run((core, now) => core.step(m, now));
    }
  }

  /**
   * One synchronous core call, then its Ready carried out in full. The core
   * hands out committed entries in bounded batches; while more wait, ask for
   * the next one at once, so a replay (or a big commit) finishes here.
   */
  private run(call: (core: RaftNode, now: number) => Ready, capture?: ReplyCapture): void {
    const live = this.requireLive();
    try {
      // The core counts held entries as stored: make it so before it decides anything else.
      this.writeHeld(live);
      let ready = call(live.core, this.now());
      this.carry(live, ready, capture);
      while (ready.moreCommitted) {
        ready = live.core.tick(this.now());
        this.carry(live, ready, capture);
      }
    } catch (err) {
      this.crash(live, err);
    }
  }

  private carry(live: Live, ready: Ready, capture?: ReplyCapture): void {
    // 1. Persist before anything depends on it (§5.1, thesis §3.8).
    if (mayWriteAfterSending(ready, live.logContext.role, live.storage.changesTermOrVote(ready.hardState))) {
      // Written one macrotask from now, after this Ready's messages have left.
      this.heldWrites.add({ hardState: ready.hardState, entries: ready.entries });
    } else {
      this.writeHeld(live);
      live.storage.save(ready.hardState, ready.entries);
    }
    const wasLeader = live.logContext.role === 'leader';
    this.noteStateChanges(live, ready);
    // 2. Send; replies to the peer we are answering ride back on its request.
    const outgoing = capture ? ready.messages.filter((m) => !capture.to.has(m.to)) : ready.messages;
    if (capture) capture.out.push(...ready.messages.filter((m) => capture.to.has(m.to)));
    live.transport.send(outgoing);
    // 3. Apply. Proposals are noted first so the apply loop can answer them;
    //    with no peers, a proposal commits in the very Ready that reports it.
    for (const p of ready.proposed) live.pending.proposed(p, this.appliedIndex);
    for (const entry of ready.committed) this.apply(live, entry);
    // 4. Serve reads whose index is now applied (thesis §6.4).
    const get = (key: string) => live.kv.get(key);
    for (const r of ready.reads) live.pending.readReady(r, this.appliedIndex, get);
    live.pending.serveReads(this.appliedIndex, get);
    // 5. Report failures, and unknown outcomes when leadership is lost.
    for (const f of ready.failed) live.pending.failed(f);
    if (wasLeader && live.logContext.role !== 'leader') live.pending.leadershipLost();
    // 6. Make sure tick() runs by the deadline.
    if (!Number.isFinite(ready.deadline)) throw new Error(`core returned deadline ${ready.deadline}`);
    live.timers.set(tickTimer, ready.deadline, () => this.run((core, now) => core.tick(now)));
  }

  private writeHeld(live: Live): void {
    for (const w of this.heldWrites.take()) live.storage.save(w.hardState, w.entries);
  }

  private apply(live: Live, entry: Ready['committed'][number]): void {
    if (entry.index !== this.appliedIndex + 1) {
      throw new Error(`committed entry ${entry.index} handed out after applied index ${this.appliedIndex}`);
    }
    const result = live.kv.apply(entry);
    this.appliedIndex = entry.index;
    live.pending.applied(entry, result);
  }

  /** Keep the log context current and log what the core does not (it logs role changes itself). */
  private noteStateChanges(live: Live, ready: Ready): void {
    const ctx = live.logContext;
    const soft = ready.softState;
    if (soft !== null) {
      if (soft.role === ctx.role) live.logger.log('info', 'leader changed', { leader: soft.leader?.id ?? null });
      ctx.role = soft.role;
    }
    const hard = ready.hardState;
    if (hard !== null && hard.term !== ctx.term) {
      ctx.term = hard.term;
      live.logger.log('info', 'term changed', { vote: hard.vote });
    }
  }

  private armRequestDeadline(live: Live, ref: number): void {
    live.timers.set(requestTimer(ref), this.now() + live.settings.requestTimeoutMs, () => live.pending.expire(ref));
  }

  /**
   * A throw from the core or from storage is a bug or a broken disk. The
   * in-memory state may now be ahead of what is stored, so continuing could
   * break safety; restart the object instead, and let it reload from storage.
   */
  private crash(live: Live, err: unknown): never {
    live.logger.log('error', 'invariant broken; restarting the node', {
      err: String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    this.live = null;
    this.heldWrites.take(); // never acknowledged; storage keeps what the core last saw stored
    this.startError = `node stopped after an internal error: ${String(err)}`;
    this.ctx.abort(this.startError);
    throw err;
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
