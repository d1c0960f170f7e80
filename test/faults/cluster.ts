// The cluster under test: node processes in a fixed number of slots (a port
// each), every link between two slots through its own proxy, plus what the
// nemesis and the checks ask of it (who leads, kill, restart, pause, resume,
// heal, stop, and for membership changes: start a joining node in a free
// slot, retire a removed one).
//
// Configuration entries carry one URL per member, the same for every node, so
// members are known by their slot's real URL, and each node is told where its
// traffic to each slot really goes (PEER_ROUTES, keyed by that URL): routes
// keyed by URL also cover members added later under ids no node knew at start.
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { StatusReport } from '../../worker/node-api';
import { Network, type Cut } from './network';
import { NodeRunner, type CrashRecord, type NodeSpec } from './node-runner';

/** The cluster's secret and the settings every node runs with, as NodeRunner takes them. */
type NodeTuning = Pick<
  NodeSpec,
  'secret' | 'electionTimeoutMs' | 'heartbeatIntervalMs' | 'requestTimeoutMs' | 'logLevel' | 'snapshotEvery' | 'logRetain'
>;

export interface ClusterOptions extends NodeTuning {
  /** Voters at start: n1..nN in the first N slots. */
  nodes: number;
  /** Slots (ports) in all: the most nodes that can run at once, joining ones included. */
  slots: number;
  nodeBasePort: number;
  proxyBasePort: number;
  runDir: string;
  startTimeoutMs: number;
  now: () => number;
}

const slotName = (s: number): string => `s${s + 1}`;

export class FaultCluster {
  readonly network: Network;
  readonly crashes: CrashRecord[] = [];
  /** Every node ever started, retired ones included (for their logs). */
  private readonly runners = new Map<string, NodeRunner>();
  /** Node id → its slot, for nodes not retired. */
  private readonly slotOf = new Map<string, number>();
  private nextId: number;

  /** The cluster secret, which is also the admin API's token (no ADMIN_TOKEN is set). */
  get secret(): string {
    return this.opts.secret;
  }

  constructor(private readonly opts: ClusterOptions) {
    if (opts.slots < opts.nodes) throw new Error(`${opts.slots} slots cannot hold ${opts.nodes} nodes`);
    const slots = Array.from({ length: opts.slots }, (_, s) => ({ id: slotName(s), port: opts.nodeBasePort + s }));
    this.network = new Network(slots, opts.proxyBasePort);
    mkdirSync(join(opts.runDir, 'data'), { recursive: true });
    const initial = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    this.nextId = opts.nodes + 1;
    for (const [s, id] of initial.entries()) {
      const peers = initial.filter((p) => p !== id).map((p) => `${p}=${this.slotUrl(initial.indexOf(p))}`);
      this.place(id, s, { peers: peers.join(',') });
    }
  }

