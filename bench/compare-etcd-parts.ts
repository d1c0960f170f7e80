// The parts of `npm run bench -- --compare etcd` that need no cluster: its
// command line, the etcd members' command lines, and the medians and ratios
// of what the rounds measured. The runner is compare-etcd.ts.
import { parseFlags, parseIntIn, parseNonNegative, parsePort, parsePositive, UsageError } from '../common/args';
import { parseV8Flags } from '../launcher/workerd-v8-flags';
import { median } from './stats';

export interface CompareOptions {
  rounds: number;
  concurrency: number[];
  durationS: number;
  warmupS: number;
  valueSize: number;
  keys: number;
  /** First port of the raft-kv nodes (3 ports). */
  basePort: number;
  /** First port of the etcd members (2 per member: client, peer). */
  etcdPort: number;
  /** The etcd binary. */
  etcdBin: string;
  v8Flags: string[] | undefined;
  /** The load generator's client for raft-kv: raw HTTP/1.1 (as etcd's) or a client socket (docs/client-sockets.md). */
  client: 'raw' | 'ws';
  /** Start both clusters anew (empty data) for every round. */
  fresh: boolean;
  jsonPath: string | null;
}

export const compareUsage = `npm run bench -- --compare etcd [options]

Starts a 3-node raft-kv cluster (three \`npm run node\` processes) and a 3-member
etcd (Debian's etcd-server package) on loopback, and runs the same closed-loop
load against both in alternating rounds: writes, then linearizable reads, at
each concurrency. Prints the medians, raft-kv / etcd ratios, and the memory of
both clusters' whole process trees after the load.

  --rounds N               alternating rounds (default 3)
  --concurrency 1,64       closed-loop clients per level (default 1,64)
  --duration S             seconds measured per level (default 5)
  --warmup S               seconds of unmeasured load before each level (default 1)
  --value-size B           value length in bytes (default 100)
  --keys K                 key space (default 1000)
  --base-port P            raft-kv nodes on P..P+2 (default 18960)
  --etcd-port P            etcd members on P..P+5, client and peer port each (default 23790)
  --etcd PATH              the etcd binary (default /usr/bin/etcd; install: apt-get install -y etcd-server)
  --v8-flags="F ..."       V8 flags for the raft-kv nodes' workerds (default: the launcher's)
  --client raw|ws          raft-kv's load client: raw HTTP/1.1 on one socket per client (default; etcd's
                           client is the same code), or ws: one client socket per client into the node's
                           Durable Object (docs/client-sockets.md). The output names the one used.
  --fresh                  start both clusters anew, on empty data, for every round: one start of the
                           same cluster can run 30 % faster or slower than the next, and without this
                           all rounds share one start's luck (memory is then read after one round's
                           load, where etcd, whose memory grows with its history, is lower)
  --json FILE              results file (default bench/results/compare-etcd-<timestamp>.json)`;

function positiveInt(flag: string, text: string): number {
  return parseIntIn(flag, text, 1, Number.MAX_SAFE_INTEGER);
}

