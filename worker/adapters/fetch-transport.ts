// Sends the core's messages to peers over HTTP: POSTs to
// {peerUrl}/raft/messages carrying a batch of messages for that peer, with the
// cluster secret, or, when `streams` is on and the peer's socket is open, the
// same batch as one frame on a WebSocket to the peer (peer-streams.ts). At
// most `maxInflightPerPeer` POSTs or frames are open per peer; what the core
// produces meanwhile is held and goes out together in the next one. The peer
// answers with the replies it produced for us, which are handed to `deliver`
// (the Durable Object steps them into the core).
//
// Nothing here is awaited by the caller: each POST or frame runs on its own
// and has its own timeout, so a slow or dead peer delays nobody else. Raft
// tolerates lost messages (§5.1: RPCs are retried), so a failed exchange is
// just logged and dropped.
import type { Message } from '../raft/messages';
import type { Logger } from '../raft/logger';
import type { Member, NodeId } from '../raft/types';
import type { HostTransport, PeerLoad } from '../host/ports';
import { LogThrottle } from '../logging';
import { PeerStreams, describeError, isRecord } from './peer-streams';
import { Deadlines } from './deadlines';
import { isMessage } from '../api/message-schemas';
import { noRoutes, routed, type PeerRoutes } from './peer-routes';
import { peerMessagesProblem } from '../api/peer-checks';

export interface TransportOptions {
  self: NodeId;
  peers: readonly Member[];
  /** Where to reach some members instead of their configured URL (PEER_ROUTES); none by default. */
  routes?: PeerRoutes;
  secret: string;
  /** Per-POST limit; a reply later than this is abandoned. */
  timeoutMs: number;
  /** POSTs allowed in flight to one peer; beyond that, messages are held and coalesced. */
  maxInflightPerPeer: number;
  /** Minimum gap between two warnings about the same peer. */
  warnIntervalMs: number;
  logger: Logger;
  /** Replies from a peer, addressed to us. */
  deliver: (messages: Message[]) => void;
  /** Keep the object alive until the POST settles (ctx.waitUntil). */
  track: (work: Promise<unknown>) => void;
  now: () => number;
  /** Send over a WebSocket per peer when one is open (peer-streams.ts); POST otherwise. */
  streams: boolean;
  fetch?: typeof fetch;
  /** Told of each POST body or stream frame sent (metrics); its size in UTF-16 code units, which is its UTF-8 bytes for ASCII JSON. */
  sent?: (peer: NodeId, size: number) => void;
}

export const raftMessagesPath = '/raft/messages';

/** Messages held per peer while its POST slots are busy; older ones are dropped beyond this. */
const maxHeldPerPeer = 256;

export class FetchTransport implements HostTransport {
  private peers: Map<NodeId, Member>;
  private readonly inflight = new Map<NodeId, number>();
  private readonly held = new Map<NodeId, Message[]>();
  private readonly failing = new Set<NodeId>();
  private readonly throttle: LogThrottle;
  private readonly fetchFn: typeof fetch;
  private readonly streams: PeerStreams | null;
  /**
   * Time limits of the exchanges in flight, under one timer (deadlines.ts says why not
   * AbortSignal.timeout or a timer per call: memory, and workerd's cap of 10,000 timers).
   */
  private readonly deadlines: Deadlines<number>;
  private nextExchange = 1;

  constructor(private readonly opts: TransportOptions) {
    this.peers = this.route(opts.peers);
    this.deadlines = new Deadlines(opts.now);
    this.throttle = new LogThrottle(opts.warnIntervalMs);
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.streams = opts.streams
      ? new PeerStreams({
          secret: opts.secret,
          timeoutMs: opts.timeoutMs,
          logger: opts.logger,
          now: opts.now,
          track: opts.track,
          fetch: this.fetchFn,
          sent: opts.sent,
        })
      : null;
  }

  /** Whether messages to `peer` go over its WebSocket now rather than as POSTs. */
  streamOpen(peer: NodeId): boolean {
    return this.streams?.isOpen(peer) ?? false;
  }

  /** Per peer, "open" (frames) or "post"; null when streams are off (GET /status). */
  streamStates(): Record<NodeId, 'open' | 'post'> | null {
    if (this.streams === null) return null;
    return Object.fromEntries([...this.peers.values()].map((p) => [p.id, this.streamOpen(p.id) ? 'open' : 'post']));
  }

  /** Group by destination and start one POST (or frame) per peer. Returns at once. */
  send(messages: readonly Message[]): void {
    const batches = new Map<NodeId, Message[]>();
    const debug = this.opts.logger.enabled?.('debug') !== false;
    for (const m of messages) {
      if (debug) this.opts.logger.log('debug', 'send', { to: m.to, type: m.type, msgTerm: m.term });
      const batch = batches.get(m.to);
      if (batch) batch.push(m);
      else batches.set(m.to, [m]);
    }
    for (const [to, batch] of batches) {
      const peer = this.peers.get(to);
      if (peer === undefined) {
        this.opts.logger.log('error', 'core addressed a message to an unknown peer', { to });
        continue;
      }
      this.enqueue(peer, batch);
    }
  }