  /** Nodes not retired (running, starting, paused or down awaiting a restart), in id order. */
  get ids(): string[] {
    return [...this.slotOf.keys()].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  /** The real URL of a slot: what configurations, redirects and clients use. */
  slotUrl(slot: number): string {
    return `http://127.0.0.1:${this.opts.nodeBasePort + slot}`;
  }

  node(id: string): NodeRunner {
    const r = this.runners.get(id);
    if (!r) throw new Error(`no node ${id}`);
    return r;
  }

  isRetired(id: string): boolean {
    return this.runners.has(id) && !this.slotOf.has(id);
  }

  /** Every slot's client URL (clients talk to nodes directly, never through a proxy), by slot name. */
  urls(): Map<string, string> {
    return new Map(Array.from({ length: this.opts.slots }, (_, s) => [slotName(s), this.slotUrl(s)]));
  }

  logFiles(): string[] {
    return [...this.runners.values()].map((r) => r.spec.logFile);
  }

  async start(): Promise<void> {
    // A busy port would make a node exit at start-up, which reads as a crash:
    // say plainly that something else holds it.
    for (let s = 0; s < this.opts.slots; s++) {
      const port = this.opts.nodeBasePort + s;
      if (!(await waitPortFree(port, 10_000)))
        throw new Error(`port ${port} is in use by another process (choose others with --node-port)`);
    }
    await this.network.start();
    await Promise.all(this.ids.map((id) => this.node(id).start(this.opts.startTimeoutMs)));
  }

  /** A slot no node occupies, or null when all are taken. */
  freeSlot(): number | null {
    const taken = new Set(this.slotOf.values());
    for (let s = 0; s < this.opts.slots; s++) if (!taken.has(s)) return s;
    return null;
  }

  /**
   * Starts a new node, under an id never used before, in a free slot, with
   * --join: it waits, not campaigning, until a configuration naming it arrives.
   * Returns its id and the URL to add it with, or null when every slot is taken.
   */
  async startJoiner(joinUrl: string): Promise<{ id: string; url: string } | null> {
    const slot = this.freeSlot();
    if (slot === null) return null;
    const id = `n${this.nextId++}`;
    this.place(id, slot, { join: joinUrl });
    this.applyCuts(this.lastCuts);
    await this.node(id).start(this.opts.startTimeoutMs);
    return { id, url: this.slotUrl(slot) };
  }

  /** A node that left the cluster (or never got in): its process goes for good and its slot is free again. */
  async retire(id: string): Promise<void> {
    if (!this.slotOf.has(id)) return;
    // Out of the slot table first, so a restart racing with this gives up instead of failing the run.
    this.slotOf.delete(id);
    await this.node(id).kill();
    this.applyCuts(this.lastCuts);
  }

  private lastCuts: readonly Cut[] = [];

  /** Cuts exactly these links between nodes (by id; links of retired nodes are skipped), heals every other. */
  applyCuts(cuts: readonly Cut[]): void {
    this.lastCuts = cuts;
    const bySlot: Cut[] = [];
    for (const c of cuts) {
      const from = this.slotOf.get(c.from);
      const to = this.slotOf.get(c.to);
      if (from !== undefined && to !== undefined) bySlot.push({ from: slotName(from), to: slotName(to), mode: c.mode });
    }
    this.network.apply(bySlot);
  }

  healNetwork(): void {
    this.applyCuts([]);
  }

  /** "n1→n2 reset, ..." in node ids, or "all open". */
  describeNetwork(): string {
    const occupant = new Map([...this.slotOf].map(([id, s]) => [slotName(s), id]));
    return this.network.describe().replace(/s\d+/g, (s) => occupant.get(s) ?? s);
  }

  /** Deletes a stopped node's data (only for the amnesia self-test). */
  wipe(id: string): void {
    const r = this.node(id);
    if (r.state !== 'down') throw new Error(`cannot wipe running node ${id}`);
    rmSync(r.spec.dataDir, { recursive: true, force: true });
  }

  async restart(id: string): Promise<void> {
    if (this.isRetired(id)) return;
    try {
      await this.node(id).start(this.opts.startTimeoutMs);
    } catch (err) {
      if (!this.isRetired(id)) throw err; // retired while it started: it was meant to go
    }
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

  /** Polls until some node leads and a majority of its configuration's voters agree on it. */
  async waitForLeader(timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const all = await Promise.all(this.ids.map((id) => this.status(id)));
      for (const lead of all) {
        if (lead?.role !== 'leader') continue;
        const voters = new Set(lead.membership.voters.map((v) => v.id));
        const agree = all.filter(
          (s) => s && voters.has(s.id) && s.term === lead.term && (s.id === lead.id || s.leader?.id === lead.id),
        ).length;
        if (agree >= Math.floor(voters.size / 2) + 1) return lead.id;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  /** Resume every paused node, restart every killed one, heal every link. */
  async healAll(): Promise<void> {
    this.healNetwork();
    for (const id of this.ids) if (this.node(id).state === 'paused') this.node(id).resume();
    await Promise.all(this.ids.filter((id) => this.node(id).state === 'down').map((id) => this.restart(id)));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    await this.network.close();
  }

  /** Synchronous: SIGKILL every node group still alive (exit and signal handlers). */
  killNow(): void {
    for (const r of this.runners.values()) r.killNow();
  }

  private place(id: string, slot: number, how: { peers: string } | { join: string }): void {
    const o = this.opts;
    // This node reaches every other slot through the proxy of that link.
    const routes = Array.from({ length: o.slots }, (_, s) => s)
      .filter((s) => s !== slot)
      .map((s) => `${this.slotUrl(s)}=${this.network.url(slotName(slot), slotName(s))}`);
    const runner = new NodeRunner(
      {
        id,
        port: o.nodeBasePort + slot,
        ...('peers' in how ? { peers: how.peers } : { peers: '', join: how.join }),
        peerRoutes: routes.join(','),
        dataDir: join(o.runDir, 'data', id),
        logFile: join(o.runDir, `${id}.log`),
        secret: o.secret,
        electionTimeoutMs: o.electionTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        requestTimeoutMs: o.requestTimeoutMs,
        logLevel: o.logLevel,
        snapshotEvery: o.snapshotEvery,
        logRetain: o.logRetain,
      },
      o.now,
      (c) => this.crashes.push(c),
    );
    this.runners.set(id, runner);
    this.slotOf.set(id, slot);
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
