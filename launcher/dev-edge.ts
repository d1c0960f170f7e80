// `npm run dev:edge`: the edge topology (worker/edge/, wrangler.edge.toml)
// under one `wrangler dev` on one port: every member of every cluster is a
// Durable Object in the same workerd. Boots the default cluster (asking
// GET /edge/members wakes each member), waits until its members agree on a
// leader, prints members and leader, and stops the process tree on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './bundle';
import { parseFlagMap, parseIntIn, parsePort, UsageError } from '../common/args';
import { waitGroupGone } from './process';
import { loadOrCreateSecret } from './secret';
import { portIsFree } from './port-free';

/** Keeps wrangler dev quiet, offline and non-interactive (as launcher/dev-cluster.ts, which runs on import). */
const wranglerEnv: Record<string, string> = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
};

const usage = `usage: npm run dev:edge -- [options]
  --port P                   the front's port (default 8787); devtools on --inspector-port (default P+1000)
  --inspector-port P
  --data DIR                 persist folder DIR/state, admin token DIR/admin-token, log DIR/wrangler.log
                             (default .data/edge)
  --members n1,n2,n3         initial members of each cluster (EDGE_MEMBERS)
  --locations wnam,enam,weur location hints (EDGE_LOCATIONS; only Cloudflare uses them)
  --clusters main,b          clusters served (EDGE_CLUSTERS); the first is the default one
  --election-timeout-ms N, --heartbeat-interval-ms N, --request-timeout-ms N   passed as --var
  --leader-timeout-ms N      how long to wait for a leader (default 60000)
  --help`;

const known = {
  port: 'string',
  'inspector-port': 'string',
  data: 'string',
  members: 'string',
  locations: 'string',
  clusters: 'string',
  'election-timeout-ms': 'string',
  'heartbeat-interval-ms': 'string',
  'request-timeout-ms': 'string',
  'leader-timeout-ms': 'string',
  help: 'boolean',
} as const;

function parseArgs(argv: string[]) {
  const f = parseFlagMap(argv, known);
  const ms = (name: string): number | undefined => {
    const v = f.get(name);
    return v === undefined ? undefined : parseIntIn(`--${name}`, v, 1, 3_600_000);
  };
  const port = f.has('port') ? parsePort('--port', f.get('port')!) : 8787;
  const inspectorPort = f.has('inspector-port')
    ? parsePort('--inspector-port', f.get('inspector-port')!)
    : port < 64535
      ? port + 1000
      : port - 1000;
  if (inspectorPort === port) throw new UsageError('--inspector-port must differ from --port');
  const vars: Record<string, string> = {};
  if (f.has('members')) vars.EDGE_MEMBERS = f.get('members')!;
  if (f.has('locations')) vars.EDGE_LOCATIONS = f.get('locations')!;
  if (f.has('clusters')) vars.EDGE_CLUSTERS = f.get('clusters')!;
  // Local defaults: one machine, so short timeouts (the deployed ones in wrangler.edge.toml allow for regions).
  vars.ELECTION_TIMEOUT_MS = String(ms('election-timeout-ms') ?? 400);
  vars.HEARTBEAT_INTERVAL_MS = String(ms('heartbeat-interval-ms') ?? 80);
  vars.REQUEST_TIMEOUT_MS = String(ms('request-timeout-ms') ?? 3000);
  if (f.has('members') && !f.has('locations')) vars.EDGE_LOCATIONS = '';
  return {
    help: f.has('help'),
    port,
    inspectorPort,
    dataDir: resolve(f.get('data') ?? '.data/edge'),
    vars,
    leaderTimeoutMs: ms('leader-timeout-ms') ?? 60_000,
  };
}

interface MembersReport {
  cluster: string;
  leader: string | null;
  members: { id: string; location: string | null; role?: string; term?: number; leader?: string | null; error?: string }[];
}

/** Polls GET /edge/members (which also wakes every member) until a leader is named by a majority. */
async function waitForLeader(base: string, timeoutMs: number): Promise<MembersReport> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/edge/members`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      if (res.ok) {
        const report = JSON.parse(text) as MembersReport;
        const backing = report.members.filter((m) => m.leader === report.leader).length;
        if (report.leader !== null && backing > report.members.length / 2) return report;
        last = report.members.map((m) => `${m.id}:${m.role ?? m.error}@${m.term ?? '-'}`).join(' ');
      } else {
        last = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      }
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no leader within ${timeoutMs} ms (last: ${last})`);
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // gone
  }
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`dev-edge: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    return;
  }
  for (const port of [args.port, args.inspectorPort]) {
    if (!(await portIsFree(port))) {
      process.stderr.write(`dev-edge: port ${port} on 127.0.0.1 is already in use\n`);
      process.exit(1);
    }
  }
  mkdirSync(args.dataDir, { recursive: true });
  const tokenFile = join(args.dataDir, 'admin-token');
  const { secret: adminToken } = await loadOrCreateSecret(tokenFile);
  const logFile = join(args.dataDir, 'wrangler.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const wranglerBin = join(createRequire(import.meta.url).resolve('wrangler/package.json'), '..', 'bin', 'wrangler.js');
  const wranglerArgs = ['dev', '-c', 'wrangler.edge.toml', '--ip', '127.0.0.1', '--port', String(args.port)];
  wranglerArgs.push('--inspector-port', String(args.inspectorPort), '--persist-to', join(args.dataDir, 'state'));
  for (const [k, v] of Object.entries({ ...args.vars, ADMIN_TOKEN: adminToken })) wranglerArgs.push('--var', `${k}:${v}`);
  wranglerArgs.push('--show-interactive-dev-session=false', '--log-level', 'warn');

  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [wranglerBin, ...wranglerArgs], {
    cwd: repoRoot,
    detached: true, // its own process group: stopping it stops wrangler and workerd
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...wranglerEnv },
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => log.write(`${line}\n`));
  }
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    stopping = true;
    if (child.pid) {
      signalGroup(child.pid, 'SIGTERM');
      if (!(await waitGroupGone(child.pid, 8000))) signalGroup(child.pid, 'SIGKILL');
    }
    console.log('stopped');
    process.exit(code);
  };
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.log(`dev-edge: wrangler dev exited (code ${code}, signal ${signal}); see ${logFile}`);
    process.exit(1);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (!stopping) void stop(0);
    });
  }
  process.on('exit', () => {
    if (child.pid) signalGroup(child.pid, 'SIGKILL');
  });

  const base = `http://127.0.0.1:${args.port}`;
  try {
    const report = await waitForLeader(base, args.leaderTimeoutMs);
    console.log(`edge cluster "${report.cluster}" on ${base} (up in ${Math.round(performance.now() - t0)} ms):`);
    for (const m of report.members) {
      const where = m.location === null ? '' : ` (location hint ${m.location})`;
      console.log(`  member ${m.id}${where}: ${m.role ?? m.error} in term ${m.term ?? '-'}`);
    }
    console.log(`leader: ${report.leader}`);
    console.log(`admin token: ${tokenFile}; log: ${logFile}`);
    console.log(`try: curl -X PUT --data v ${base}/kv/k; npm run client -- --nodes ${base} get k`);
    console.log('Ctrl-C to stop');
  } catch (err) {
    console.log(`dev-edge: ${(err as Error).message}; log in ${logFile}`);
    await stop(1);
  }
}

await main();
