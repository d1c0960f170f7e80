// `npm run dev:cluster`: a local cluster of `wrangler dev` processes, one per
// node, each with its own port, inspector port and persist folder. Waits for
// a leader, prints the URLs, and stops every process tree on Ctrl-C.
// `--print-commands` prints the per-node commands (for the README) and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { portIsFree } from './port-free';
import { createInterface } from 'node:readline';
import { repoRoot } from './bundle';
import { parseFlagMap, parseIntIn, parseOnOff, parsePort, parsePositive, UsageError } from '../common/args';
import { logLevels, logRetainRange, nodeVars, snapshotEveryRange, type Member, type NodeSettings } from './node-config';
import { waitGroupGone } from './process';
import { processGroupMembers } from './procfs';
import { loadOrCreateSecret } from './secret';
import { waitForAgreedLeader } from './status';

const usage = `usage: npm run dev:cluster -- [options]
  --nodes N                  number of nodes (default 3)
  --base-port P              node i listens on P+i-1 (default 8787)
  --inspector-base-port P    node i's devtools port is P+i-1 (default 9230)
  --data DIR                 persist folders DIR/<id>, secret DIR/cluster-secret,
                             logs DIR/logs/<id>.log (default .data/wrangler)
  --election-timeout-ms N, --heartbeat-interval-ms N, --request-timeout-ms N,
  --slowdown F, --log-level L, --peer-streams on|off,
  --snapshot-every N, --log-retain M                  passed to every node as --var
  --leader-timeout-ms N      how long to wait for a leader (default 90000)
  --print-commands           print each node's wrangler dev command and exit
  --help`;

const known = {
  nodes: 'string',
  'base-port': 'string',
  'inspector-base-port': 'string',
  data: 'string',
  'election-timeout-ms': 'string',
  'heartbeat-interval-ms': 'string',
  'request-timeout-ms': 'string',
  slowdown: 'string',
  'log-level': 'string',
  'peer-streams': 'string',
  'snapshot-every': 'string',
  'log-retain': 'string',
  'leader-timeout-ms': 'string',
  'print-commands': 'boolean',
  help: 'boolean',
} as const;

/** Environment that keeps wrangler dev quiet, offline and non-interactive. */
export const wranglerEnv: Record<string, string> = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
};

