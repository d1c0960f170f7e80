// The benchmark's command line: flags, defaults, and readable errors.
//
//   npm run bench -- [--nodes URLs | --start] [--cluster-size 1|3]
//     [--mode miniflare|process|wrangler] [--concurrency 1,8,64]
//     [--duration 10] [--warmup 2] [--value-size 100] [--keys 1000]
//     [--mix write=1.0 --mix read=1.0 ...] [--json out.json]
//     [--failover] [--failover-trials 5] [--runs N] [--base-port 18900]

import { parseFlags, parseIntIn, parseNonNegative, parseOneOf, parsePort, parsePositive, UsageError } from '../common/args';
import { defaultV8Flags, parseV8Flags } from '../launcher/workerd-v8-flags';

export type Mode = 'miniflare' | 'process' | 'wrangler';
/**
 * The load generator's client: the project's RaftKvClient (on fetch), a lean node:http one, HTTP/1.1 by hand on
 * node:net, or a client socket into the node's object (docs/client-sockets.md).
 */
export type ClientKind = 'client' | 'http' | 'raw' | 'ws';
export const clientKinds = ['client', 'http', 'raw', 'ws'] as const;

/** One workload: the share of each operation, summing to 1. */
export interface Mix {
  write: number;
  read: number;
}

export interface BenchOptions {
  /** Running nodes to target; null means start a cluster (--start). */
  nodes: string[] | null;
  clusterSize: number;
  mode: Mode;
  concurrency: number[];
  durationS: number;
  warmupS: number;
  valueSize: number;
  keys: number;
  mixes: Mix[];
  client: ClientKind;
  /** Where the JSON goes; null means bench/results/<timestamp>.json. */
  jsonPath: string | null;
  failover: boolean;
  failoverTrials: number;
  runs: number;
  basePort: number;
  /** False when --base-port was not given: the benchmark may move to a free block of ports. */
  basePortExplicit: boolean;
  /** Parent folder of the nodes' data (default: a fresh temp folder). */
  dataDir: string | null;
  /** Seconds of idle CPU measured after start-up, as the baseline (heartbeats). */
  idleS: number;
  electionTimeoutMs: number | undefined;
  heartbeatIntervalMs: number | undefined;
  /** Node log level while benchmarking (debug makes the nodes log every message). */
  logLevel: string;
  /** V8 flags for a started cluster's workerds (undefined: the launcher's default). */
  v8Flags: string[] | undefined;
  /** Skip the load (only start-up, memory and failover). */
  skipLoad: boolean;
  quiet: boolean;
}

export const usage = `npm run bench -- [options]

  --start                  start a cluster (default unless --nodes is given)
  --nodes URL,URL,...      benchmark running nodes instead
  --cluster-size N         nodes to start (default 3)
  --mode M                 miniflare (default: one Miniflare instance per node in this process),
                           process (one node process per node), wrangler (one wrangler dev per node)
  --concurrency 1,8,64     closed-loop clients per level (default 1,8,64)
  --duration S             seconds measured per level (default 10)
  --warmup S               seconds of unmeasured load before each level (default 2)
  --value-size B           value length in bytes (default 100)
  --keys K                 key space (default 1000)
  --mix write=1.0          a workload; repeat the flag or separate with ';' (default: write=1.0 then read=1.0)
  --client K               client (default): the project's RaftKvClient, one per worker (on Node's fetch);
                           http: a lean node:http keep-alive client (a third of fetch's CPU, no gzip);
                           raw: HTTP/1.1 written and parsed by hand on one node:net socket per client and node
                           (the cheapest: use it to measure the cluster rather than the load generator);
                           ws: one client socket per client and node (GET /v1/socket), requests as frames
                           answered by the node's Durable Object with no Worker event (docs/client-sockets.md)
  --json FILE              results file (default bench/results/<timestamp>.json)
  --failover               also measure leader failover (needs a started cluster of 3+)
  --failover-trials N      failover trials (default 5)
  --runs N                 repeat everything N times on fresh clusters; medians are reported (default 1)
  --base-port P            first port of a started cluster (default: the first free block from 18900)
  --data-dir DIR           parent of the nodes' data folders (default: a fresh temp folder; try /dev/shm
                           to see what fsync costs)
  --idle S                 seconds of idle CPU measured after start-up as a baseline (default 2)
  --election-timeout-ms N  node setting for a started cluster (default: the node's own)
  --heartbeat-interval-ms N
  --log-level L            node log level (default warn)
  --v8-flags="F ..."      V8 flags for a started cluster's workerds (default: the launcher's,
                           ${defaultV8Flags.join(' ')}; "" for none)
  --no-load                skip the load levels
  --quiet                  print only the summary tables
  --longevity              a different benchmark: N writes, then a full restart (npm run bench -- --longevity --help)
  --compare etcd           raft-kv against a 3-member etcd, alternating rounds (npm run bench -- --compare etcd --help)`;

export const defaultMixes: Mix[] = [
  { write: 1, read: 0 },
  { write: 0, read: 1 },
];

export function parseMix(text: string): Mix {
  const mix: Mix = { write: 0, read: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*(write|read)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (!m) throw new UsageError(`--mix: "${part}" is not of the form write=0.5 or read=0.5`);
    mix[m[1] as keyof Mix] = Number(m[2]);
  }
  const total = mix.write + mix.read;
  if (!(total > 0)) throw new UsageError(`--mix "${text}": the shares must add up to more than 0`);
  return { write: mix.write / total, read: mix.read / total };
}

