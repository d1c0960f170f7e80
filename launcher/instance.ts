// One Raft node as one Miniflare instance: its own workerd process, its own
// port, its own persist folder. Used by the in-process cluster and by
// launcher/node-process.ts.
import { Log, LogLevel, Miniflare } from 'miniflare';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { bundleWorker, readWorkerSettings } from './bundle';
import { nodeVars, type NodeSettings } from './node-config';
import { pidListeningOn } from './procfs';
import { coalesceRequestsVar, defaultV8Flags, useWorkerdV8Flags } from './workerd-v8-flags';

export type LineSink = (line: string) => void;

/** Miniflare's own messages (warnings and errors only) go to the node's log. */
class SinkLog extends Log {
  constructor(private readonly sink: LineSink) {
    super(LogLevel.WARN);
  }
  protected override log(message: string): void {
    // Miniflare colours its messages; the sink wants plain text.
    // eslint-disable-next-line no-control-regex
    for (const line of message.split('\n')) this.sink(`[miniflare] ${line.replace(/\x1b\[[0-9;]*m/g, '')}`);
  }
}

function forwardLines(stream: Readable, sink: LineSink): void {
  // Always drain: a full pipe would block workerd.
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', sink);
  rl.on('error', () => {});
}

/** Where a node keeps its Durable Object storage, under its data folder. */
export function persistDir(nodeDataDir: string): string {
  return join(nodeDataDir, 'do');
}

const exitSignals = ['SIGINT', 'SIGTERM'] as const;

/**
 * Miniflare's constructor adds SIGINT/SIGTERM listeners that dispose and call
 * process.exit at once, which cuts short a program's own clean shutdown. When
 * the program already listens for a signal, drop the listener Miniflare just
 * added for it. (Miniflare's 'exit' hook stays, and so does the launcher's.)
 */
function withoutForeignSignalExit<T>(construct: () => T): T {
  const before = new Map(exitSignals.map((sig) => [sig, process.listeners(sig)]));
  const made = construct();
  for (const sig of exitSignals) {
    const earlier = before.get(sig)!;
    if (earlier.length === 0) continue;
    for (const listener of process.listeners(sig)) {
      if (!earlier.includes(listener)) process.removeListener(sig, listener as (...args: unknown[]) => void);
    }
  }
  return made;
}

export class NodeInstance {
  private mf: Miniflare | null = null;
  private workerdPid: number | null = null;

  constructor(
    readonly settings: NodeSettings,
    private readonly sink: LineSink,
  ) {}

  /** The workerd process serving this node, while it runs. */
  get pid(): number | null {
    return this.workerdPid;
  }

  get running(): boolean {
    return this.mf !== null;
  }

  /** Starts workerd, finds its pid, and wakes the Durable Object so its timers run. */
  async start(wakeTimeoutMs = 15_000): Promise<void> {
    if (this.mf) throw new Error(`node ${this.settings.id} is already running`);
    const s = this.settings;
    const bundle = await bundleWorker();
    const worker = readWorkerSettings();
    mkdirSync(persistDir(s.dataDir), { recursive: true });
    const v8Flags = s.v8Flags ?? defaultV8Flags;
    useWorkerdV8Flags(v8Flags);
    const mf = withoutForeignSignalExit(
      () =>
        new Miniflare({
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
          log: new SinkLog(this.sink),
          handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
            forwardLines(stdout, this.sink);
            forwardLines(stderr, this.sink);
          },
          name: 'raft-kv',
          modules: [{ type: 'ESModule', path: 'index.js', contents: bundle.code }],
          compatibilityDate: worker.compatibilityDate,
          compatibilityFlags: worker.compatibilityFlags,
          bindings: { ...nodeVars(s), COALESCE_REQUESTS: coalesceRequestsVar(v8Flags) },
          durableObjects: { RAFT_NODE: { className: 'RaftNodeObject', useSQLite: true } },
          durableObjectsPersist: persistDir(s.dataDir),
        }),
    );
    this.mf = mf;
    try {
      await mf.ready;
      this.workerdPid = pidListeningOn(s.port);
      if (this.workerdPid === null)
        this.sink(`[launcher] warning: no workerd found listening on port ${s.port}; kill and pause will not work`);
      await this.wake(wakeTimeoutMs);
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /**
   * A Durable Object exists only once something reaches it; until then its
   * alarms (election timer) never fire. One /status request brings it up.
   */
  private async wake(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://${this.settings.host}:${this.settings.port}/status`, {
          signal: AbortSignal.timeout(Math.max(100, Math.min(3000, deadline - Date.now()))),
        });
        const body = await res.text();
        if (res.ok) return;
        lastError = `GET /status answered ${res.status}: ${body.slice(0, 300)}`;
        if (res.status >= 500) break; // the Worker refused its configuration or crashed
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node ${this.settings.id} did not come up: ${lastError}`);
  }

  /** Crash: SIGKILL workerd (no clean shutdown), then release Miniflare's handles. */
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

  /** Clean stop. Safe to call twice. */
  async dispose(): Promise<void> {
    const mf = this.mf;
    const pid = this.workerdPid;
    this.mf = null;
    this.workerdPid = null;
    if (!mf) return;
    // A stopped workerd cannot be shut down cleanly; let it run again first.
    if (pid !== null) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    const disposed = await Promise.race([
      mf.dispose().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
    ]);
    // Only if Miniflare hung: then the pid is surely still ours.
    if (!disposed && pid !== null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as expected
      }
    }
  }
}
