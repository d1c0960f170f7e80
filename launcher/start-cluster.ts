// The programmatic launcher: start an N-node cluster on 127.0.0.1, crash,
// restart, pause and resume single nodes, find the leader, stop everything.
//
// mode 'inprocess' (default): one Miniflare instance per node, each with its
//   own workerd child of this process. kill = SIGKILL of that workerd.
// mode 'process': one OS process per node (launcher/node-process.ts), each in
//   its own process group. kill = SIGKILL of the group.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeWorkerBundle } from './bundle';
import { NodeInstance, type LineSink } from './instance';
import type { Member, NodeSettings } from './node-config';
import { ProcessMember, type ExitRecord } from './process';
import { isAlive, waitStopped } from './procfs';
import { generateSecret } from './secret';
import { fetchStatus, waitForAgreedLeader } from './status';
import { initialLayout, type LayoutNode } from './cluster-layout';

export type { Member } from './node-config';
export type { ExitRecord } from './process';
import type { StatusReport } from '../worker/node-api';
export type { StatusReport };

export interface LaunchOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** Node i (from 0) listens on basePort + i (default 8787). */
  basePort?: number;
  /** Interface and advertised host (default 127.0.0.1). */
  host?: string;
  /** Parent of the nodes' data folders (<dataDir>/<id>); default: a fresh temp folder, removed by stop(). */
  dataDir?: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  requestTimeoutMs?: number;
  slowdown?: number;
  logLevel?: string;
  /** Peer messages over WebSockets (the node's PEER_STREAMS); default on. */
  peerStreams?: boolean;
  /** V8 flags for every node's workerd (default defaultV8Flags in launcher/workerd-v8-flags.ts). */
  v8Flags?: string[];
  /** Applied entries between log compactions (SNAPSHOT_EVERY); the node's default when undefined. */
  snapshotEvery?: number;
  /** Entries kept behind a compaction (LOG_RETAIN); the node's default when undefined. */
  logRetain?: number;
  /**
   * Exactly these nodes instead of `nodes` from `basePort` (cluster-layout.ts):
   * joined ones start with --join, the others with the PEERS of the non-joined.
   */
  layout?: LayoutNode[];
  /** Cluster secret; generated if absent. */
  secret?: string;
  mode?: 'process' | 'inprocess';
  /** Every log line of every node; lines are also kept (the last 2000 per node) for logs(id). */
  onLog?: (nodeId: string, line: string) => void;
}

export interface Cluster {
  /** The nodes this launcher runs now (addNode and removeNode change it). */
  members: Member[];
  secret: string;
  dataDir: string;
  mode: 'process' | 'inprocess';
  /** Crash a node: SIGKILL, no clean shutdown. */
  kill(id: string): Promise<void>;
  /** Start a node again on the same port and data (kills it first if it still runs). */
  restart(id: string): Promise<void>;
  /** SIGSTOP / SIGCONT. */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Stop every node; idempotent. */
  stop(): Promise<void>;
  /** The node a majority agrees leads (and that says so itself). */
  waitForLeader(timeoutMs?: number): Promise<Member>;
  /** GET /status of one node (throws if it does not answer). */
  status(id: string): Promise<StatusReport>;
  /** Live OS processes of a node: its workerd (inprocess) or its process group (process). */
  pids(id: string): number[];
  /** The buffered log lines of a node. */
  logs(id: string): string[];
  /** Nodes that exited without being asked to. */
  crashes(): ExitRecord[];
  /** Starts a new node that joins the cluster (--join): it waits until a configuration names it. */
  addNode(node: LayoutNode): Promise<Member>;
  /** Stops a node for good (after its removal from the configuration) and forgets it. */
  removeNode(id: string): Promise<void>;
}

interface Driver {
  start(): Promise<void>;
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
  pids(): number[];
  /** Signal sent from a process 'exit' hook: must be synchronous. */
  killSync(): void;
  /** True once for each time the node's process vanished while it should run (in-process mode checks on demand). */
  lost(): boolean;
}

function inprocessDriver(settings: NodeSettings, sink: LineSink): Driver {
  const node = new NodeInstance(settings, sink);
  let reportedPid: number | null = null;
  return {
    start: () => node.start(),
    kill: () => node.kill(),
    pause: () => node.pause(),
    resume: () => node.resume(),
    stop: () => node.dispose(),
    pids: () => (node.pid !== null && isAlive(node.pid) ? [node.pid] : []),
    killSync: () => {
      if (node.pid !== null) trySignal(node.pid, 'SIGKILL');
    },
    lost: () => {
      const pid = node.pid;
      if (pid === null || pid === reportedPid || isAlive(pid)) return false;
      reportedPid = pid;
      return true;
    },
  };
}

function processDriver(settings: NodeSettings, sink: LineSink, onExit: (r: ExitRecord) => void, bundleFile: string): Driver {
  const member = new ProcessMember(settings, sink, onExit, bundleFile);
  return {
    start: () => member.start(),
    kill: () => member.kill(),
    pause: () => member.pause(),
    resume: () => member.resume(),
    stop: () => member.stop(),
    pids: () => member.pids(),
    killSync: () => {
      if (member.pgid !== null) trySignal(-member.pgid, 'SIGKILL');
    },
    lost: () => false, // exits are recorded as they happen
  };
}

function trySignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

const maxLogLines = 2000;