export function mixName(mix: Mix): string {
  if (mix.read === 0) return 'write';
  if (mix.write === 0) return 'read';
  return `write=${round2(mix.write)},read=${round2(mix.read)}`;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function positiveInt(flag: string, text: string): number {
  return parseIntIn(flag, text, 1, Number.MAX_SAFE_INTEGER);
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const o: BenchOptions = {
    nodes: null,
    clusterSize: 3,
    mode: 'miniflare',
    concurrency: [1, 8, 64],
    durationS: 10,
    warmupS: 2,
    valueSize: 100,
    keys: 1000,
    mixes: [],
    client: 'client',
    jsonPath: null,
    failover: false,
    failoverTrials: 5,
    runs: 1,
    basePort: 18900,
    basePortExplicit: false,
    dataDir: null,
    idleS: 2,
    electionTimeoutMs: undefined,
    heartbeatIntervalMs: undefined,
    logLevel: 'warn',
    v8Flags: undefined,
    skipLoad: false,
    quiet: false,
  };
  const { values: v } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    start: { type: 'boolean' },
    nodes: { type: 'string' },
    'cluster-size': { type: 'string' },
    mode: { type: 'string' },
    concurrency: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'value-size': { type: 'string' },
    keys: { type: 'string' },
    mix: { type: 'string', multiple: true },
    client: { type: 'string' },
    json: { type: 'string' },
    failover: { type: 'boolean' },
    'failover-trials': { type: 'string' },
    runs: { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    idle: { type: 'string' },
    'election-timeout-ms': { type: 'string' },
    'heartbeat-interval-ms': { type: 'string' },
    'log-level': { type: 'string' },
    'v8-flags': { type: 'string' },
    'no-load': { type: 'boolean' },
    quiet: { type: 'boolean' },
  });
  if (v.help) return 'help';
  const started = v.start ?? false;
  if (v.nodes !== undefined) {
    o.nodes = v.nodes
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (o.nodes.length === 0) throw new UsageError('--nodes needs a comma-separated list of URLs');
  }
  if (v['cluster-size'] !== undefined) o.clusterSize = positiveInt('--cluster-size', v['cluster-size']);
  if (v.mode !== undefined) o.mode = parseOneOf('--mode', v.mode, ['miniflare', 'process', 'wrangler'] as const);
  if (v.concurrency !== undefined) o.concurrency = v.concurrency.split(',').map((s) => positiveInt('--concurrency', s.trim()));
  if (v.duration !== undefined) o.durationS = parsePositive('--duration', v.duration);
  if (v.warmup !== undefined) o.warmupS = parseNonNegative('--warmup', v.warmup);
  if (v['value-size'] !== undefined) o.valueSize = positiveInt('--value-size', v['value-size']);
  if (v.keys !== undefined) o.keys = positiveInt('--keys', v.keys);
  for (const m of v.mix ?? []) {
    if (m.trim() === '') throw new UsageError('--mix needs a value such as write=1.0');
    for (const one of m.split(';')) if (one.trim() !== '') o.mixes.push(parseMix(one));
  }
  if (v.client !== undefined) o.client = parseOneOf('--client', v.client, clientKinds);
  if (v.json !== undefined) {
    if (v.json === '') throw new UsageError('--json needs a file name');
    o.jsonPath = v.json;
  }
  o.failover = v.failover ?? false;
  if (v['failover-trials'] !== undefined) o.failoverTrials = positiveInt('--failover-trials', v['failover-trials']);
  if (v.runs !== undefined) o.runs = positiveInt('--runs', v.runs);
  if (v['base-port'] !== undefined) {
    o.basePort = parsePort('--base-port', v['base-port']);
    o.basePortExplicit = true;
  }
  if (v['data-dir'] !== undefined) {
    if (v['data-dir'] === '') throw new UsageError('--data-dir needs a folder');
    o.dataDir = v['data-dir'];
  }
  if (v.idle !== undefined) o.idleS = parseNonNegative('--idle', v.idle);
  if (v['election-timeout-ms'] !== undefined) o.electionTimeoutMs = positiveInt('--election-timeout-ms', v['election-timeout-ms']);
  if (v['heartbeat-interval-ms'] !== undefined) o.heartbeatIntervalMs = positiveInt('--heartbeat-interval-ms', v['heartbeat-interval-ms']);
  if (v['log-level'] !== undefined) o.logLevel = parseOneOf('--log-level', v['log-level'], ['debug', 'info', 'warn', 'error'] as const);
  if (v['v8-flags'] !== undefined) o.v8Flags = parseV8Flags('--v8-flags', v['v8-flags']);
  o.skipLoad = v['no-load'] ?? false;
  o.quiet = v.quiet ?? false;
  if (started && o.nodes !== null) throw new UsageError('--start and --nodes exclude each other');
  if (o.mixes.length === 0) o.mixes = defaultMixes;
  if (o.nodes !== null && o.failover) throw new UsageError('--failover needs a cluster started by the benchmark (--start)');
  if (o.nodes !== null && o.runs > 1) throw new UsageError('--runs needs --start (each run starts a fresh cluster)');
  if (o.v8Flags !== undefined && (o.nodes !== null || o.mode === 'wrangler')) {
    throw new UsageError(
      '--v8-flags applies to clusters the benchmark starts in miniflare or process mode (wrangler dev starts its own workerd)',
    );
  }
  if (o.failover && o.clusterSize < 3) throw new UsageError('--failover needs --cluster-size 3 or more');
  if (o.basePort + 200 > 65535) throw new UsageError(`--base-port ${o.basePort} leaves no room for the ports a cluster needs`);
  return o;
}
