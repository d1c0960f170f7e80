// A cluster member run as its own OS process (launcher/node-process.ts) in its
// own process group, so a crash is SIGKILL of the whole group and a pause is
// SIGSTOP of the whole group.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { prebuiltBundleVar, repoRoot } from './bundle';
import type { LineSink } from './instance';
import { formatPeers, type NodeSettings } from './node-config';
import { processGroupMembers } from './procfs';

/**
 * `node --import <tsx loader> <script>`: runs a TypeScript script of this
 * repository without the tsx CLI wrapper process, so the process group of a
 * node is just node + workerd.
 */
export function tsxScriptCommand(script: string): { command: string; prefixArgs: string[] } {
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const loader = pathToFileURL(join(dirname(tsxPackage), 'dist/loader.mjs')).href;
  return { command: process.execPath, prefixArgs: ['--import', loader, resolve(repoRoot, script)] };
}

/**
 * V8 settings of a launcher host process (`npm start`, and the short-lived
 * preparing step of `npm run node`; package.json and launcher/node.sh pass the
 * same). The host only starts and watches workerd (requests go straight to
 * workerd's socket), so it trades speed for memory: a small young generation,
 * no helper threads compiling and collecting beside the main one, and V8's
 * size-over-speed mode (npm start's host 61-64 MiB RSS against 68-76 without,
 * docs/benchmarks.md).
 */
export const hostNodeFlags: readonly string[] = ['--max-semi-space-size=1', '--single-threaded', '--optimize-for-size'];

/**
 * A launcher command as its npm script runs it (`npm start`: cluster, `npm run
 * node`: node-process): plain `node` on the launcher's JavaScript build
 * (launcher/run.mjs rebuilds it first if a source changed).
 */
export function launcherCommand(name: 'cluster' | 'node-process'): { command: string; prefixArgs: string[] } {
  return { command: process.execPath, prefixArgs: [...hostNodeFlags, resolve(repoRoot, 'launcher/run.mjs'), name] };
}

export function nodeProcessCommand(): { command: string; prefixArgs: string[] } {
  return launcherCommand('node-process');
}

/** The node-process flags for these settings (the secret travels in the environment). */
export function nodeProcessArgs(s: NodeSettings): string[] {
  const args = ['--id', s.id, '--port', String(s.port), '--host', s.host, '--url', s.url];
  args.push(...(s.join !== undefined ? ['--join', s.join] : [`--peers=${formatPeers(s.peers)}`]), '--data', s.dataDir);
  if (s.adminToken !== undefined) args.push('--admin-token', s.adminToken);
  if (s.peerRoutes !== undefined) args.push(`--peer-routes=${s.peerRoutes}`);
  if (s.electionTimeoutMs !== undefined) args.push('--election-timeout-ms', String(s.electionTimeoutMs));
  if (s.heartbeatIntervalMs !== undefined) args.push('--heartbeat-interval-ms', String(s.heartbeatIntervalMs));
  if (s.requestTimeoutMs !== undefined) args.push('--request-timeout-ms', String(s.requestTimeoutMs));
  if (s.slowdown !== undefined) args.push('--slowdown', String(s.slowdown));
  if (s.logLevel !== undefined) args.push('--log-level', s.logLevel);
  if (s.peerStreams !== undefined) args.push('--peer-streams', s.peerStreams ? 'on' : 'off');
  if (s.v8Flags !== undefined) args.push(`--v8-flags=${s.v8Flags.join(' ')}`);
  if (s.snapshotEvery !== undefined) args.push('--snapshot-every', String(s.snapshotEvery));
  if (s.logRetain !== undefined) args.push('--log-retain', String(s.logRetain));
  return args;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until no process is left in group pgid; false on timeout. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processGroupMembers(pgid).length > 0) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

export interface ExitRecord {
  id: string;
  code: number | null;
  signal: string | null;
  atMs: number;
}

export class ProcessMember {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** True while we are the ones ending the process (so its exit is not a crash). */
  private ending = false;

  constructor(
    readonly settings: NodeSettings,
    private readonly sink: LineSink,
    private readonly onUnexpectedExit: (rec: ExitRecord) => void,
    /** A Worker bundle built by the launcher for this run (skips esbuild in the node). */
    private readonly bundleFile?: string,
  ) {}

  get pgid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Spawns the node and resolves once it prints its "listening" line. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error(`node ${this.settings.id} is already running`);
    const { command, prefixArgs } = nodeProcessCommand();
    const child = spawn(command, [...prefixArgs, ...nodeProcessArgs(this.settings)], {
      cwd: repoRoot,
      detached: true, // its own process group
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CLUSTER_SECRET: this.settings.secret,
        RAFT_KV_EXIT_WITH_PARENT: '1',
        ...(this.bundleFile ? { [prebuiltBundleVar]: this.bundleFile } : {}),
      },
    });
    this.child = child;
    this.ending = false;
    const recent: string[] = [];
    let onListening: () => void = () => {};
    const listening = new Promise<void>((r) => (onListening = r));
    const marker = `node ${this.settings.id} listening on `;
    for (const stream of [child.stdout, child.stderr]) {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        if (line.startsWith(marker)) onListening();
        this.sink(line);
      });
    }
    this.exited = new Promise<void>((r) => {
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        if (!this.ending) {
          this.sink(`[launcher] node ${this.settings.id} exited on its own (code ${code}, signal ${signal})`);
          this.onUnexpectedExit({ id: this.settings.id, code, signal, atMs: Date.now() });
        }
        r();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      listening.then(() => 'up' as const),
      this.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'up') return;
    await this.kill();
    const why = outcome === 'exited' ? 'exited during start-up' : `printed no "listening" line within ${timeoutMs} ms`;
    throw new Error(`node ${this.settings.id} ${why}; last output:\n${recent.join('\n')}`);
  }

  /** Crash: SIGKILL to the whole process group (node and workerd). */
  async kill(): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    this.ending = true;
    this.signalGroup(pgid, 'SIGKILL');
    await this.exited;
    if (!(await waitGroupGone(pgid, 5000))) throw new Error(`process group ${pgid} of node ${this.settings.id} survived SIGKILL`);
  }

  pause(): void {
    this.signalGroup(this.requirePgid(), 'SIGSTOP');
  }

  resume(): void {
    this.signalGroup(this.requirePgid(), 'SIGCONT');
  }

  /** Clean stop: SIGTERM to the node, SIGKILL to the group if it lingers. */
  async stop(graceMs = 8000): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    this.ending = true;
    this.signalGroup(pgid, 'SIGCONT'); // a paused process cannot act on SIGTERM
    try {
      process.kill(pgid, 'SIGTERM');
    } catch {
      // already gone
    }
    const clean = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!clean || !(await waitGroupGone(pgid, 2000))) {
      this.sink(`[launcher] node ${this.settings.id} did not stop on SIGTERM; sending SIGKILL`);
      this.signalGroup(pgid, 'SIGKILL');
      await this.exited;
      await waitGroupGone(pgid, 5000);
    }
  }

  /** Every live process of the node's group (the node process first). */
  pids(): number[] {
    const pgid = this.pgid;
    if (pgid === null) return [];
    const members = processGroupMembers(pgid);
    return members.includes(pgid) ? [pgid, ...members.filter((p) => p !== pgid)] : members;
  }

  private requirePgid(): number {
    const pgid = this.pgid;
    if (pgid === null) throw new Error(`node ${this.settings.id} is not running`);
    return pgid;
  }

  private signalGroup(pgid: number, sig: NodeJS.Signals): void {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is already gone
    }
  }
}
