// One member of an edge cluster: the multi-port mode's Durable Object (same
// core, host, storage and state machine) with two differences. Its identity
// comes from its name ("<cluster>/<id>", edge-config.ts), not from vars, and
// it reaches peers through their stubs (adapters/stub-transport.ts), not URLs.
//
// An object learns its name from `ctx.id.name` or from the first call that
// reaches it (the front, or a peer's `deliver`), keeps it in storage, and from
// then on starts by itself, also when an alarm wakes it after a reset: the
// runtime does not give the name to every event (not to a stub made from the
// id's string, nor, as seen in the workerd pinned here, to the alarm that wakes
// an object after a reset).
import type { Env } from '../env';
import { parseNodeConfig, type NodeConfigResult, type NodeSettings } from '../node/config';
import { RaftNodeObject } from '../node/node-object';
import type { NodeHooks } from '../node/assembly';
import { StubTransport, type MemberIdentity } from '../adapters/stub-transport';
import { isPeerRequest } from '../api/message-schemas';
import { peerMessagesProblem } from '../api/peer-checks';
import type { Message } from '../raft/messages';
import { edgeConfig, isClusterName, isMemberId, memberStub, memberUrl, objectName, parseObjectName, type EdgeEnv } from './edge-config';
import { linkFaultsOf } from './link-faults';

/** Where the object keeps its name (the synchronous KV of its SQLite storage). */
const IDENTITY_KEY = 'edge:identity';

/** The peer-route secret is never used on the stub path; the node's config parser wants one. */
const UNUSED_SECRET = 'edge-members-use-stubs';

export class EdgeMemberObject extends RaftNodeObject {
  // Set by configure(), which runs inside the base class's constructor: a field
  // initializer would run after it and wipe the value, hence `declare`.
  declare private identity: MemberIdentity | undefined;
  private booting: Promise<void> | null = null;

  protected override configure(env: Env): NodeConfigResult | null {
    const fromName = this.ctx.id.name === undefined ? null : parseObjectName(this.ctx.id.name);
    const stored = this.ctx.storage.kv.get<MemberIdentity>(IDENTITY_KEY) ?? null;
    const identity = stored ?? fromName;
    if (identity === null) return null; // a fresh object: the first call says who it is
    // Kept even when the name gave it: an alarm or a stub made from the id's string wakes the object without its name.
    if (stored === null) this.ctx.storage.kv.put(IDENTITY_KEY, identity);
    this.identity = identity;
    return settingsFor(env as unknown as EdgeEnv, identity);
  }

  protected override transportFor(_settings: NodeSettings): NodeHooks['transport'] {
    const env = this.env as unknown as EdgeEnv;
    const identity = this.identity!;
    const parsed = edgeConfig(env);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const layout = parsed.settings.clusters.get(identity.cluster);
    if (layout === undefined) throw new Error(`cluster ${identity.cluster} is not in EDGE_CLUSTERS`);
    return (options) =>
      new StubTransport({
        ...options,
        cluster: identity.cluster,
        stubOf: (peer) => memberStub(env, layout, identity.cluster, peer),
        faults: () => linkFaultsOf(identity.cluster),
      });
  }

  /**
   * Make sure this object runs as member `who` (the front calls it once per
   * isolate and member before anything else). Refuses a name that is not its own.
   */
  async boot(who: MemberIdentity): Promise<{ cluster: string; id: string }> {
    await this.ensureIdentity(who);
    return { cluster: who.cluster, id: who.id };
  }

  /** Peer messages from a member of the same cluster (the stub transport's exchange); answers the replies. */
  async deliver(to: MemberIdentity, messages: Message[]): Promise<Message[]> {
    await this.ensureIdentity(to);
    // The same checks as the multi-port peer route: a peer may run another version of the script mid-deploy.
    const body = { messages };
    if (!isPeerRequest(body)) throw new Error('malformed peer messages');
    const problem = peerMessagesProblem(body.messages);
    if (problem !== null) throw new Error(`inconsistent peer messages: ${problem}`);
    if (body.messages.some((m) => m.to !== to.id)) throw new Error(`messages addressed to another member than ${to.id}`);
    return this.receive(body.messages);
  }

  /** Reset the object (admin and test route: what a crash of the machine holding it looks like). Storage stays. */
  async reset(reason: string): Promise<void> {
    this.ctx.abort(reason);
  }

  private async ensureIdentity(who: MemberIdentity): Promise<void> {
    if (!isClusterName(who.cluster) || !isMemberId(who.id)) throw new Error(`not a member name: ${JSON.stringify(who)}`);
    const name = objectName(who.cluster, who.id);
    if (this.ctx.id.name !== undefined && this.ctx.id.name !== name) {
      throw new Error(`this object is ${this.ctx.id.name}, not ${name}`);
    }
    if (this.identity !== undefined) {
      if (objectName(this.identity.cluster, this.identity.id) !== name) {
        throw new Error(`this object is ${objectName(this.identity.cluster, this.identity.id)}, not ${name}`);
      }
      if (this.booting !== null) await this.booting;
      return;
    }
    const settings = settingsFor(this.env as unknown as EdgeEnv, who);
    if (!settings.ok) throw new Error(settings.errors.join('; '));
    this.identity = { cluster: who.cluster, id: who.id };
    this.ctx.storage.kv.put(IDENTITY_KEY, this.identity);
    this.booting = this.ctx.blockConcurrencyWhile(() => this.start(settings.settings));
    await this.booting;
  }
}

/**
 * The node's vars for member `who`: the edge settings say who the initial
 * members are; a member not among them starts empty and waits to be added
 * (RaftConfig.join), as a node started with JOIN does.
 */
export function settingsFor(env: EdgeEnv, who: MemberIdentity): NodeConfigResult {
  const edge = edgeConfig(env);
  if (!edge.ok) return edge;
  const layout = edge.settings.clusters.get(who.cluster);
  if (layout === undefined) return { ok: false, errors: [`cluster ${who.cluster} is not in EDGE_CLUSTERS`] };
  const { members } = layout;
  const initial = members.includes(who.id);
  const peers = initial ? members.filter((m) => m !== who.id).map((m) => `${m}=${memberUrl(who.cluster, m)}`) : [];
  return parseNodeConfig({
    ...env,
    NODE_ID: who.id,
    NODE_URL: memberUrl(who.cluster, who.id),
    PEERS: peers.join(','),
    JOIN: initial ? undefined : memberUrl(who.cluster, members[0]!),
    CLUSTER_SECRET: UNUSED_SECRET,
    PEER_STREAMS: 'off',
    COALESCE_REQUESTS: 'off',
  });
}
