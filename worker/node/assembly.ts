// The parts one Raft node is made of, built from its storage and settings:
// the pure core loaded from SQLite, the KV state machine, the adapters
// (storage, alarm timers, transport) and the host that carries out Readies
// with them. node-object.ts builds them once at start.
import type { NodeSettings } from './config';
import { AlarmTimers } from '../adapters/alarm-timers';
import { FetchTransport, type TransportOptions } from '../adapters/fetch-transport';
import type { HostTransport } from '../host/ports';
import { SqlRaftStorage } from '../adapters/sql-storage';
import { NodeHost } from '../host/node-host';
import { nodeLogger } from '../logging';
import type { LogContext } from '../logging';
import type { KvResult } from '../kv/commands';
import { SqlKvMachine } from './kv-machine';
import { RaftNode } from '../raft/node';
import { allMembers } from '../raft/membership';
import type { Logger } from '../raft/logger';
import { NodeMetrics } from '../metrics/node-metrics';
import { exposedGc, IdleCollector } from '../adapters/idle-collect';
import { DurabilitySampler } from '../metrics/durability';

/**
 * Characters of a snapshot per peer message. JSON escaping and UTF-8 can make
 * one character up to six bytes on the wire, and a message stays under 1 MiB.
 */
const snapshotChunkBytes = 128 * 1024;

/**
 * Frames (or POSTs) open to one peer at a time. With two, a leader under load
 * found both busy so often that its AppendEntries piled up in the held batch
 * (at 64 clients: about 10 entries per message, 2.2 messages per frame), and
 * the follower steps, stores and answers each message on its own. With four,
 * about 20 entries per message and one message per frame, and the leader's
 * CPU per write fell by a fifth (docs/benchmarks.md).
 */
const PEER_FRAMES_IN_FLIGHT = 4;

/** The host of a key-value node: writes answer a KvResult, reads take a key and answer its value. */
export type KvHost = NodeHost<KvResult, string, string | null>;

/** The transport a node sends with: the host's port, plus how each peer is reached now (GET /status). */
export interface NodeTransport extends HostTransport {
  streamStates(): Record<string, 'open' | 'post'> | null;
}

export interface Live {
  settings: NodeSettings;
  host: KvHost;
  core: RaftNode;
  timers: AlarmTimers;
  transport: NodeTransport;
  logger: Logger;
  metrics: NodeMetrics;
}

/** What the parts need from the Durable Object that owns them. */
export interface NodeHooks {
  /** The node's monotonic clock. */
  now: () => number;
  /** The host stopped after an internal error (see NodeHost's `fatal`). */
  fatal: (err: unknown) => void;
  /** Another way to reach peers (the edge topology's Durable Object stubs); HTTP to peer URLs by default. */
  transport?: (options: TransportOptions) => NodeTransport;
}

export async function assembleNode(ctx: DurableObjectState, settings: NodeSettings, hooks: NodeHooks): Promise<Live> {
  const storage = new SqlRaftStorage(ctx.storage);
  storage.migrate();
  // The KV state lives in the same database; the core resumes after the entries it reflects.
  const machine = new SqlKvMachine(ctx.storage, storage);
  const persisted = storage.load(machine.appliedIndex);
  const armedAt = await ctx.storage.getAlarm();
  const logContext: LogContext = { node: settings.raft.self.id, term: persisted.hardState.term, role: 'follower' };
  const logger = nodeLogger(settings.logLevel, logContext);
  const timers = new AlarmTimers(ctx.storage, armedAt, (err) => logger.log('error', 'setAlarm failed', { err: String(err) }));
  const core = new RaftNode({
    config: settings.raft,
    persisted,
    random: cryptoRandom,
    now: hooks.now(),
    // SQL in a Durable Object is synchronous, and the core only asks for stored entries.
    loadEntries: (from, to, maxBytes) => storage.loadEntries(from, to, maxBytes),
    logger,
  });
  // Peers from the configuration the log holds (a joined node has no PEERS), then its changes.
  const metrics = new NodeMetrics(settings.raft.self, core.membership(), persisted.hardState.term);
  const durability = new DurabilitySampler(
    () => ctx.storage.sync(),
    hooks.now,
    (ms) => metrics.onStorageWrite(ms),
  );
  const gc = exposedGc();
  const idle =
    gc === null
      ? null
      : new IdleCollector(() => {
          gc();
          metrics.onIdleCollect();
        }, hooks.now());
  // The host exists only once the transport does, so replies reach it through this late binding.
  let host: KvHost | null = null;
  const transportOptions: TransportOptions = {
    self: settings.raft.self.id,
    peers: settings.raft.peers,
    routes: settings.peerRoutes,
    secret: settings.clusterSecret,
    timeoutMs: settings.peerRequestTimeoutMs,
    maxInflightPerPeer: PEER_FRAMES_IN_FLIGHT,
    warnIntervalMs: 5000,
    logger,
    deliver: (replies) => {
      metrics.onReceived(replies, hooks.now());
      host?.deliver(replies);
    },
    track: (work) => ctx.waitUntil(work),
    now: hooks.now,
    streams: settings.peerStreams,
    sent: (peer, size) => metrics.onSent(peer, size),
  };
  const transport = hooks.transport?.(transportOptions) ?? new FetchTransport(transportOptions);
  // The stored configuration, not PEERS, says whom to reach after a restart: a
  // node that joined started with none, and members may have come and gone.
  transport.setPeers(allMembers(core.membership()).filter((m) => m.id !== settings.raft.self.id));
  host = new NodeHost({
    core,
    storage,
    transport,
    timers,
    schedule: (run) => void setTimeout(run, 0),
    clock: hooks.now,
    machine,
    requestTimeoutMs: settings.requestTimeoutMs,
    snapshotEvery: settings.snapshotEvery,
    logRetain: settings.logRetain,
    snapshotChunkBytes,
    holdLeaderWrites: true,
    logger,
    logContext,
    fatal: hooks.fatal,
    afterReady: (ready) => {
      metrics.onReady(ready, hooks.now());
      idle?.observe(ready.entries.length + ready.committed.length + ready.reads.length, hooks.now());
      if (ready.hardState !== null || ready.entries.length > 0) durability.wrote();
    },
  });
  logger.log('info', 'node started', {
    url: settings.raft.self.url,
    peers: settings.raft.peers.map((p) => p.id),
    lastLogIndex: (persisted.compacted?.index ?? 0) + persisted.terms.length,
    snapshotIndex: persisted.applied ?? 0,
    commit: persisted.hardState.commit,
  });
  return { settings, host, core, timers, transport, logger, metrics };
}

/** Uniform in [0, 1) from the platform CSPRNG, for randomized election timeouts (§5.2). */
function cryptoRandom(): number {
  const word = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return word / 2 ** 32;
}
