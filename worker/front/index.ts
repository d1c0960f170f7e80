// The Worker's entry: the HTTP app, served from this node's single Durable
// Object. Every request of this Worker goes to the same object, so the node
// is one Raft member however many isolates the runtime starts.
import { createApp } from '../api/app';
import type { Env } from '../env';
import type { NodeApi, ReadOutcome, TimedOut, WriteOutcome } from '../node-api';
import type { KvRequest } from '../kv/commands';
import { Coalescer, type KeepAlive } from './coalesce';
import { parseNodeConfig } from '../node/config';
import { isLogLevel, jsonLogger, type Logger } from '../raft/logger';
import { coalescingFamilies } from '../metrics/coalescing';

export { RaftNodeObject } from '../node/node-object';

/** The name of the node's object; fixed, so a restart finds the same storage. */
const NODE_OBJECT_NAME = 'node';

/** The object's id per namespace: idFromName hashes the name, so it is worked out once. */
const nodeIds = new WeakMap<Env['RAFT_NODE'], DurableObjectId>();

/**
 * Per namespace (so per isolate): the queues where concurrent requests wait to
 * share a call, or null when COALESCE_REQUESTS is off (each request makes its own).
 */
interface Coalescers {
  writes: Coalescer<KvRequest, WriteOutcome>;
  reads: Coalescer<string, ReadOutcome>;
}
const coalescers = new WeakMap<Env['RAFT_NODE'], Coalescers | null>();

/** Most requests in one call to the node. */
const MAX_BATCH = 128;

/** Most calls of each kind (writes, reads) in flight to the node at once; later requests gather while it is out (bench/README.md). */
const CALLS_IN_FLIGHT = 1;

function coalescersOf(env: Env): Coalescers | null {
  let found = coalescers.get(env.RAFT_NODE);
  if (found === undefined) {
    // A bad configuration is reported by the node itself; here it only means no coalescing.
    const parsed = parseNodeConfig(env);
    found = parsed.ok && parsed.settings.coalesceRequests ? makeCoalescers(parsed.settings.requestTimeoutMs) : null;
    coalescers.set(env.RAFT_NODE, found);
  }
  return found;
}

function makeCoalescers(nodeTimeoutMs: number): Coalescers {
  // The node answers every request within its own request timeout; a queued
  // request gives up only well after that, if the request carrying its batch
  // was cut short. Its outcome is then unknown, as after any timeout.
  const waitLimitMs = 2 * nodeTimeoutMs + 1000;
  const gaveUp = (): TimedOut => ({ type: 'timeout' });
  const options = { maxBatch: MAX_BATCH, maxInflight: CALLS_IN_FLIGHT, waitLimitMs, staleQueueMs: nodeTimeoutMs, gaveUp };
  return {
    writes: new Coalescer<KvRequest, WriteOutcome>(options),
    reads: new Coalescer<string, ReadOutcome>(options),
  };
}

function nodeOf(env: Env, keepAlive?: KeepAlive): NodeApi {
  const ns = env.RAFT_NODE;
  let id = nodeIds.get(ns);
  if (id === undefined) {
    id = ns.idFromName(NODE_OBJECT_NAME);
    nodeIds.set(ns, id);
  }
  const stub = ns.get(id);
  const queues = coalescersOf(env);
  if (queues === null) return stub;
  return {
    write: (req) => queues.writes.call(req, (reqs) => stub.writeBatch(reqs), keepAlive),
    read: (key) => queues.reads.call(key, (keys) => stub.readBatch(keys), keepAlive),
    receive: (messages) => stub.receive(messages),
    fetch: (request) => stub.fetch(request),
    status: async () => ({ ...(await stub.status()), coalesced: { writes: queues.writes.stats, reads: queues.reads.stats } }),
    metrics: async () => [...(await stub.metrics()), ...coalescingFamilies({ writes: queues.writes.stats, reads: queues.reads.stats })],
    view: () => stub.view(),
    changeMembership: (change) => stub.changeMembership(change),
    transferLeadership: (id) => stub.transferLeadership(id),
  };
}

function loggerOf(env: Env): Logger {
  const level = env.LOG_LEVEL !== undefined && isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info';
  return jsonLogger(level, { node: env.NODE_ID ?? '?', source: 'http' }, (line) => console.log(line));
}

const app = createApp<Env>({
  node: nodeOf,
  clusterSecret: (env) => env.CLUSTER_SECRET ?? '',
  adminToken: (env) => env.ADMIN_TOKEN?.trim() ?? '',
  logger: loggerOf,
});

export default app satisfies ExportedHandler<Env>;
