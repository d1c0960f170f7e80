// `npm run faults -- [--time 60] [--nodes 3|5] [--seed N] [--clients 5] [--keys 4] [--snapshot-every 20] [--log-retain 5] [--keep]`
// Exit code 0 when every check passed, 1 otherwise; the last line is a summary.
import { parseFlags, parseIntIn, parseOnOff, UsageError } from '../../common/args';
import { defaultOptions, killEverything, randomSeed, runFaults, type FaultRunOptions } from './run-faults';

const usage = `usage: npm run faults -- [--time SEC] [--nodes 3|5] [--seed N] [--clients N] [--keys N]
                        [--snapshot-every N] [--log-retain M] [--membership on|off] [--node-port P] [--proxy-port P] [--keep]
  --time        seconds of faults (default ${defaultOptions.timeSec})
  --nodes       cluster size (default ${defaultOptions.nodes})
  --seed        replays a run's random choices (default: random, printed)
  --clients     concurrent clients (default ${defaultOptions.clients})
  --keys        keys they share (default ${defaultOptions.keys})
  --snapshot-every  every node's SNAPSHOT_EVERY (default ${defaultOptions.snapshotEvery}: small, so snapshots are
                installed during faults; the summary counts them)
  --log-retain  every node's LOG_RETAIN (default ${defaultOptions.logRetain})
  --membership  the membership nemesis: nodes added (fresh processes with --join), promoted, removed
                and replaced alongside the faults (default on; needs 2 spare slots of ports)
  --node-port   first node port (default ${defaultOptions.nodeBasePort}); nodes use the next S-1 too
                (S slots: N+2 with the membership nemesis, else N)
  --proxy-port  first link-proxy port (default ${defaultOptions.proxyBasePort}); proxies use S*S ports
  --keep        keep the run folder (logs, data, history) even when the run passes
  --unsafe-amnesia  self-test of the checks: killed nodes restart with no data,
                which Raft does not survive; such a run is expected to fail sooner or later`;

function int(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  return text === undefined ? fallback : parseIntIn(`--${name}`, text, min, max);
}

function parse(argv: string[]): FaultRunOptions | 'help' {
  const { values } = parseFlags(argv, {
    time: { type: 'string' },
    nodes: { type: 'string' },
    seed: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    'snapshot-every': { type: 'string' },
    'log-retain': { type: 'string' },
    'node-port': { type: 'string' },
    'proxy-port': { type: 'string' },
    keep: { type: 'boolean' },
    'unsafe-amnesia': { type: 'boolean' },
    membership: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const d = defaultOptions;
  return {
    ...d,
    timeSec: int('time', values.time, d.timeSec, 1, 24 * 3600),
    nodes: int('nodes', values.nodes, d.nodes, 3, 9),
    seed: int('seed', values.seed, randomSeed(), 0, Number.MAX_SAFE_INTEGER),
    clients: int('clients', values.clients, d.clients, 1, 50),
    keys: int('keys', values.keys, d.keys, 1, 100),
    snapshotEvery: int('snapshot-every', values['snapshot-every'], d.snapshotEvery, 1, 1_000_000_000),
    logRetain: int('log-retain', values['log-retain'], d.logRetain, 0, 1_000_000_000),
    nodeBasePort: int('node-port', values['node-port'], d.nodeBasePort, 1024, 65000),
    proxyBasePort: int('proxy-port', values['proxy-port'], d.proxyBasePort, 1024, 65000),
    keep: values.keep ?? false,
    amnesia: values['unsafe-amnesia'] ?? false,
    membership: values.membership === undefined ? d.membership : parseOnOff('--membership', values.membership),
  };
}

function parseOrExit(argv: string[]): FaultRunOptions {
  let parsed: FaultRunOptions | 'help';
  try {
    parsed = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${usage}\n`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed;
}

const options = parseOrExit(process.argv.slice(2));
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`faults: ${sig}: killing every node and stopping (seed ${options.seed})\n`);
    killEverything();
    process.exit(130);
  });
}
let finished = false;
process.on('beforeExit', () => {
  // The event loop drained while a run was still awaiting something: a bug here, not in the nodes.
  if (!finished)
    process.stderr.write(`faults: internal error: the run stopped waiting for work that can never finish (seed ${options.seed})\n`);
});
process.on('exit', (code) => {
  if (!finished && !interrupted) process.stderr.write(`faults: exiting with code ${code} before the run finished (seed ${options.seed})\n`);
});
runFaults(options)
  .then((r) => {
    finished = true;
    process.exit(r.ok ? 0 : 1);
  })
  .catch((err: unknown) => {
    process.stderr.write(`faults: ${(err as Error).stack ?? String(err)}\n`);
    killEverything();
    process.exit(1);
  });
