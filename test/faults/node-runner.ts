// One cluster member as an OS process (launcher/node-process.ts) in its own
// process group, started with the same command every time so a restart finds
// its data. Crash = SIGKILL of the group, pause = SIGSTOP, resume = SIGCONT.
// Output goes straight into a log file (no pipe through this process, so a
// busy test runner can never block a node on a full pipe).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface NodeSpec {
  id: string;
  port: number;
  /** "n2=http://127.0.0.1:19501,..." at first start; empty for a joining node. */
  peers: string;
  /** A joining node's --join URL (it then has no peers). */
  join?: string;
  /** PEER_ROUTES: each other slot's real URL = the proxy of this node's link to it. */
  peerRoutes: string;
  dataDir: string;
  logFile: string;
  secret: string;
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  logLevel: string;
  /** SNAPSHOT_EVERY and LOG_RETAIN of the node; the node's defaults when undefined. */
  snapshotEvery?: number;
  logRetain?: number;
}

/** A node process that ended without being told to: always a test failure. */
export interface CrashRecord {
  node: string;
  code: number | null;
  signal: string | null;
  atMs: number;
}

export type NodeState = 'down' | 'starting' | 'running' | 'paused';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class NodeRunner {
  private child: ChildProcess | null = null;
  private pgid: number | null = null;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private paused = false;
  private starting = false;
  starts = 0;

  constructor(
    readonly spec: NodeSpec,
    private readonly now: () => number,
    private readonly onCrash: (c: CrashRecord) => void,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  get state(): NodeState {
    if (this.child === null) return 'down';
    if (this.starting) return 'starting';
    return this.paused ? 'paused' : 'running';
  }

  /** The live process group, for the last-resort cleanup on exit. */
  get groupId(): number | null {
    return this.pgid;
  }

  /** Spawns the node and waits until it answers GET /status. */
  async start(timeoutMs: number): Promise<void> {
    if (this.child) throw new Error(`node ${this.spec.id} is already running`);
    if (this.pgid !== null) {
      // The previous process ended on its own; make sure nothing of its group
      // (a workerd holding our port) outlives it.
      signalGroup(this.pgid, 'SIGKILL');
      this.pgid = null;
    }
    this.starts++;
    this.note(`[faults] start #${this.starts} at t=${Math.round(this.now())}ms`);
    const out = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['--import', tsxLoader(), join(repoRoot, 'launcher/node-process.ts'), ...this.args()], {
        cwd: repoRoot,
        detached: true, // its own process group: the node and its workerd
        stdio: ['ignore', out, out],
        env: { ...process.env, RAFT_KV_EXIT_WITH_PARENT: '1' },
      });
    } finally {
      closeSync(out);
    }
    if (child.pid === undefined) throw new Error(`could not spawn node ${this.spec.id}`);
    this.child = child;
    this.pgid = child.pid;
    this.paused = false;
    this.expectingExit = false;
    this.exited = new Promise<void>((r) => {
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        if (!this.expectingExit) {
          this.note(`[faults] node process exited on its own: code ${code}, signal ${signal}`);
          this.onCrash({ node: this.spec.id, code, signal, atMs: this.now() });
        }
        r();
      });
    });
    this.starting = true;
    try {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (this.child !== child) throw new Error(`node ${this.spec.id} exited during start-up (see ${this.spec.logFile})`);
        if (await answersStatus(this.url)) return;
        await sleep(100);
      }
    } finally {
      this.starting = false;
    }
    await this.kill();
    throw new Error(`node ${this.spec.id} did not answer /status within ${timeoutMs} ms (see ${this.spec.logFile})`);
  }

  /** Crash: SIGKILL to the whole group; waits until no member is left. */
  async kill(): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    this.expectingExit = true;
    signalGroup(pgid, 'SIGKILL');
    await this.exited;
    const deadline = Date.now() + 5000;
    while (groupMembers(pgid).length > 0 && Date.now() < deadline) await sleep(20);
    if (groupMembers(pgid).length > 0) throw new Error(`process group ${pgid} of node ${this.spec.id} survived SIGKILL`);
    this.pgid = null;
    this.paused = false;
    this.note(`[faults] killed at t=${Math.round(this.now())}ms`);
  }

  pause(): void {
    if (this.pgid === null || this.child === null) throw new Error(`node ${this.spec.id} is not running`);
    signalGroup(this.pgid, 'SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.pgid === null) return;
    signalGroup(this.pgid, 'SIGCONT');
    this.paused = false;
  }

  /** End of run: SIGCONT + SIGTERM, then SIGKILL if it lingers. */
  async stop(graceMs = 3000): Promise<void> {
    const pgid = this.pgid;
    if (pgid === null) return;
    this.expectingExit = true;
    signalGroup(pgid, 'SIGCONT');
    signalGroup(pgid, 'SIGTERM');
    const clean = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!clean || groupMembers(pgid).length > 0) await this.kill();
    this.pgid = null;
  }

  /** Synchronous last resort (process 'exit' handler): SIGKILL whatever is left. */
  killNow(): void {
    if (this.pgid === null) return;
    this.expectingExit = true;
    signalGroup(this.pgid, 'SIGCONT');
    signalGroup(this.pgid, 'SIGKILL');
  }

  private note(line: string): void {
    const fd = openSync(this.spec.logFile, 'a');
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  }

  private args(): string[] {
    const s = this.spec;
    return [
      '--id',
      s.id,
      '--port',
      String(s.port),
      '--host',
      '127.0.0.1',
      ...(s.join !== undefined ? ['--join', s.join] : [`--peers=${s.peers}`]),
      `--peer-routes=${s.peerRoutes}`,
      '--data',
      s.dataDir,
      '--secret',
      s.secret,
      '--election-timeout-ms',
      String(s.electionTimeoutMs),
      '--heartbeat-interval-ms',
      String(s.heartbeatIntervalMs),
      '--request-timeout-ms',
      String(s.requestTimeoutMs),
      '--log-level',
      s.logLevel,
      ...(s.snapshotEvery !== undefined ? ['--snapshot-every', String(s.snapshotEvery)] : []),
      ...(s.logRetain !== undefined ? ['--log-retain', String(s.logRetain)] : []),
    ];
  }
}

/** tsx's ESM loader as a file URL: `node --import <it>` runs TypeScript without the tsx CLI wrapper process. */
function tsxLoader(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist/loader.mjs')).href;
}

async function answersStatus(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // the group is gone already
  }
}

/**
 * Live (non-zombie) members of a process group, from /proc. `kill(-pgid, 0)`
 * is not enough: a killed workerd may linger as a zombie that nobody reaps.
 */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may contain spaces, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(e));
    } catch {
      // gone while we looked
    }
  }
  return members;
}
