// Sends the core's messages to peers that are Durable Objects of the same
// namespace (the edge topology, worker/edge/): each batch is one RPC call,
// `deliver`, on the peer's stub, which answers with the peer's replies. The
// queueing is the fetch transport's (at most `maxInflightPerPeer` calls per
// peer, the rest held and merged into the next call); only the exchange
// differs. No secret: a stub can only be had inside this script, so the path
// is not reachable from outside.
//
// The peer's answer passes its output gate, so it leaves only once what the
// messages made the peer write is durable, as with a POST's response.
import type { Message } from '../raft/messages';
import type { Member, NodeId } from '../raft/types';
import { FetchTransport, type TransportOptions } from './fetch-transport';
import { describeError } from './peer-streams';
import type { LinkFaults } from '../edge/link-faults';

/** Who a batch is for: the peer's cluster and id, so an object meeting its first message knows who it is. */
export interface MemberIdentity {
  cluster: string;
  id: NodeId;
}

/** The one RPC method a peer's object offers to its cluster. */
export interface PeerStub {
  deliver(to: MemberIdentity, messages: Message[]): Promise<Message[]>;
}

export interface StubTransportOptions extends Omit<TransportOptions, 'secret' | 'streams' | 'fetch'> {
  cluster: string;
  /** The stub of a peer (a stub may be kept: inside a Durable Object every event shares the object's context). */
  stubOf: (peer: NodeId) => PeerStub;
  /** Injected faults (tests only, edge/link-faults.ts). */
  faults?: () => LinkFaults | undefined;
}

export class StubTransport extends FetchTransport {
  private readonly stubs = new Map<NodeId, PeerStub>();

  constructor(private readonly stubOpts: StubTransportOptions) {
    super({ ...stubOpts, secret: '', streams: false });
  }

  protected override async exchange(
    peer: Member,
    batch: Message[],
  ): Promise<{ type: 'ok'; replies: Message[]; dropped: number } | { type: 'failed'; reason: string }> {
    const fault = this.stubOpts.faults?.()?.verdict(this.stubOpts.self, peer.id);
    if (fault !== undefined && fault.delayMs > 0) await sleep(fault.delayMs);
    if (fault?.kind === 'dropRequest') return { type: 'failed', reason: 'dropped (injected fault)' };
    let stub = this.stubs.get(peer.id);
    if (stub === undefined) {
      stub = this.stubOpts.stubOf(peer.id);
      this.stubs.set(peer.id, stub);
    }
    // The limit is one of the transport's deadlines, not a timer of its own (deadlines.ts says why).
    const limit = this.timeLimit(this.stubOpts.timeoutMs);
    try {
      const timeout = new Promise<never>((_, reject) => {
        limit.signal.addEventListener('abort', () => reject(limit.signal.reason));
      });
      const replies = await Promise.race([stub.deliver({ cluster: this.stubOpts.cluster, id: peer.id }, batch), timeout]);
      if (fault?.kind === 'dropReply') return { type: 'failed', reason: 'reply dropped (injected fault)' };
      return { type: 'ok', ...this.parseReplies({ messages: replies }, peer.id) };
    } catch (err) {
      // A stub that failed may be broken for good (its object was reset): take a new one next time.
      this.stubs.delete(peer.id);
      return { type: 'failed', reason: describeError(err) };
    } finally {
      limit.done();
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