export async function startCluster(opts: LaunchOptions = {}): Promise<Cluster> {
  const layout = opts.layout ?? initialLayout(opts.nodes ?? 3, opts.basePort ?? 8787);
  const count = layout.length;
  const host = opts.host ?? '127.0.0.1';
  const mode = opts.mode ?? 'inprocess';
  if (!Number.isInteger(count) || count < 1) throw new Error(`nodes must be a positive integer, got ${count}`);
  if (layout.some((n) => !Number.isInteger(n.port) || n.port < 1 || n.port > 65535)) {
    throw new Error(`ports ${layout.map((n) => n.port).join(', ')} are not all valid`);
  }
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = ownsDataDir ? mkdtempSync(join(tmpdir(), 'raft-kv-')) : resolve(opts.dataDir!);
  mkdirSync(dataDir, { recursive: true });
  const secret = opts.secret ?? generateSecret();
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const urlOf = (port: number): string => `http://${urlHost}:${port}`;
  const members: Member[] = layout.map((n) => ({ id: n.id, url: urlOf(n.port) }));
  const originals = layout.filter((n) => !n.joined).map((n) => ({ id: n.id, url: urlOf(n.port) }));

  const logs = new Map<string, string[]>(members.map((m) => [m.id, []]));
  const crashes: ExitRecord[] = [];
  const drivers = new Map<string, Driver>();
  // Process mode: bundle once here rather than once per node process.
  let bundleFile = '';
  try {
    if (mode === 'process') bundleFile = await writeWorkerBundle(join(dataDir, '.worker-bundle.js'));
  } catch (err) {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const makeDriver = (node: LayoutNode): Driver => {
    const m = { id: node.id, url: urlOf(node.port) };
    // A joined node's peers come from the configuration in its log; --join names any other member.
    const joinUrl = node.joined ? members.find((p) => p.id !== m.id)?.url : undefined;
    const settings: NodeSettings = {
      id: m.id,
      host,
      port: node.port,
      url: m.url,
      peers: joinUrl !== undefined ? [] : originals.filter((p) => p.id !== m.id),
      ...(joinUrl !== undefined ? { join: joinUrl } : {}),
      secret,
      dataDir: join(dataDir, m.id),
      electionTimeoutMs: opts.electionTimeoutMs,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      requestTimeoutMs: opts.requestTimeoutMs,
      slowdown: opts.slowdown,
      logLevel: opts.logLevel,
      peerStreams: opts.peerStreams,
      v8Flags: opts.v8Flags,
      snapshotEvery: opts.snapshotEvery,
      logRetain: opts.logRetain,
    };
    if (!logs.has(m.id)) logs.set(m.id, []);
    const sink: LineSink = (line) => {
      const buf = logs.get(m.id)!;
      buf.push(line);
      if (buf.length > maxLogLines) buf.splice(0, buf.length - maxLogLines);
      opts.onLog?.(m.id, line);
    };
    return mode === 'process' ? processDriver(settings, sink, (r) => crashes.push(r), bundleFile) : inprocessDriver(settings, sink);
  };
  for (const node of layout) drivers.set(node.id, makeDriver(node));

  // If this process exits without stop(), take the nodes down with it.
  const exitHook = (): void => drivers.forEach((d) => d.killSync());
  process.on('exit', exitHook);

  let stopped = false;
  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...drivers.values()].map((d) => d.stop()));
    process.off('exit', exitHook);
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };

  const started = await Promise.allSettled([...drivers.values()].map((d) => d.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }

  const driver = (id: string): Driver => {
    const d = drivers.get(id);
    if (!d) throw new Error(`no node "${id}" (members: ${members.map((m) => m.id).join(', ')})`);
    return d;
  };
  const member = (id: string): Member => {
    driver(id); // throws for an unknown id
    return members.find((m) => m.id === id)!;
  };
  const electionMs = (opts.electionTimeoutMs ?? 400) * (opts.slowdown ?? 1);

  return {
    members,
    secret,
    dataDir,
    mode,
    kill: async (id) => driver(id).kill(),
    restart: async (id) => {
      const d = driver(id);
      await d.kill();
      await d.start();
    },
    pause: async (id) => {
      const d = driver(id);
      d.pause();
      // SIGSTOP lands asynchronously; "paused" should mean paused.
      await waitStopped(d.pids(), 2000);
    },
    resume: async (id) => driver(id).resume(),
    stop: stopAll,
    waitForLeader: (timeoutMs = Math.max(10_000, 25 * electionMs)) => waitForAgreedLeader(members, members.length, timeoutMs),
    status: async (id) => fetchStatus(member(id).url, 2000),
    pids: (id) => driver(id).pids(),
    logs: (id) => [...(logs.get(member(id).id) ?? [])],
    addNode: async (node) => {
      if (drivers.has(node.id)) throw new Error(`node ${node.id} already runs`);
      const d = makeDriver(node);
      await d.start();
      drivers.set(node.id, d);
      const m = { id: node.id, url: urlOf(node.port) };
      members.push(m);
      return m;
    },
    removeNode: async (id) => {
      const d = driver(id);
      await d.stop();
      drivers.delete(id);
      members.splice(
        members.findIndex((m) => m.id === id),
        1,
      );
    },
    crashes: () => {
      for (const [id, d] of drivers) {
        if (d.lost()) crashes.push({ id, code: null, signal: null, atMs: Date.now() });
      }
      return [...crashes];
    },
  };
}
