// The benchmark's command line: flags, defaults, and readable errors.
//
//   npm run bench -- [--nodes URLs | --start] [--cluster-size 1|3]
//     [--mode miniflare|process|wrangler] [--concurrency 1,8,64]
//     [--duration 10] [--warmup 2] [--value-size 100] [--keys 1000]
//     [--mix write=1.0 --mix read=1.0 ...] [--json out.json]
//     [--failover] [--failover-trials 5] [--runs N] [--base-port 18900]

import { defaultV8Flags, parseV8Flags } from '../launcher/workerd-v8-flags';

export type Mode = 'miniflare' | 'process' | 'wrangler';
/** The load generator's client: the project's RaftKvClient (on fetch), a lean node:http one, or HTTP/1.1 by hand on node:net. */
export type ClientKind = 'client' | 'http' | 'raw';

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

export class UsageError extends Error {}

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
                           (the cheapest: use it to measure the cluster rather than the load generator)
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
  --v8-flags "F ..."       V8 flags for a started cluster's workerds (default: the launcher's,
                           ${defaultV8Flags.join(' ')}; "" for none)
  --no-load                skip the load levels
  --quiet                  print only the summary tables`;

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

function positiveInt(flag: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got ${text}`);
  return n;
}

function v8FlagsArg(flag: string, text: string | undefined): string[] {
  if (text === undefined) throw new UsageError(`${flag} needs a value ("" for none)`);
  try {
    return parseV8Flags(flag, text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function nonNegativeNumber(flag: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !(n >= 0)) throw new UsageError(`${flag} needs a number >= 0, got ${text}`);
  return n;
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
  let started = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const eq = raw.indexOf('=');
    // --flag=value and --flag value are both accepted; --mix write=1 keeps its '='.
    const inline = raw.startsWith('--') && eq > 0 && raw.slice(0, eq) !== '--mix' ? raw.slice(eq + 1) : undefined;
    const flag = inline !== undefined ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--start':
        started = true;
        break;
      case '--nodes': {
        const v = value();
        if (!v) throw new UsageError('--nodes needs a comma-separated list of URLs');
        o.nodes = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      }
      case '--cluster-size':
        o.clusterSize = positiveInt(flag, value());
        break;
      case '--mode': {
        const v = value();
        if (v !== 'miniflare' && v !== 'process' && v !== 'wrangler') {
          throw new UsageError(`--mode must be miniflare, process or wrangler, got ${v}`);
        }
        o.mode = v;
        break;
      }
      case '--concurrency': {
        const v = value() ?? '';
        o.concurrency = v.split(',').map((s) => positiveInt('--concurrency', s.trim()));
        break;
      }
      case '--duration':
        o.durationS = nonNegativeNumber(flag, value());
        if (o.durationS === 0) throw new UsageError('--duration must be more than 0');
        break;
      case '--warmup':
        o.warmupS = nonNegativeNumber(flag, value());
        break;
      case '--value-size':
        o.valueSize = positiveInt(flag, value());
        break;
      case '--keys':
        o.keys = positiveInt(flag, value());
        break;
      case '--mix': {
        const v = value();
        if (!v) throw new UsageError('--mix needs a value such as write=1.0');
        for (const one of v.split(';')) if (one.trim() !== '') o.mixes.push(parseMix(one));
        break;
      }
      case '--client': {
        const v = value();
        if (v !== 'client' && v !== 'http' && v !== 'raw') throw new UsageError(`--client must be client, http or raw, got ${v}`);
        o.client = v;
        break;
      }
      case '--json': {
        const v = value();
        if (!v) throw new UsageError('--json needs a file name');
        o.jsonPath = v;
        break;
      }
      case '--failover':
        o.failover = true;
        break;
      case '--failover-trials':
        o.failoverTrials = positiveInt(flag, value());
        break;
      case '--runs':
        o.runs = positiveInt(flag, value());
        break;
      case '--base-port':
        o.basePort = positiveInt(flag, value());
        o.basePortExplicit = true;
        break;
      case '--data-dir': {
        const v = value();
        if (!v) throw new UsageError('--data-dir needs a folder');
        o.dataDir = v;
        break;
      }
      case '--idle':
        o.idleS = nonNegativeNumber(flag, value());
        break;
      case '--election-timeout-ms':
        o.electionTimeoutMs = positiveInt(flag, value());
        break;
      case '--heartbeat-interval-ms':
        o.heartbeatIntervalMs = positiveInt(flag, value());
        break;
      case '--log-level': {
        const v = value();
        if (v !== 'debug' && v !== 'info' && v !== 'warn' && v !== 'error') {
          throw new UsageError(`--log-level must be debug, info, warn or error, got ${v}`);
        }
        o.logLevel = v;
        break;
      }
      case '--v8-flags':
        o.v8Flags = v8FlagsArg(flag, value());
        break;
      case '--no-load':
        o.skipLoad = true;
        break;
      case '--quiet':
        o.quiet = true;
        break;
      default:
        throw new UsageError(`unknown argument "${raw}"`);
    }
  }
  if (started && o.nodes !== null) throw new UsageError('--start and --nodes exclude each other');
  if (o.mixes.length === 0) o.mixes = defaultMixes;
  if (o.nodes !== null && o.failover) throw new UsageError('--failover needs a cluster started by the benchmark (--start)');
  if (o.nodes !== null && o.runs > 1) throw new UsageError('--runs needs --start (each run starts a fresh cluster)');
  if (o.v8Flags !== undefined && (o.nodes !== null || o.mode === 'wrangler')) {
    throw new UsageError('--v8-flags applies to clusters the benchmark starts in miniflare or process mode (wrangler dev starts its own workerd)');
  }
  if (o.failover && o.clusterSize < 3) throw new UsageError('--failover needs --cluster-size 3 or more');
  if (o.basePort + 200 > 65535) throw new UsageError(`--base-port ${o.basePort} leaves no room for the ports a cluster needs`);
  return o;
}
