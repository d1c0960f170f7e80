// Command line and environment of `npm run node` / `npm run server`
// (launcher/node-process.ts), resolved into one node's settings.
import { dirname, join, resolve } from 'node:path';
import { parseFlagMap, parseIntIn, parseOnOff, parsePort, parsePositive, UsageError } from '../common/args';
import {
  isHttpUrl,
  logLevels,
  logRetainRange,
  parsePeers,
  snapshotEveryRange,
  stripSlash,
  type Member,
  type NodeSettings,
} from './node-config';
import { defaultV8Flags, parseV8Flags } from './workerd-v8-flags';
import { loadOrCreateSecret } from './secret';

export const nodeUsage = `usage: npm run node -- --id n1 --port 8787 --peers n2=http://127.0.0.1:8788,n3=http://127.0.0.1:8789 --data .data/n1 [options]
   or: PORT=8787 OTHER_PORTS=8788,8789 PERSISTENCE_FILE_PATH=.data/n1 LOG_LEVEL=info npm run server

  --id ID                    node id (env NODE_ID; default n<port>)
  --port PORT                port to listen on (env PORT; required)
  --host HOST                interface to listen on (env NODE_HOST; default 127.0.0.1)
  --url URL                  advertised URL (env NODE_URL; default http://<host>:<port>)
  --peers id=url,...         the other members (env PEERS, or OTHER_PORTS=p1,p2 for ids n<port>
                             on 127.0.0.1); --peers= (empty) runs a single-node cluster
  --join URL                 join the running cluster that URL's node belongs to (env JOIN),
                             instead of --peers: the node starts with no configuration and
                             waits, never campaigning, until the leader sends one naming it.
                             It does not add itself; it prints the \`add\` command to run
  --peer-routes key=url,...  send peer traffic for a member to url instead of its configured URL
                             (env PEER_ROUTES); key is a member id or a member's URL, so a route
                             also covers members added later (a proxy, a NAT, a tunnel)
  --admin-token T            token of the admin API (env ADMIN_TOKEN; default: the cluster secret)
  --data DIR                 this node's data folder (env PERSISTENCE_FILE_PATH or DATA_DIR;
                             default .data/<id>)
  --secret S                 cluster secret (env CLUSTER_SECRET); default: read from
                             <parent of data folder>/cluster-secret, created 0600 if absent
  --secret-file FILE         read (or create) the secret in FILE instead
  --election-timeout-ms N    (env ELECTION_TIMEOUT_MS; default 400)
  --heartbeat-interval-ms N  (env HEARTBEAT_INTERVAL_MS; default 80)
  --request-timeout-ms N     (env REQUEST_TIMEOUT_MS; default 3000)
  --slowdown F               multiply every timeout by F (env SLOWDOWN; default 1)
  --log-level L              debug|info|warn|error (env LOG_LEVEL; default info)
  --peer-streams on|off      peer messages over one WebSocket per peer (env PEER_STREAMS; default on)
  --snapshot-every N         compact the log every N applied entries (env SNAPSHOT_EVERY; default 10000)
  --log-retain M             entries kept in the log behind a compaction (env LOG_RETAIN; default 5000)
  --v8-flags="F ..."         V8 flags for this node's workerd (env V8_FLAGS; default
                             "${defaultV8Flags.join(' ')}"; --v8-flags= for none)
  --help`;

const known = {
  id: 'string',
  port: 'string',
  host: 'string',
  url: 'string',
  peers: 'string',
  join: 'string',
  'peer-routes': 'string',
  'admin-token': 'string',
  data: 'string',
  secret: 'string',
  'secret-file': 'string',
  'election-timeout-ms': 'string',
  'heartbeat-interval-ms': 'string',
  'request-timeout-ms': 'string',
  slowdown: 'string',
  'log-level': 'string',
  'peer-streams': 'string',
  'v8-flags': 'string',
  'snapshot-every': 'string',
  'log-retain': 'string',
  help: 'boolean',
} as const;

export type NodeArgs =
  | { help: true }
  | {
      help: false;
      /** Everything but the secret. */
      settings: Omit<NodeSettings, 'secret'>;
      /** Either the secret itself, or the file to read or create it in. */
      secret: { value: string } | { file: string };
    };