export function parseCompareOptions(argv: string[]): CompareOptions | 'help' {
  const { values: v } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    compare: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'value-size': { type: 'string' },
    keys: { type: 'string' },
    'base-port': { type: 'string' },
    'etcd-port': { type: 'string' },
    etcd: { type: 'string' },
    'v8-flags': { type: 'string' },
    client: { type: 'string' },
    fresh: { type: 'boolean' },
    json: { type: 'string' },
  });
  if (v.help) return 'help';
  if (v.compare !== 'etcd') throw new UsageError(`--compare: only "etcd" is supported, got "${v.compare ?? ''}"`);
  const o: CompareOptions = {
    rounds: 3,
    concurrency: [1, 64],
    durationS: 5,
    warmupS: 1,
    valueSize: 100,
    keys: 1000,
    basePort: 18960,
    etcdPort: 23790,
    etcdBin: '/usr/bin/etcd',
    v8Flags: undefined,
    client: 'raw',
    fresh: v.fresh === true,
    jsonPath: null,
  };
  if (v.rounds !== undefined) o.rounds = positiveInt('--rounds', v.rounds);
  if (v.concurrency !== undefined) o.concurrency = v.concurrency.split(',').map((s) => positiveInt('--concurrency', s.trim()));
  if (v.duration !== undefined) o.durationS = parsePositive('--duration', v.duration);
  if (v.warmup !== undefined) o.warmupS = parseNonNegative('--warmup', v.warmup);
  if (v['value-size'] !== undefined) o.valueSize = positiveInt('--value-size', v['value-size']);
  if (v.keys !== undefined) o.keys = positiveInt('--keys', v.keys);
  if (v['base-port'] !== undefined) o.basePort = parsePort('--base-port', v['base-port']);
  if (v['etcd-port'] !== undefined) o.etcdPort = parsePort('--etcd-port', v['etcd-port']);
  if (v.etcd !== undefined) {
    if (v.etcd === '') throw new UsageError('--etcd needs the path of the etcd binary');
    o.etcdBin = v.etcd;
  }
  if (v['v8-flags'] !== undefined) o.v8Flags = parseV8Flags('--v8-flags', v['v8-flags']);
  if (v.client !== undefined) {
    if (v.client !== 'raw' && v.client !== 'ws') throw new UsageError(`--client must be raw or ws, got "${v.client}"`);
    o.client = v.client;
  }
  if (v.json !== undefined) {
    if (v.json === '') throw new UsageError('--json needs a file name');
    o.jsonPath = v.json;
  }
  if (o.basePort + 2 > 65535) throw new UsageError(`--base-port ${o.basePort} leaves no room for 3 nodes`);
  if (o.etcdPort + 5 > 65535) throw new UsageError(`--etcd-port ${o.etcdPort} leaves no room for 3 members`);
  const [lo, hi] = [Math.min(o.basePort, o.etcdPort), Math.max(o.basePort, o.etcdPort)];
  if (hi <= lo + (lo === o.basePort ? 2 : 5)) throw new UsageError('--base-port and --etcd-port ranges overlap');
  return o;
}

/** What a user without etcd should do. */
export const etcdMissingMessage = (bin: string): string =>
  `etcd not found at ${bin}. Install Debian's etcd-server package:\n  sudo apt-get install -y etcd-server\n` +
  `or pass --etcd /path/to/etcd.`;

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
}

/** Member i (from 0) of a 3-member loopback cluster: client port etcdPort+2i, peer port etcdPort+2i+1. */
export function etcdMembers(etcdPort: number, count = 3): EtcdMember[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `m${i + 1}`,
    clientUrl: `http://127.0.0.1:${etcdPort + 2 * i}`,
    peerUrl: `http://127.0.0.1:${etcdPort + 2 * i + 1}`,
  }));
}

/**
 * The flags of one member of a new cluster. etcd's defaults otherwise: every
 * write fsynced to its WAL before the answer, as raft-kv does; heartbeat
 * 100 ms and election timeout 1 s (raft-kv: 80 and 400-800 ms).
 */
export function etcdArgs(member: EtcdMember, all: EtcdMember[], dataDir: string): string[] {
  return [
    '--name',
    member.name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    member.clientUrl,
    '--advertise-client-urls',
    member.clientUrl,
    '--listen-peer-urls',
    member.peerUrl,
    '--initial-advertise-peer-urls',
    member.peerUrl,
    '--initial-cluster',
    all.map((m) => `${m.name}=${m.peerUrl}`).join(','),
    '--initial-cluster-token',
    'raft-kv-compare',
    '--initial-cluster-state',
    'new',
    '--logger',
    'zap',
    '--log-level',
    'warn',
  ];
}