  /**
   * Start a POST now if the peer has a free slot; otherwise hold the messages
   * and send everything held in one POST when a slot frees. Under load this
   * turns many small AppendEntries into one request, so the peer persists
   * them in one event instead of one durable write each.
   */
  private enqueue(peer: Member, batch: Message[]): void {
    const held = this.held.get(peer.id);
    if (held !== undefined) {
      held.push(...batch);
      if (held.length > maxHeldPerPeer) {
        // Raft survives lost messages (§5.1); the core re-sends what matters.
        const dropped = held.splice(0, held.length - maxHeldPerPeer).length;
        this.warn(peer, `dropped ${dropped} held message(s): peer is not keeping up`, false);
      }
      return;
    }
    const busy = this.inflight.get(peer.id) ?? 0;
    if (busy >= this.opts.maxInflightPerPeer) {
      this.held.set(peer.id, batch.slice());
      return;
    }
    this.inflight.set(peer.id, busy + 1);
    const done = this.post(peer, batch).finally(() => {
      this.inflight.set(peer.id, (this.inflight.get(peer.id) ?? 1) - 1);
      const next = this.held.get(peer.id);
      if (next !== undefined) {
        this.held.delete(peer.id);
        this.enqueue(peer, next);
      }
    });
    this.opts.track(done);
  }

  /** Messages held for `peer` until a POST slot frees. */
  heldFor(peer: NodeId): number {
    return this.held.get(peer)?.length ?? 0;
  }

  /** Whether a message to `peer` sent now would leave at once (a slot is free and nothing is held). */
  hasFreeSlot(peer: NodeId): boolean {
    return !this.held.has(peer) && this.inflightTo(peer) < this.opts.maxInflightPerPeer;
  }

  /** POSTs or frames currently in flight to `peer`. */
  inflightTo(peer: NodeId): number {
    return this.inflight.get(peer) ?? 0;
  }

  /** The configuration changed: reach these members from now on (a removed one's held messages are dropped). */
  setPeers(peers: readonly Member[]): void {
    this.peers = this.route(peers);
    for (const id of [...this.held.keys()]) if (!this.peers.has(id)) this.held.delete(id);
  }

  private route(peers: readonly Member[]): Map<NodeId, Member> {
    const routes = this.opts.routes ?? noRoutes;
    return new Map(peers.map((p) => [p.id, routed(p, routes)]));
  }

  /** How busy the way to `peer` is (the host's group commit asks, host/ports.ts). */
  load(peer: NodeId): PeerLoad {
    if (!this.hasFreeSlot(peer)) return 'full';
    return this.inflightTo(peer) === 0 ? 'idle' : 'free';
  }

  private async post(peer: Member, batch: Message[]): Promise<void> {
    const outcome = await this.exchange(peer, batch);
    if (outcome.type === 'failed') {
      this.warn(peer, outcome.reason, true);
      return;
    }
    if (this.failing.delete(peer.id) && this.throttle.admit(`up:${peer.id}`, this.opts.now()) !== null) {
      this.opts.logger.log('info', 'peer reachable again', { peer: peer.id });
    }
    if (outcome.dropped > 0) this.warn(peer, `ignored ${outcome.dropped} malformed or misaddressed reply message(s)`, false);
    if (outcome.replies.length > 0) this.opts.deliver(outcome.replies);
  }

  protected async exchange(
    peer: Member,
    batch: Message[],
  ): Promise<{ type: 'ok'; replies: Message[]; dropped: number } | { type: 'failed'; reason: string }> {
    const viaStream = this.streams?.exchange(peer, batch);
    if (viaStream) {
      const answer = await viaStream;
      return answer.type === 'ok' ? { type: 'ok', ...this.parseReplies(answer.body, peer.id) } : answer;
    }
    const abort = this.timeLimit(this.opts.timeoutMs);
    try {
      const body = JSON.stringify({ messages: batch });
      this.opts.sent?.(peer.id, body.length);
      const res = await this.fetchFn(`${peer.url}${raftMessagesPath}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.secret}`, 'content-type': 'application/json' },
        body,
        signal: abort.signal,
      });
      if (!res.ok) {
        await res.body?.cancel();
        const hint = res.status === 401 ? ' (CLUSTER_SECRET differs between nodes?)' : '';
        return { type: 'failed', reason: `HTTP ${res.status}${hint}` };
      }
      return { type: 'ok', ...this.parseReplies(await res.json(), peer.id) };
    } catch (err) {
      return { type: 'failed', reason: describeError(err) };
    } finally {
      abort.done();
    }
  }

  /** A signal that aborts with a TimeoutError after `ms`, as AbortSignal.timeout's does, unless done() comes first. */
  protected timeLimit(ms: number): { signal: AbortSignal; done: () => void } {
    const id = this.nextExchange++;
    const controller = new AbortController();
    this.deadlines.add(id, ms, () => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')));
    return { signal: controller.signal, done: () => void this.deadlines.cancel(id) };
  }

  /**
   * Keep only well-formed, consistent messages from this peer to us, checked
   * exactly as the messages of a request are (a reply may carry an append):
   * the peer is trusted but may run other code.
   */
  protected parseReplies(body: unknown, peer: NodeId): { replies: Message[]; dropped: number } {
    const list = isRecord(body) && Array.isArray(body.messages) ? (body.messages as unknown[]) : null;
    if (list === null) return { replies: [], dropped: 1 };
    const replies: Message[] = [];
    for (const m of list) {
      if (isMessage(m) && m.from === peer && m.to === this.opts.self && peerMessagesProblem([m]) === null) replies.push(m);
    }
    return { replies, dropped: list.length - replies.length };
  }

  private warn(peer: Member, reason: string, failing: boolean): void {
    if (failing) this.failing.add(peer.id);
    const held = this.throttle.admit(peer.id, this.opts.now());
    if (held === null) return;
    this.opts.logger.log('warn', 'peer request failed', { peer: peer.id, url: peer.url, reason, suppressed: held });
  }
}