const defaultElectionTimeoutMs = 400;
const defaultHeartbeatIntervalMs = 80;

/** Flags win over environment variables. Throws UsageError. */
export function parseNodeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeArgs {
  const flags = parseFlagMap(argv, known);
  if (flags.has('help')) return { help: true };
  const pick = (flag: string, ...vars: string[]): { what: string; value: string } | undefined => {
    const f = flags.get(flag);
    if (f !== undefined) return { what: `--${flag}`, value: f };
    for (const v of vars) {
      const e = env[v];
      if (e !== undefined && e !== '') return { what: v, value: e };
    }
    return undefined;
  };

  const portArg = pick('port', 'PORT');
  if (!portArg) throw new UsageError('missing --port (or PORT)');
  const port = parsePort(portArg.what, portArg.value);

  const id = pick('id', 'NODE_ID')?.value ?? `n${port}`;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError(`node id "${id}" must be 1-64 letters, digits, "_", "." or "-"`);

  const host = pick('host', 'NODE_HOST')?.value ?? '127.0.0.1';
  const urlArg = pick('url', 'NODE_URL');
  const advertisedHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = stripSlash(urlArg?.value ?? `http://${advertisedHost}:${port}`);
  if (!isHttpUrl(url)) throw new UsageError(`${urlArg?.what ?? '--url'} is not an http(s) URL: "${url}"`);

  const joinArg = pick('join', 'JOIN');
  const joinUrl = joinArg === undefined ? undefined : stripSlash(joinArg.value);
  if (joinUrl !== undefined && !isHttpUrl(joinUrl)) throw new UsageError(`${joinArg!.what} is not an http(s) URL: "${joinUrl}"`);
  if (joinUrl !== undefined && (flags.has('peers') || env.PEERS !== undefined || env.OTHER_PORTS !== undefined)) {
    throw new UsageError('give either --join or --peers (a joining node learns its peers from the cluster)');
  }
  const peers = joinUrl !== undefined ? [] : resolvePeers(flags.get('peers'), env);
  for (const p of peers) {
    if (p.id === id) throw new UsageError(`peer list contains this node's own id "${id}"`);
    if (p.url === url) throw new UsageError(`peer "${p.id}" has this node's own URL ${url}`);
  }

  const dataDir = resolve(pick('data', 'PERSISTENCE_FILE_PATH', 'DATA_DIR')?.value ?? join('.data', id));

  const num = (flag: string, envName: string): number | undefined => {
    const a = pick(flag, envName);
    return a === undefined ? undefined : parseIntIn(a.what, a.value, 1, 3_600_000);
  };
  const electionTimeoutMs = num('election-timeout-ms', 'ELECTION_TIMEOUT_MS');
  const heartbeatIntervalMs = num('heartbeat-interval-ms', 'HEARTBEAT_INTERVAL_MS');
  const requestTimeoutMs = num('request-timeout-ms', 'REQUEST_TIMEOUT_MS');
  const election = electionTimeoutMs ?? defaultElectionTimeoutMs;
  const heartbeat = heartbeatIntervalMs ?? defaultHeartbeatIntervalMs;
  if (heartbeat * 2 > election) {
    throw new UsageError(`heartbeat interval (${heartbeat} ms) must be at most half the election timeout (${election} ms)`);
  }
  const slowdownArg = pick('slowdown', 'SLOWDOWN');
  const slowdown = slowdownArg ? parsePositive(slowdownArg.what, slowdownArg.value) : undefined;
  const logArg = pick('log-level', 'LOG_LEVEL');
  const logLevel = logArg?.value.toLowerCase();
  if (logArg && !(logLevels as readonly string[]).includes(logLevel!)) {
    throw new UsageError(`${logArg.what} must be one of ${logLevels.join('|')}, got "${logArg.value}"`);
  }

  const streamsArg = pick('peer-streams', 'PEER_STREAMS');
  const peerStreams = streamsArg ? parseOnOff(streamsArg.what, streamsArg.value) : undefined;

  const snapshotArg = pick('snapshot-every', 'SNAPSHOT_EVERY');
  const snapshotEvery = snapshotArg ? parseIntIn(snapshotArg.what, snapshotArg.value, ...snapshotEveryRange) : undefined;
  const retainArg = pick('log-retain', 'LOG_RETAIN');
  const logRetain = retainArg ? parseIntIn(retainArg.what, retainArg.value, ...logRetainRange) : undefined;

  // Unlike pick(), an empty value counts: --v8-flags= (or V8_FLAGS="") means no flags.
  const v8Given = flags.get('v8-flags') ?? env.V8_FLAGS;
  const v8Flags = v8Given === undefined ? undefined : parseV8Flags(flags.has('v8-flags') ? '--v8-flags' : 'V8_FLAGS', v8Given);

  const routesArg = pick('peer-routes', 'PEER_ROUTES');
  const peerRoutes = routesArg === undefined ? undefined : checkRoutes(routesArg.what, routesArg.value);

  const adminArg = pick('admin-token', 'ADMIN_TOKEN');
  if (adminArg && adminArg.value.length < 8) throw new UsageError(`${adminArg.what} must be at least 8 characters`);
  const adminToken = adminArg?.value;

  const secretArg = pick('secret', 'CLUSTER_SECRET');
  const secretFile = flags.get('secret-file');
  if (secretArg && secretFile !== undefined) throw new UsageError('give either a secret or --secret-file, not both');
  if (secretArg && secretArg.value.length < 8) throw new UsageError(`${secretArg.what} must be at least 8 characters`);
  const secret = secretArg ? { value: secretArg.value } : { file: resolve(secretFile ?? join(dirname(dataDir), 'cluster-secret')) };

  return {
    help: false,
    settings: {
      id,
      host,
      port,
      url,
      peers,
      dataDir,
      electionTimeoutMs,
      heartbeatIntervalMs,
      requestTimeoutMs,
      slowdown,
      logLevel,
      peerStreams,
      v8Flags,
      snapshotEvery,
      logRetain,
      ...(joinUrl !== undefined ? { join: joinUrl } : {}),
      ...(adminToken !== undefined ? { adminToken } : {}),
      ...(peerRoutes !== undefined ? { peerRoutes } : {}),
    },
    secret,
  };
}

