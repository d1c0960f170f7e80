// The front's view of one edge cluster: a NodeApi (the surface the HTTP app is
// written against) that sends each call to the member this isolate believes
// leads, and follows the member's answer when it names another. So the app's
// routes run unchanged and a client never sees a 307: a not-leader answer
// with a leader is retried there at once, inside the request.
//
// Retrying is safe because a member that is not the leader refuses a write or
// read before acting on it (RaftNode.proposeBatch, readBatch). A call that
// fails outright (the member was reset mid-call) is different: a write's
// outcome is then unknown and it answers `timeout`, which a client with a
// session retries safely (docs/sessions.md); a read is retried elsewhere.
import type { AdminOutcome, MembershipChange, NodeApi, NotLeader, ReadOutcome, StatusReport, WriteOutcome } from '../node-api';
import type { KvRequest } from '../kv/commands';
import type { Message } from '../raft/messages';
import type { MetricFamily } from '../metrics/registry';
import type { NodeView } from '../metrics/node-metrics';

/** What the router needs of a member: its RPC methods (EdgeMemberObject), reached through a stub made for this request. */
export interface MemberApi {
  boot(who: { cluster: string; id: string }): Promise<unknown>;
  write(req: KvRequest): Promise<WriteOutcome>;
  read(key: string): Promise<ReadOutcome>;
  status(): Promise<StatusReport>;
  metrics(): Promise<MetricFamily[]>;
  view(): Promise<NodeView>;
  changeMembership(change: MembershipChange): Promise<AdminOutcome>;
  transferLeadership(id: string): Promise<AdminOutcome>;
}

export interface ClusterDirectory {
  cluster: string;
  /** The members named in the configuration (EDGE_MEMBERS); where to start when no leader is known. */
  initialMembers: readonly string[];
  /** A stub for member `id`, made in the calling request's context (a stub must not outlive its request). */
  stub(id: string): MemberApi;
}

/** Per isolate and cluster: who leads, as far as this isolate knows, and which members were already booted here. */
export class LeaderCache {
  leader: string | null = null;
  /** Members seen in a configuration (status answers), beyond the initial ones. */
  readonly known = new Set<string>();
  readonly booted = new Set<string>();
  /** Calls answered by following a not-leader answer (observability, tests). */
  hops = 0;
}

type Outcome = WriteOutcome | ReadOutcome | AdminOutcome;

export class EdgeClusterApi implements NodeApi {
  constructor(
    private readonly dir: ClusterDirectory,
    private readonly cache: LeaderCache,
  ) {}

  write(req: KvRequest): Promise<WriteOutcome> {
    return this.routed((m) => m.write(req), 'write');
  }

  read(key: string): Promise<ReadOutcome> {
    return this.routed((m) => m.read(key), 'read');
  }

  changeMembership(change: MembershipChange): Promise<AdminOutcome> {
    return this.routed((m) => m.changeMembership(change), 'write');
  }

  transferLeadership(id: string): Promise<AdminOutcome> {
    return this.routed((m) => m.transferLeadership(id), 'write');
  }

  /** The leader's status when one is known (so GET /status and GET /cluster speak for the cluster), else the first member's. */
  async status(): Promise<StatusReport> {
    let id = this.firstTarget();
    let status = await this.callStatus(id);
    if (status.role !== 'leader' && status.leader !== null && status.leader.id !== id) {
      id = status.leader.id;
      status = await this.callStatus(id);
    }
    this.learn(status);
    if (status.role === 'leader') this.cache.leader = id;
    return status;
  }

  async metrics(): Promise<MetricFamily[]> {
    const id = (await this.status()).id;
    return this.member(id).then((m) => m.metrics());
  }

  async view(): Promise<NodeView> {
    const id = (await this.status()).id;
    return this.member(id).then((m) => m.view());
  }

  /** Peers talk over stubs in this mode; the HTTP peer routes refuse before they get here (no cluster secret). */
  receive(_messages: Message[]): Promise<Message[]> {
    return Promise.reject(new Error('the edge front takes no peer messages'));
  }

  /** The only upgrade that reaches here is a client socket's (peer routes refuse first): not served on the edge, so HTTP. */
  fetch(_request: Request): Promise<Response> {
    const message = 'client sockets (GET /v1/socket) are not served by the edge topology; use the HTTP API';
    return Promise.resolve(Response.json({ error: 'not_found_route', message }, { status: 404 }));
  }

  /** Every member this isolate knows of: the initial ones and any seen in a configuration since. */
  members(): string[] {
    return [...new Set([...this.dir.initialMembers, ...this.cache.known])];
  }

  /** The member's status, booting it first if this isolate has not yet. */
  async memberStatus(id: string): Promise<StatusReport> {
    return this.callStatus(id);
  }

  private async callStatus(id: string): Promise<StatusReport> {
    const m = await this.member(id);
    return m.status();
  }

  /** Remember members a configuration names, so later requests can reach them (a member added through the admin API). */
  private learn(status: StatusReport): void {
    for (const m of [...status.membership.voters, ...status.membership.learners]) this.cache.known.add(m.id);
  }

  private firstTarget(): string {
    return this.cache.leader ?? this.dir.initialMembers[0]!;
  }

  private async member(id: string): Promise<MemberApi> {
    const stub = this.dir.stub(id);
    if (!this.cache.booted.has(id)) {
      await stub.boot({ cluster: this.dir.cluster, id });
      this.cache.booted.add(id);
    }
    return stub;
  }

  /**
   * Call the believed leader; on a not-leader answer, call the member it names,
   * or, if it names none, a member not yet asked; each member at most once.
   * When none leads, the answer is no_leader (503: an election is under way;
   * the client retries).
   */
  private async routed<O extends Outcome>(call: (m: MemberApi) => Promise<O>, kind: 'write' | 'read'): Promise<O> {
    let target = this.firstTarget();
    const tried = new Set<string>();
    for (let hop = 0; hop <= this.members().length; hop++) {
      tried.add(target);
      let outcome: O;
      try {
        outcome = await call(await this.member(target));
      } catch (err) {
        // The member went away mid-call (reset, or its machine restarted): forget it as leader.
        if (this.cache.leader === target) this.cache.leader = null;
        this.cache.booted.delete(target);
        if (kind === 'write') return { type: 'timeout' } as O;
        const next = this.members().find((m) => !tried.has(m));
        if (next === undefined) throw err;
        target = next;
        continue;
      }
      if (outcome.type !== 'notLeader') {
        this.cache.leader = target;
        return outcome;
      }
      const leader = (outcome as NotLeader).leader;
      this.cache.hops++;
      if (leader !== null && !tried.has(leader.id)) {
        this.cache.leader = leader.id;
        this.cache.known.add(leader.id);
        target = leader.id;
        continue;
      }
      // This member knows no leader (it may be cut off, or just restarted): another may.
      const next = this.members().find((m) => !tried.has(m));
      if (next === undefined) break;
      target = next;
    }
    // Whatever hint led here was stale.
    this.cache.leader = null;
    // Never pass a leader on: the app would turn it into a 307 to a member address.
    return { type: 'notLeader', leader: null } as O;
  }
}