/** The arguments after `wrangler` for one node. */
export function wranglerDevArgs(s: NodeSettings, inspectorPort: number, vars: Record<string, string>): string[] {
  const args = ['dev', '--ip', s.host, '--port', String(s.port), '--inspector-port', String(inspectorPort)];
  args.push('--persist-to', s.dataDir);
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  args.push('--show-interactive-dev-session=false', '--log-level', 'warn');
  return args;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface DevNode {
  settings: NodeSettings;
  inspectorPort: number;
  child: ChildProcess | null;
}

function parseArgs(argv: string[]) {
  const f = parseFlagMap(argv, known);
  const opt = <T>(name: string, parse: (what: string, text: string) => T): T | undefined => {
    const v = f.get(name);
    return v === undefined ? undefined : parse(`--${name}`, v);
  };
  const ms = (what: string, text: string): number => parseIntIn(what, text, 1, 3_600_000);
  const logLevel = f.get('log-level');
  if (logLevel !== undefined && !(logLevels as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${logLevels.join('|')}, got "${logLevel}"`);
  }
  const nodes = opt('nodes', (w, t) => parseIntIn(w, t, 1, 9)) ?? 3;
  const basePort = opt('base-port', parsePort) ?? 8787;
  const inspectorBasePort = opt('inspector-base-port', parsePort) ?? 9230;
  if (Math.max(basePort, inspectorBasePort) + nodes - 1 > 65535) throw new UsageError('ports out of range');
  if (Math.abs(basePort - inspectorBasePort) < nodes) throw new UsageError('node ports and inspector ports overlap');
  return {
    help: f.has('help'),
    printOnly: f.has('print-commands'),
    nodes,
    basePort,
    inspectorBasePort,
    dataDir: resolve(f.get('data') ?? '.data/wrangler'),
    leaderTimeoutMs: opt('leader-timeout-ms', ms) ?? 90_000,
    tuning: {
      electionTimeoutMs: opt('election-timeout-ms', ms),
      heartbeatIntervalMs: opt('heartbeat-interval-ms', ms),
      requestTimeoutMs: opt('request-timeout-ms', ms),
      slowdown: opt('slowdown', parsePositive),
      logLevel,
      peerStreams: opt('peer-streams', parseOnOff),
      snapshotEvery: opt('snapshot-every', (w, t) => parseIntIn(w, t, ...snapshotEveryRange)),
      logRetain: opt('log-retain', (w, t) => parseIntIn(w, t, ...logRetainRange)),
    },
  };
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`dev-cluster: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    return;
  }
  const members: Member[] = Array.from({ length: args.nodes }, (_, i) => ({
    id: `n${i + 1}`,
    url: `http://127.0.0.1:${args.basePort + i}`,
  }));
  const secretFile = join(args.dataDir, 'cluster-secret');
  const nodes: DevNode[] = members.map((m, i) => ({
    settings: {
      ...args.tuning,
      id: m.id,
      host: '127.0.0.1',
      port: args.basePort + i,
      url: m.url,
      peers: members.filter((p) => p.id !== m.id),
      secret: '',
      dataDir: join(args.dataDir, m.id),
    },
    inspectorPort: args.inspectorBasePort + i,
    child: null,
  }));

  // Created first, so the printed commands work as they are.
  const { secret } = await loadOrCreateSecret(secretFile);

  // The commands as a user would type them (secret read from its file, not shown).
  const envPrefix = Object.entries(wranglerEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log('each node runs (from the repository root):');
  for (const n of nodes) {
    const shown = { ...n.settings, dataDir: userPath(n.settings.dataDir) };
    const vars = { ...nodeVars(shown), CLUSTER_SECRET: `$(cat ${userPath(secretFile)})` };
    const parts = wranglerDevArgs(shown, n.inspectorPort, vars).map((a) => (a.startsWith('CLUSTER_SECRET:') ? `"${a}"` : shellQuote(a)));
    console.log(`  ${envPrefix} npx wrangler ${parts.join(' ')} < /dev/null`);
  }
  if (args.printOnly) return;

  mkdirSync(join(args.dataDir, 'logs'), { recursive: true });
  const wranglerBin = join(createRequire(import.meta.url).resolve('wrangler/package.json'), '..', 'bin', 'wrangler.js');

  let stopping = false;
  let firstSignalAt = 0;
  const stopAll = async (code: number): Promise<never> => {
    await Promise.all(nodes.map((n) => stopNode(n)));
    const left = nodes.flatMap((n) => (n.child?.pid ? processGroupMembers(n.child.pid) : []));
    if (left.length) console.log(`warning: still alive: ${left.join(' ')}`);
    else console.log('stopped');
    process.exit(left.length ? 1 : code);
  };
  const onSignal = (sig: string): void => {
    if (stopping) {
      if (Date.now() - firstSignalAt < 2000) return; // copies relayed by npm and tsx
      for (const n of nodes) if (n.child?.pid) signalGroup(n.child.pid, 'SIGKILL');
      process.exit(1);
    }
    stopping = true;
    firstSignalAt = Date.now();
    console.log(`${sig}: stopping ${nodes.length} wrangler dev processes`);
    void stopAll(0);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));
  process.on('exit', () => {
    for (const n of nodes) if (n.child?.pid) signalGroup(n.child.pid, 'SIGKILL');
  });

  // wrangler dev does not always fail fast on a taken port, so check first.
  for (const n of nodes) {
    for (const port of [n.settings.port, n.inspectorPort]) {
      if (!(await portIsFree(port, n.settings.host))) {
        process.stderr.write(`dev-cluster: port ${port} on ${n.settings.host} is already in use\n`);
        process.exit(1);
      }
    }
  }

  const t0 = performance.now();
  for (const n of nodes) {
    mkdirSync(n.settings.dataDir, { recursive: true });
    const log = createWriteStream(join(args.dataDir, 'logs', `${n.settings.id}.log`), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [wranglerBin, ...wranglerDevArgs(n.settings, n.inspectorPort, nodeVars({ ...n.settings, secret }))],
      {
        cwd: repoRoot,
        detached: true, // own process group: stopping it stops wrangler, its node child and workerd
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...wranglerEnv },
      },
    );
    n.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => log.write(`${line}\n`));
    }
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.log(
          `node ${n.settings.id}: wrangler dev exited (code ${code}, signal ${signal}); see ${join(args.dataDir, 'logs', `${n.settings.id}.log`)}`,
        );
      }
    });
  }
  for (const m of members) console.log(`node ${m.id} ${m.url}`);
  try {
    const leader = await waitForAgreedLeader(members, members.length, args.leaderTimeoutMs, 250);
    if (stopping) return;
    console.log(`leader: ${leader.id} ${leader.url} (cluster up in ${Math.round(performance.now() - t0)} ms); Ctrl-C to stop`);
  } catch (err) {
    if (stopping) return;
    console.log(`dev-cluster: ${(err as Error).message}; logs in ${join(args.dataDir, 'logs')}`);
    stopping = true;
    await stopAll(1);
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // gone
  }
}

/** SIGTERM to the wrangler process group, SIGKILL if it is still there after 8 s. */
async function stopNode(n: DevNode): Promise<void> {
  const pgid = n.child?.pid;
  if (!pgid) return;
  signalGroup(pgid, 'SIGTERM');
  if (!(await waitGroupGone(pgid, 8000))) {
    signalGroup(pgid, 'SIGKILL');
    await waitGroupGone(pgid, 5000);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-cluster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

/** A path as the printed commands show it: relative to the repository when inside it. */
function userPath(p: string): string {
  const rel = relative(repoRoot, p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}
