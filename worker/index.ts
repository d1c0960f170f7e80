// The Worker's entry: the HTTP app, served from this node's single Durable
// Object. Every request of this Worker goes to the same object, so the node
// is one Raft member however many isolates the runtime starts.
import { createApp } from './api/app';
import type { Env } from './env';
import type { NodeApi } from './node-api';
import { isLogLevel, jsonLogger, type Logger } from './raft/logger';

export { RaftNodeObject } from './raft-node';

/** The name of the node's object; fixed, so a restart finds the same storage. */
const NODE_OBJECT_NAME = 'node';

/** The object's id per namespace: idFromName hashes the name, so it is worked out once. */
const nodeIds = new WeakMap<Env['RAFT_NODE'], DurableObjectId>();

function nodeOf(env: Env): NodeApi {
  const ns = env.RAFT_NODE;
  let id = nodeIds.get(ns);
  if (id === undefined) {
    id = ns.idFromName(NODE_OBJECT_NAME);
    nodeIds.set(ns, id);
  }
  return ns.get(id);
}

function loggerOf(env: Env): Logger {
  const level = env.LOG_LEVEL !== undefined && isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : 'info';
  return jsonLogger(level, { node: env.NODE_ID ?? '?', source: 'http' }, (line) => console.log(line));
}

const app = createApp<Env>({
  node: nodeOf,
  clusterSecret: (env) => env.CLUSTER_SECRET ?? '',
  logger: loggerOf,
});

export default app satisfies ExportedHandler<Env>;