/** The node checks PEER_ROUTES itself; catch a malformed list here so the launcher fails at once, naming the flag. */
function checkRoutes(what: string, text: string): string {
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0 || !isHttpUrl(item.slice(eq + 1).trim()))
      throw new UsageError(`${what}: "${item}" is not of the form key=http://host:port`);
  }
  return text;
}

function resolvePeers(flag: string | undefined, env: NodeJS.ProcessEnv): Member[] {
  const wrap = (what: string, text: string): Member[] => {
    try {
      return parsePeers(text);
    } catch (err) {
      throw new UsageError(`${what}: ${(err as Error).message}`);
    }
  };
  if (flag !== undefined) return wrap('--peers', flag);
  if (env.PEERS !== undefined) return wrap('PEERS', env.PEERS);
  if (env.OTHER_PORTS !== undefined) {
    const ports = env.OTHER_PORTS.split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const list = ports.map((p) => {
      const port = parsePort('OTHER_PORTS', p);
      return `n${port}=http://127.0.0.1:${port}`;
    });
    return wrap('OTHER_PORTS', list.join(','));
  }
  throw new UsageError('missing --peers id=url,... (or PEERS, or OTHER_PORTS); use --peers= for a single-node cluster');
}

/**
 * A node command's settings from its argv, with the cluster secret loaded (or
 * created). Prints the usage and returns null for --help; a usage error ends
 * the process with code 2, naming `who`.
 */
export async function nodeSettingsFromArgs(argv: string[], who: string): Promise<NodeSettings | null> {
  let args;
  try {
    args = parseNodeArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${who}: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${nodeUsage}\n`);
    return null;
  }
  if ('value' in args.secret) return { ...args.settings, secret: args.secret.value };
  const loaded = await loadOrCreateSecret(args.secret.file);
  process.stderr.write(`${who}: cluster secret ${loaded.created ? 'created in' : 'read from'} ${args.secret.file}\n`);
  return { ...args.settings, secret: loaded.secret };
}
