// A cluster of `wrangler dev` processes, one per node, for the benchmark's
// --mode wrangler. Each node is its own process group (wrangler's Node process,
// its workerd and helpers), so a crash is SIGKILL of the whole group: killing
// only the wrapper would leave workerd serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../launcher/bundle';
import { formatPeers, type Member } from '../launcher/node-config';
import { processGroupMembers } from '../launcher/procfs';

export interface WranglerNodeSettings {
  member: Member;
  port: number;
  inspectorPort: number;
  peers: Member[];
  secret: string;
  persistDir: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  logLevel: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function wranglerScript(): string {
  return join(createRequire(import.meta.url).resolve('wrangler/package.json'), '..', 'bin', 'wrangler.js');
}

export function wranglerArgs(s: WranglerNodeSettings): string[] {
  const vars: Record<string, string> = {
    NODE_ID: s.member.id,
    NODE_URL: s.member.url,
    PEERS: formatPeers(s.peers),
    CLUSTER_SECRET: s.secret,
    LOG_LEVEL: s.logLevel,
  };
  if (s.electionTimeoutMs !== undefined) vars.ELECTION_TIMEOUT_MS = String(s.electionTimeoutMs);
  if (s.heartbeatIntervalMs !== undefined) vars.HEARTBEAT_INTERVAL_MS = String(s.heartbeatIntervalMs);
  const args = [wranglerScript(), 'dev', '--ip', '127.0.0.1', '--port', String(s.port)];
  args.push('--inspector-port', String(s.inspectorPort), '--persist-to', s.persistDir);
  args.push('--show-interactive-dev-session=false', '--log-level', 'warn');
  // --var splits at the first colon, so URLs and comma lists pass unchanged.
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  return args;
}

export class WranglerNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly recent: string[] = [];

  constructor(
    readonly settings: WranglerNodeSettings,
    private readonly onLine: (line: string) => void = () => {},
  ) {}

  /** The process group (the wrangler wrapper's pid), while running. */
  get pgid(): number | null {
    return this.child?.pid ?? null;
  }

  pids(): number[] {
    const pgid = this.pgid;
    return pgid === null ? [] : processGroupMembers(pgid);
  }

  /** Spawns wrangler dev and waits until GET /status answers 200 (which also wakes the Durable Object). */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error(`node ${this.settings.member.id} is already running`);
    mkdirSync(this.settings.persistDir, { recursive: true });
    const child = spawn(process.execPath, wranglerArgs(this.settings), {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        NO_COLOR: '1',
      },
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        this.recent.push(line);
        if (this.recent.length > 30) this.recent.shift();
        this.onLine(line);
      });
    }
    let gone = false;
    this.exited = new Promise<void>((r) =>
      child.on('exit', () => {
        gone = true;
        if (this.child === child) this.child = null;
        r();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline && !gone) {
      try {
        const res = await fetch(`${this.settings.member.url}/status`, { signal: AbortSignal.timeout(2000) });
        await res.text();
        if (res.ok) return;
        last = `status ${res.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(100);
    }
    await this.kill();
    const why = gone ? 'exited during start-up' : `did not answer /status within ${timeoutMs} ms (${last})`;
    throw new Error(`wrangler node ${this.settings.member.id} ${why}; last output:\n${this.recent.join('\n')}`);
  }

  /** Crash: SIGKILL to the whole group. */
  async kill(): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    signalGroup(pgid, 'SIGKILL');
    await this.exited;
    await waitGroupGone(pgid, 5000);
  }

  /** Clean stop: SIGTERM to the group, SIGKILL if it lingers. */
  async stop(graceMs = 5000): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    signalGroup(pgid, 'SIGTERM');
    if (!(await waitGroupGone(pgid, graceMs))) {
      signalGroup(pgid, 'SIGKILL');
      await waitGroupGone(pgid, 5000);
    }
    await Promise.race([this.exited, sleep(1000)]);
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processGroupMembers(pgid).length > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

export interface WranglerClusterOptions {
  size: number;
  basePort: number;
  dataDir: string;
  secret: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  logLevel: string;
  onLine?: (nodeId: string, line: string) => void;
}

export function wranglerNodes(o: WranglerClusterOptions): WranglerNode[] {
  const members: Member[] = Array.from({ length: o.size }, (_, i) => ({ id: `n${i + 1}`, url: `http://127.0.0.1:${o.basePort + i}` }));
  return members.map(
    (m, i) =>
      new WranglerNode(
        {
          member: m,
          port: o.basePort + i,
          // Inspector ports sit 100 above the HTTP ports; every process needs its own.
          inspectorPort: o.basePort + 100 + i,
          peers: members.filter((p) => p.id !== m.id),
          secret: o.secret,
          persistDir: join(o.dataDir, m.id),
          electionTimeoutMs: o.electionTimeoutMs,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          logLevel: o.logLevel,
        },
        (line) => o.onLine?.(m.id, line),
      ),
  );
}
