// The cluster under test: N node processes whose peer URLs all go through
// the test's link proxies, plus what the nemesis and the checks ask of it
// (who leads, kill, restart, pause, resume, heal, stop).
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { StatusReport } from '../../worker/node-api';
import { Network } from './network';
import { NodeRunner, type CrashRecord } from './node-runner';

export interface ClusterOptions {
  nodes: number;
  nodeBasePort: number;
  proxyBasePort: number;
  runDir: string;
  secret: string;
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  logLevel: string;
  snapshotEvery?: number;
  logRetain?: number;
  startTimeoutMs: number;
  now: () => number;
}

export class FaultCluster {
  readonly ids: string[];
  readonly network: Network;
  readonly crashes: CrashRecord[] = [];
  private readonly runners = new Map<string, NodeRunner>();

  /** The cluster secret, which is also the admin API's token (no ADMIN_TOKEN is set). */
  get secret(): string {
    return this.opts.secret;
  }

  constructor(private readonly opts: ClusterOptions) {
    this.ids = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    const addresses = this.ids.map((id, i) => ({ id, port: opts.nodeBasePort + i }));
    this.network = new Network(addresses, opts.proxyBasePort);
    mkdirSync(join(opts.runDir, 'data'), { recursive: true });
    for (const [i, id] of this.ids.entries()) {
      const peers = this.ids.filter((p) => p !== id).map((p) => `${p}=${this.network.url(id, p)}`);
      const runner = new NodeRunner(
        {
          id,
          port: opts.nodeBasePort + i,
          peers: peers.join(','),
          dataDir: join(opts.runDir, 'data', id),
          logFile: join(opts.runDir, `${id}.log`),
          secret: opts.secret,
          electionTimeoutMs: opts.electionTimeoutMs,
          heartbeatIntervalMs: opts.heartbeatIntervalMs,
          requestTimeoutMs: opts.requestTimeoutMs,
          logLevel: opts.logLevel,
          snapshotEvery: opts.snapshotEvery,
          logRetain: opts.logRetain,
        },
        opts.now,
        (c) => this.crashes.push(c),
      );
      this.runners.set(id, runner);
    }
  }

  node(id: string): NodeRunner {
    const r = this.runners.get(id);
    if (!r) throw new Error(`no node ${id}`);
    return r;
  }

  /** Every node's client URL (clients talk to nodes directly, never through a proxy). */
  urls(): Map<string, string> {
    return new Map(this.ids.map((id) => [id, this.node(id).url]));
  }

  logFiles(): string[] {
    return this.ids.map((id) => this.node(id).spec.logFile);
  }

  async start(): Promise<void> {
    // A busy port would make a node exit at start-up, which reads as a crash:
    // say plainly that something else holds it.
    const nodePorts = this.ids.map((id) => this.node(id).spec.port);
    for (const port of nodePorts) {
      if (!(await waitPortFree(port, 10_000)))
        throw new Error(`port ${port} is in use by another process (choose others with --node-port)`);
    }
    await this.network.start();
    await Promise.all(this.ids.map((id) => this.node(id).start(this.opts.startTimeoutMs)));
  }

  /** Deletes a stopped node's data (only for the amnesia self-test). */
  wipe(id: string): void {
    const r = this.node(id);
    if (r.state !== 'down') throw new Error(`cannot wipe running node ${id}`);
    rmSync(r.spec.dataDir, { recursive: true, force: true });
  }

  async restart(id: string): Promise<void> {
    await this.node(id).start(this.opts.startTimeoutMs);
  }

  async status(id: string, timeoutMs = 500): Promise<StatusReport | null> {
    const r = this.node(id);
    if (r.state !== 'running') return null;
    try {
      const res = await fetch(`${r.url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return null;
      return (await res.json()) as StatusReport;
    } catch {
      return null;
    }
  }

  /** The leader with the highest term among running nodes that say they lead, or null. */
  async leader(): Promise<string | null> {
    const all = await Promise.all(this.ids.map((id) => this.status(id)));
    let best: StatusReport | null = null;
    for (const s of all) if (s && s.role === 'leader' && (!best || s.term > best.term)) best = s;
    return best?.id ?? null;
  }

  /** Polls until some node leads and a majority of running nodes agree on it. */
  async waitForLeader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    const majority = Math.floor(this.ids.length / 2) + 1;
    while (Date.now() < deadline) {
      const all = await Promise.all(this.ids.map((id) => this.status(id)));
      const lead = all.find((s) => s?.role === 'leader');
      if (lead) {
        const agree = all.filter((s) => s && s.term === lead.term && (s.id === lead.id || s.leader?.id === lead.id)).length;
        if (agree >= majority) return lead.id;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  /** Resume every paused node, restart every killed one, heal every link. */
  async healAll(): Promise<void> {
    this.network.healAll();
    for (const id of this.ids) if (this.node(id).state === 'paused') this.node(id).resume();
    await Promise.all(this.ids.filter((id) => this.node(id).state === 'down').map((id) => this.restart(id)));
  }

  async stop(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.node(id).stop()));
    await this.network.close();
  }

  /** Synchronous: SIGKILL every node group still alive (exit and signal handlers). */
  killNow(): void {
    for (const id of this.ids) this.node(id).killNow();
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function waitPortFree(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await portFree(port)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}
