// `npm start`: a local cluster (3 nodes on 127.0.0.1:8787-8789 by default),
// state under .data/ so a restart keeps the data. Prints each node's URL, the
// leader once elected and every leader change; Ctrl-C stops everything.
// Commands typed on its standard input (add, remove, transfer, members) grow
// and shrink the running cluster (typed-commands.ts).
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { parseFlagMap, parseIntIn, parseOnOff, parsePort, parsePositive, UsageError } from '../common/args';
import { initialLayout, parseTyped, readLayout, typedHelp, type LayoutNode } from './cluster-layout';
import { logLevels, logRetainRange, snapshotEveryRange } from './node-config';
import { isAlive } from './procfs';
import { loadOrCreateSecret } from './secret';
import { agreedLeader, collectStatuses } from './status';
import type { Cluster, LaunchOptions } from './start-cluster';
import { defaultV8Flags, parseV8Flags } from './workerd-v8-flags';

const usage = `usage: npm start -- [options]
  --nodes N                  number of nodes (default 3)
  --base-port P              node i listens on P+i-1 (default 8787)
  --data DIR                 data folder (default .data); node data in DIR/<id>,
                             the cluster secret in DIR/cluster-secret, logs in DIR/logs/<id>.log
  --election-timeout-ms N    (default 400)
  --heartbeat-interval-ms N  (default 80)
  --request-timeout-ms N     (default 3000)
  --slowdown F               multiply every timeout by F (default 1)
  --log-level L              debug|info|warn|error (default info)
  --peer-streams on|off      peer messages over one WebSocket per peer (default on; off: POSTs only)
  --snapshot-every N         compact each node's log every N applied entries (default 10000)
  --log-retain M             entries kept in the log behind a compaction (default 5000)
  --v8-flags="F ..."         V8 flags for every node's workerd (default
                             "${defaultV8Flags.join(' ')}"; --v8-flags= for none)
  --mode M                   inprocess (one Miniflare per node, default) or process (one OS process per node)
  --verbose                  also print node logs here
  --help

Once it runs, type commands on its standard input to grow or shrink it:
${typedHelp.split('\n').slice(1).join('\n')}
The nodes it runs are then kept in DIR/cluster-nodes.json, which later starts
on the same data follow (and --nodes no longer decides).`;

const known = {
  nodes: 'string',
  'base-port': 'string',
  data: 'string',
  'election-timeout-ms': 'string',
  'heartbeat-interval-ms': 'string',
  'request-timeout-ms': 'string',
  slowdown: 'string',
  'log-level': 'string',
  'peer-streams': 'string',
  mode: 'string',
  'v8-flags': 'string',
  'snapshot-every': 'string',
  'log-retain': 'string',
  verbose: 'boolean',
  help: 'boolean',
} as const;

interface ClusterArgs {
  options: LaunchOptions;
  dataDir: string;
  verbose: boolean;
  nodesGiven: boolean;
}

