// `npm run bench -- --longevity`'s command line: the options of a run and their checks.
import { parseFlags, parseIntIn, parseOneOf, parsePort, UsageError } from '../../common/args';
import { logRetainRange, snapshotEveryRange } from '../../launcher/node-config';
import type { ClientKind } from '../options';

export interface LongevityOptions {
  writes: number;
  clients: number;
  valueSize: number;
  keys: number;
  sampleEvery: number;
  client: ClientKind;
  basePort: number;
  basePortExplicit: boolean;
  /** Parent of the cluster's data folder (default: the system temp folder). */
  dataDir: string | null;
  snapshotEvery: number | undefined;
  logRetain: number | undefined;
  keep: boolean;
  jsonPath: string | null;
  /** Milliseconds between samples of the data folders and RSS during the writes. */
  pollMs: number;
  /** Stop a follower at a quarter of the writes and start it again after them; time its catch-up. */
  catchUp: boolean;
  /** Write every key once, in order (a data set of --keys values), then read random keys back. */
  fill: boolean;
  /** Random reads after the writes (checked: each key is there with a value of the right length). */
  reads: number;
  /** Skip the full stop-and-start after the writes. */
  restart: boolean;
  /** With --fill: the first key written (a load split over several runs). */
  firstKey: number;
  /** Start on this cluster data folder (one --keep left) instead of a fresh one; it is kept. */
  resume: string | null;
}

export const longevityUsage = `npm run bench -- --longevity [options]

  --writes N           writes in total (default 1000000)
  --clients C          concurrent closed-loop clients (default 64)
  --value-size B       value length in bytes (default 100)
  --keys K             key space (default 10000)
  --sample-every S     writes per sample and throughput block (default 100000)
  --client K           raw (default), http or client (see npm run bench -- --help)
  --snapshot-every N   the nodes' SNAPSHOT_EVERY (default: the node's, 10000)
  --log-retain M       the nodes' LOG_RETAIN (default: the node's, 5000)
  --base-port P        first node port (default: the first free block from 18900)
  --data-dir DIR       parent of the cluster's data folder (default: the system temp folder)
  --poll-ms MS         sample data folders and RSS this often during the writes (default 1000)
  --catch-up           stop a follower after a quarter of the writes, start it again after them,
                       and time it to a snapshot install and the leader's applied index
  --fill               write each of --keys keys once, in order (--writes defaults to --keys),
                       then read random keys back: a data set of keys x value size
  --reads N            random reads after the writes, checked (default 0; 10000 with --fill)
  --first-key K        with --fill: start at key K (to load a data set over several runs)
  --resume DIR         start on a cluster data folder an earlier run kept (--keep) instead of
                       an empty one; its start is timed, and DIR is kept
  --no-restart         skip the full stop-and-start and the fresh start after the writes
  --keep               keep the data folder
  --json FILE          results file (default bench/results/longevity-<timestamp>.json)`;

export function parseLongevityOptions(argv: string[]): LongevityOptions | 'help' {
  const { values: v } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    longevity: { type: 'boolean' },
    writes: { type: 'string' },
    clients: { type: 'string' },
    'value-size': { type: 'string' },
    keys: { type: 'string' },
    'sample-every': { type: 'string' },
    client: { type: 'string' },
    'snapshot-every': { type: 'string' },
    'log-retain': { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean' },
    json: { type: 'string' },
    'poll-ms': { type: 'string' },
    'catch-up': { type: 'boolean' },
    fill: { type: 'boolean' },
    reads: { type: 'string' },
    'no-restart': { type: 'boolean' },
    'first-key': { type: 'string' },
    resume: { type: 'string' },
  });
  if (v.help) return 'help';
  const int = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number =>
    text === undefined ? fallback : parseIntIn(`--${flag}`, text, min, max);
  const fill = v.fill ?? false;
  const keys = int('keys', v.keys, 10_000, 1, 100_000_000);
  const firstKey = int('first-key', v['first-key'], 0, 0, keys - 1);
  const writes = int('writes', v.writes, fill ? keys - firstKey : 1_000_000, 1, 1_000_000_000);
  const o: LongevityOptions = {
    writes,
    clients: int('clients', v.clients, 64, 1, 1024),
    valueSize: int('value-size', v['value-size'], 100, 1, 65_536),
    keys,
    sampleEvery: int('sample-every', v['sample-every'], Math.min(100_000, writes), 1, 1_000_000_000),
    client: v.client === undefined ? 'raw' : parseOneOf('--client', v.client, ['client', 'http', 'raw'] as const),
    basePort: v['base-port'] === undefined ? 18_900 : parsePort('--base-port', v['base-port']),
    basePortExplicit: v['base-port'] !== undefined,
    dataDir: v['data-dir'] ?? null,
    snapshotEvery:
      v['snapshot-every'] === undefined ? undefined : parseIntIn('--snapshot-every', v['snapshot-every'], ...snapshotEveryRange),
    logRetain: v['log-retain'] === undefined ? undefined : parseIntIn('--log-retain', v['log-retain'], ...logRetainRange),
    keep: v.keep ?? false,
    jsonPath: v.json ?? null,
    pollMs: int('poll-ms', v['poll-ms'], 1000, 50, 60_000),
    catchUp: v['catch-up'] ?? false,
    fill,
    reads: int('reads', v.reads, fill ? 10_000 : 0, 0, 100_000_000),
    restart: !(v['no-restart'] ?? false),
    firstKey,
    resume: v.resume ?? null,
  };
  if (fill && firstKey + writes > keys)
    throw new UsageError(`--fill writes each key once: --first-key ${firstKey} + --writes ${writes} is more than --keys ${keys}`);
  if (!fill && v['first-key'] !== undefined) throw new UsageError('--first-key goes with --fill');
  if (o.resume === '') throw new UsageError('--resume needs a folder');
  if (o.catchUp && writes < 4) throw new UsageError('--catch-up needs at least 4 writes');
  if (o.dataDir === '') throw new UsageError('--data-dir needs a folder');
  if (o.jsonPath === '') throw new UsageError('--json needs a file name');
  if (o.sampleEvery > o.writes) throw new UsageError(`--sample-every ${o.sampleEvery} is more than --writes ${o.writes}`);
  return o;
}
