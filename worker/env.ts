// The bindings a node's Worker receives: the Durable Object namespace that
// holds the node, and the configuration vars (wrangler [vars], `--var`, or
// Miniflare `bindings`). Vars are strings; node-config.ts parses and checks them.
import type { RaftNodeObject } from './node/node-object';

/** Names of the configuration vars, in the order they are documented. */
export const configVarNames = [
  'NODE_ID',
  'NODE_URL',
  'PEERS',
  'CLUSTER_SECRET',
  'ADMIN_TOKEN',
  'JOIN',
  'PEER_ROUTES',
  'ELECTION_TIMEOUT_MS',
  'HEARTBEAT_INTERVAL_MS',
  'REQUEST_TIMEOUT_MS',
  'SLOWDOWN',
  'LOG_LEVEL',
  'COALESCE_REQUESTS',
  'PEER_STREAMS',
  'SNAPSHOT_EVERY',
  'LOG_RETAIN',
] as const;

export type ConfigVarName = (typeof configVarNames)[number];

/** The raw configuration: every var may be missing, since a launcher may forget one. */
export type ConfigVars = { [K in ConfigVarName]?: string };

export interface Env extends ConfigVars {
  /** One object per node, named "node" (see worker/front/index.ts). */
  RAFT_NODE: DurableObjectNamespace<RaftNodeObject>;
}