function parseArgs(argv: string[]): ClusterArgs | null {
  const f = parseFlagMap(argv, known);
  if (f.has('help')) return null;
  const opt = <T>(name: string, parse: (what: string, text: string) => T): T | undefined => {
    const v = f.get(name);
    return v === undefined ? undefined : parse(`--${name}`, v);
  };
  const ms = (what: string, text: string): number => parseIntIn(what, text, 1, 3_600_000);
  const nodes = opt('nodes', (w, t) => parseIntIn(w, t, 1, 15)) ?? 3;
  const basePort = opt('base-port', parsePort) ?? 8787;
  if (basePort + nodes - 1 > 65535) throw new UsageError(`--base-port ${basePort} leaves no room for ${nodes} nodes`);
  const mode = f.get('mode') ?? 'inprocess';
  if (mode !== 'inprocess' && mode !== 'process') throw new UsageError(`--mode must be inprocess or process, got "${mode}"`);
  const logLevel = f.get('log-level');
  if (logLevel !== undefined && !(logLevels as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${logLevels.join('|')}, got "${logLevel}"`);
  }
  const electionTimeoutMs = opt('election-timeout-ms', ms);
  const heartbeatIntervalMs = opt('heartbeat-interval-ms', ms);
  if ((heartbeatIntervalMs ?? 80) * 2 > (electionTimeoutMs ?? 400)) {
    throw new UsageError('the heartbeat interval must be at most half the election timeout');
  }
  const dataDir = resolve(f.get('data') ?? '.data');
  return {
    dataDir,
    verbose: f.has('verbose'),
    nodesGiven: f.has('nodes'),
    options: {
      nodes,
      basePort,
      dataDir,
      mode,
      electionTimeoutMs,
      heartbeatIntervalMs,
      requestTimeoutMs: opt('request-timeout-ms', ms),
      slowdown: opt('slowdown', parsePositive),
      logLevel,
      peerStreams: opt('peer-streams', parseOnOff),
      v8Flags: opt('v8-flags', parseV8Flags),
      snapshotEvery: opt('snapshot-every', (w, t) => parseIntIn(w, t, ...snapshotEveryRange)),
      logRetain: opt('log-retain', (w, t) => parseIntIn(w, t, ...logRetainRange)),
    },
  };
}

/** Reads commands typed on standard input and runs them one after the other. */
function readTypedCommands(cluster: Cluster, dataDir: string, layout: LayoutNode[], used: Set<string>, isStopping: () => boolean): void {
  // terminal: false keeps the terminal in line mode, so Ctrl-C still signals the process.
  const rl = createInterface({ input: process.stdin, terminal: false });
  let queue: Promise<void> = Promise.resolve();
  rl.on('line', (line) => {
    const command = parseTyped(line);
    if (command === null) return;
    queue = queue.then(async () => {
      if (isStopping()) return;
      const { runTyped } = await import('./typed-commands');
      await runTyped({ cluster, dataDir, layout, used, print: (l) => console.log(l) }, command).catch((err: unknown) =>
        console.log(`${command.type}: ${(err as Error).message}`),
      );
    });
  });
}

/** Prints the leader whenever a majority agrees on a new one (or on none for a while). */
function watchLeader(cluster: Cluster, isStopping: () => boolean): void {
  let shown = '';
  let noLeaderSince = Date.now();
  const tick = async (): Promise<void> => {
    if (isStopping()) return;
    const statuses = await collectStatuses(cluster.members, 500);
    const leader = agreedLeader(statuses, cluster.members.length);
    if (isStopping()) return;
    if (leader) {
      const term = statuses.find((s) => s.id === leader.id)?.term;
      const key = `${leader.id}@${term}`;
      if (key !== shown) console.log(`leader: ${leader.id} ${leader.url} (term ${term})`);
      shown = key;
      noLeaderSince = Date.now();
    } else if (shown !== 'none' && Date.now() - noLeaderSince > 2000) {
      console.log('leader: none (no majority agrees on a leader)');
      shown = 'none';
    }
    setTimeout(() => void tick(), 250);
  };
  void tick();
}

async function main(): Promise<void> {
  let args: ClusterArgs | null;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`cluster: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (!args) {
    console.log(usage);
    return;
  }
  const { dataDir, verbose } = args;
  const { secret, created } = await loadOrCreateSecret(join(dataDir, 'cluster-secret'));
  // After the cluster grew or shrank, its node list decides which nodes run.
  let saved;
  try {
    saved = readLayout(dataDir);
  } catch (err) {
    process.stderr.write(`cluster: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const layout = saved?.nodes ?? initialLayout(args.options.nodes ?? 3, args.options.basePort ?? 8787);
  const used = new Set(saved?.used ?? layout.map((n) => n.id));
  if (saved && args.nodesGiven) console.log(`note: --nodes ignored; ${join(dataDir, 'cluster-nodes.json')} lists the nodes to run`);
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const logFiles = new Map<string, WriteStream>();
  const onLog = (id: string, line: string): void => {
    let file = logFiles.get(id);
    if (!file) {
      file = createWriteStream(join(dataDir, 'logs', `${id}.log`), { flags: 'a' });
      logFiles.set(id, file);
    }
    file.write(`${line}\n`);
    if (verbose) console.log(`[${id}] ${line}`);
  };

  // Listen for signals before the nodes start (see instance.ts on Miniflare's own handlers).
  let cluster: Cluster | null = null;
  let stopping = false;
  let firstSignalAt = 0;
  const stop = async (why: string): Promise<void> => {
    if (stopping) {
      // npm and tsx relay a Ctrl-C that the terminal already delivered, so
      // copies arrive within milliseconds: only a later one means "force".
      if (Date.now() - firstSignalAt < 2000) return;
      console.log('second signal: killing nodes now');
      process.exit(1); // the launcher's exit hook SIGKILLs every node
    }
    stopping = true;
    firstSignalAt = Date.now();
    if (!cluster) return; // still starting: stopped right after start-up
    console.log(`${why}: stopping the cluster`);
    const c = cluster;
    const pids = c.members.flatMap((m) => c.pids(m.id));
    await c.stop();
    const left = pids.filter(isAlive);
    for (const f of logFiles.values()) f.end();
    if (left.length) {
      console.log(`warning: processes still alive after stop: ${left.join(' ')}`);
      process.exit(1);
    }
    console.log('stopped');
    process.exit(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(sig));

  const t0 = performance.now();
  console.log(`starting ${layout.length} nodes (${args.options.mode}), data in ${dataDir}` + (created ? ' (new cluster secret)' : ''));
  try {
    // Imported here: Miniflare takes seconds to load, and option errors should be instant.
    const { startCluster } = await import('./start-cluster');
    cluster = await startCluster({ ...args.options, layout, secret, onLog });
  } catch (err) {
    process.stderr.write(`cluster: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) {
    stopping = false;
    await stop('signal during start-up');
    return;
  }
  for (const m of cluster.members) console.log(`node ${m.id} ${m.url}`);
  console.log(`all nodes up in ${Math.round(performance.now() - t0)} ms; logs in ${join(dataDir, 'logs')}; Ctrl-C to stop`);
  console.log('type help (then Enter) for commands that grow or shrink the cluster: add, remove, transfer, members');
  watchLeader(cluster, () => stopping);
  readTypedCommands(cluster, dataDir, layout, used, () => stopping);
}

main().catch((err: unknown) => {
  process.stderr.write(`cluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
