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

function nodeOf(env: Env): NodeApi {
  return env.RAFT_NODE.get(env.RAFT_NODE.idFromName(NODE_OBJECT_NAME));
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