export type System = 'raft-kv' | 'etcd';
export type Op = 'write' | 'read';

export interface CompareSample {
  system: System;
  round: number;
  op: Op;
  concurrency: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** raft-kv first in odd rounds, etcd first in even ones. */
export function systemOrder(round: number): [System, System] {
  return round % 2 === 1 ? ['raft-kv', 'etcd'] : ['etcd', 'raft-kv'];
}

export interface LevelComparison {
  op: Op;
  concurrency: number;
  raftKv: { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; rounds: number };
  etcd: { opsPerSec: number; p50Ms: number; p99Ms: number; errors: number; rounds: number };
  /** raft-kv over etcd, of the medians. */
  ratio: { opsPerSec: number; p50Ms: number };
}

export function compareLevels(samples: CompareSample[]): LevelComparison[] {
  const levels: { op: Op; concurrency: number }[] = [];
  for (const s of samples) if (!levels.some((l) => l.op === s.op && l.concurrency === s.concurrency)) levels.push(s);
  return levels.map(({ op, concurrency }) => {
    const side = (system: System): LevelComparison['raftKv'] => {
      const of = samples.filter((s) => s.system === system && s.op === op && s.concurrency === concurrency);
      return {
        opsPerSec: median(of.map((s) => s.opsPerSec)),
        p50Ms: median(of.map((s) => s.p50Ms)),
        p99Ms: median(of.map((s) => s.p99Ms)),
        errors: of.reduce((n, s) => n + s.errors, 0),
        rounds: of.length,
      };
    };
    const raftKv = side('raft-kv');
    const etcd = side('etcd');
    return { op, concurrency, raftKv, etcd, ratio: { opsPerSec: raftKv.opsPerSec / etcd.opsPerSec, p50Ms: raftKv.p50Ms / etcd.p50Ms } };
  });
}

export interface ClusterMemory {
  rssMiB: number;
  pssMiB: number;
  processes: number;
}

const num = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';
const ratio = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');

/** The comparison as a Markdown table: medians per level, the ratio, and memory. */
export function formatComparison(levels: LevelComparison[], memory: { raftKv: ClusterMemory; etcd: ClusterMemory } | null): string {
  const rows = ['| | clients | raft-kv | etcd | raft-kv / etcd |', '|---|---|---|---|---|'];
  for (const l of levels) {
    const what = l.op === 'write' ? 'writes/s' : 'linearizable reads/s';
    rows.push(`| ${what} | ${l.concurrency} | ${num(l.raftKv.opsPerSec)} | ${num(l.etcd.opsPerSec)} | ${ratio(l.ratio.opsPerSec)} |`);
    rows.push(`| ${l.op} p50 ms | ${l.concurrency} | ${num(l.raftKv.p50Ms, 2)} | ${num(l.etcd.p50Ms, 2)} | ${ratio(l.ratio.p50Ms)} |`);
  }
  if (memory) {
    const m = (c: ClusterMemory, k: 'rssMiB' | 'pssMiB'): string => `${num(c[k])} MiB`;
    rows.push(
      `| memory after the load, RSS (${memory.raftKv.processes} / ${memory.etcd.processes} processes) | | ${m(memory.raftKv, 'rssMiB')} | ${m(memory.etcd, 'rssMiB')} | ${ratio(memory.raftKv.rssMiB / memory.etcd.rssMiB)} |`,
    );
    rows.push(
      `| memory after the load, PSS | | ${m(memory.raftKv, 'pssMiB')} | ${m(memory.etcd, 'pssMiB')} | ${ratio(memory.raftKv.pssMiB / memory.etcd.pssMiB)} |`,
    );
  }
  const errors = levels.reduce((n, l) => n + l.raftKv.errors + l.etcd.errors, 0);
  return `${rows.join('\n')}\n\nMedians of ${levels[0]?.raftKv.rounds ?? 0} alternating rounds; failed operations: ${errors}.`;
}
