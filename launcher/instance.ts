// One Raft node as one workerd process: its own port, its own persist folder.
// Used by the in-process cluster and by launcher/node-process.ts. Miniflare
// makes workerd's config in a short-lived process (launcher/workerd-launch.ts),
// so the host that stays running never loads Miniflare's code.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorker, readWorkerSettings, type WorkerSettings } from './bundle';
import { nodeVars, type NodeSettings } from './node-config';
import { defaultV8Flags, useWorkerdV8Flags } from './workerd-v8-flags';
import {
  exited,
  httpGet,
  listening,
  planWorkerd,
  spawnWorkerd,
  type LineSink,
  type PlainMiniflareOptions,
  type WorkerdPlan,
} from './workerd-launch';

export type { LineSink };

/** Where a node keeps its Durable Object storage, under its data folder. */
export function persistDir(nodeDataDir: string): string {
  return join(nodeDataDir, 'do');
}

/** The Miniflare options of one node (as JSON: Miniflare runs in another process, see workerd-launch.ts). */
export function nodeMiniflareOptions(s: NodeSettings, bundleCode: string, worker: WorkerSettings): PlainMiniflareOptions {
  return {
    // Miniflare's own entry socket stays private (a random loopback port); the
    // node's port is a direct socket into the Worker, which skips Miniflare's
    // entry worker: about half the CPU per request on this path.
    host: '127.0.0.1',
    port: 0,
    unsafeDirectSockets: [{ host: s.host, port: s.port }],
    cf: false,
    // Without this, every outgoing fetch (each peer POST) passes through an
    // extra Miniflare worker that strips a header we never send.
    stripCfConnectingIp: false,
    // The Worker uses no Cache API. Miniflare keeps a cache's files in a temporary
    // folder that it deletes when its (short-lived) process exits, and workerd refuses
    // to start without that folder.
    cache: false,
    name: 'raft-kv',
    modules: [{ type: 'ESModule', path: 'index.js', contents: bundleCode }],
    compatibilityDate: worker.compatibilityDate,
    compatibilityFlags: worker.compatibilityFlags,
    // Shared calls are on whatever the V8 flags (docs/turbofan-context.md).
    bindings: { ...nodeVars(s), COALESCE_REQUESTS: 'on' },
    durableObjects: { RAFT_NODE: { className: 'RaftNodeObject', useSQLite: true } },
    durableObjectsPersist: persistDir(s.dataDir),
  };
}

/** What workerd runs for this node: its command, arguments and config (without V8 flags). */
export async function planNode(s: NodeSettings, sink: LineSink): Promise<WorkerdPlan> {
  const bundle = await bundleWorker();
  const worker = readWorkerSettings();
  mkdirSync(persistDir(s.dataDir), { recursive: true });
  return planWorkerd(nodeMiniflareOptions(s, bundle.code, worker), sink);
}

/**
 * A Durable Object exists only once something reaches it; until then its
 * alarms (election timer) never fire. One /status request brings it up.
 * Retries until `timeoutMs` has passed or `alive()` says workerd is gone.
 */
export async function wakeNode(s: Pick<NodeSettings, 'id' | 'host' | 'port'>, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline && alive()) {
    try {
      const timeout = Math.max(100, Math.min(3000, deadline - Date.now()));
      const res = await httpGet(s.host, s.port, '/status', timeout);
      if (res.status >= 200 && res.status < 300) return;
      lastError = `GET /status answered ${res.status}: ${res.body.slice(0, 300)}`;
      if (res.status >= 500) break; // the Worker refused its configuration or crashed
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node ${s.id} did not come up: ${lastError}`);
}

/** What a node prints once it serves: where it listens, and how to add it when it joins. */
export function readyLines(s: NodeSettings): string[] {
  const where = s.url === `http://${s.host}:${s.port}` ? s.url : `http://${s.host}:${s.port} (advertised as ${s.url})`;
  const lines = [`node ${s.id} listening on ${where}`];
  if (s.join !== undefined) {
    // Starting a node never changes the cluster: an operator adds it (docs/membership.md).
    lines.push(
      `node ${s.id} waits to join the cluster of ${s.join}; add it, then promote it once caught up:`,
      `  npm run client -- --nodes ${s.join} add ${s.id} ${s.url}`,
      `  npm run client -- --nodes ${s.join} promote ${s.id}`,
    );
  }
  return lines;
}

export class NodeInstance {
  private workerd: ChildProcess | null = null;
  private workerdPid: number | null = null;
  /** Kills workerd if the host exits without stopping it (as Miniflare's exit hook did). */
  private readonly onHostExit = (): void => {
    this.workerd?.kill('SIGKILL');
  };

  constructor(
    readonly settings: NodeSettings,
    private readonly sink: LineSink,
  ) {}

  /** The workerd process serving this node, while it runs. */
  get pid(): number | null {
    return this.workerdPid;
  }

  get running(): boolean {
    return this.workerd !== null;
  }

  /** Starts workerd, and wakes the Durable Object so its timers run. */
  async start(wakeTimeoutMs = 15_000): Promise<void> {
    if (this.workerd) throw new Error(`node ${this.settings.id} is already running`);
    const s = this.settings;
    const plan = await planNode(s, this.sink);
    useWorkerdV8Flags(s.v8Flags ?? defaultV8Flags);
    const child = spawnWorkerd(plan, this.sink);
    this.workerd = child;
    this.workerdPid = child.pid ?? null;
    process.once('exit', this.onHostExit);
    try {
      if (this.workerdPid === null) throw new Error('workerd could not be started');
      await listening(child, s.port, wakeTimeoutMs);
      // Stops early once this workerd is let go of (it exited).
      await wakeNode(s, wakeTimeoutMs, () => this.workerd !== null);
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** Crash: SIGKILL workerd (no clean shutdown), then let go of it. */
  async kill(): Promise<void> {
    const pid = this.workerdPid;
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.dispose();
  }

  pause(): void {
    this.signal('SIGSTOP');
  }

  resume(): void {
    this.signal('SIGCONT');
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.workerdPid === null) throw new Error(`node ${this.settings.id} is not running`);
    process.kill(this.workerdPid, sig);
  }

  /** Stops workerd (SIGKILL, as Miniflare did: its storage is durable at every commit). Safe to call twice. */
  async dispose(): Promise<void> {
    const child = this.workerd;
    this.workerd = null;
    this.workerdPid = null;
    if (!child) return;
    process.removeListener('exit', this.onHostExit);
    // A stopped process still dies of SIGKILL, but wake it anyway so it is reaped at once.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await Promise.race([exited(child), new Promise((r) => setTimeout(r, 10_000))]);
  }
}
