// The parts one Raft node is made of, built from its storage and settings:
// the pure core loaded from SQLite, the KV state machine, and the adapters
// (storage, alarm timers, transport), with the logger they share. raft-node.ts
// builds them once at start and then only carries out Readies with them.
import type { NodeSettings } from './node-config';
import { PendingRequests } from './pending-requests';
import { AlarmTimers } from './adapters/alarm-timers';
import { FetchTransport } from './adapters/fetch-transport';
import { SqlRaftStorage } from './adapters/sql-storage';
import { nodeLogger } from './logging';
import type { LogContext } from './logging';
import { KvStateMachine } from './kv/store';
import { RaftNode } from './raft/node';
import type { Logger } from './raft/logger';
import type { Message } from './raft/messages';

export interface Live {
  settings: NodeSettings;
  core: RaftNode;
  kv: KvStateMachine;
  storage: SqlRaftStorage;
  timers: AlarmTimers;
  transport: FetchTransport;
  pending: PendingRequests;
  logger: Logger;
  logContext: LogContext;
}

/** The alarm timer that holds a waiting request's deadline. */
export const requestTimer = (ref: number): string => `request:${ref}`;

/** What the parts need from the Durable Object that owns them. */
export interface NodeHooks {
  /** Replies a peer sent back, to step into the core. */
  deliver: (replies: Message[]) => void;
  /** The node's monotonic clock. */
  now: () => number;
}

export async function assembleNode(ctx: DurableObjectState, settings: NodeSettings, hooks: NodeHooks): Promise<Live> {
  const storage = new SqlRaftStorage(ctx.storage);
  storage.migrate();
  const persisted = storage.load();
  const armedAt = await ctx.storage.getAlarm();
  const logContext: LogContext = { node: settings.raft.self.id, term: persisted.hardState.term, role: 'follower' };
  const logger = nodeLogger(settings.logLevel, logContext);
  const timers = new AlarmTimers(ctx.storage, armedAt, (err) => logger.log('error', 'setAlarm failed', { err: String(err) }));
  const transport = new FetchTransport({
    self: settings.raft.self.id,
    peers: settings.raft.peers,
    secret: settings.clusterSecret,
    timeoutMs: settings.peerRequestTimeoutMs,
    maxInflightPerPeer: 2,
    warnIntervalMs: 5000,
    logger,
    deliver: hooks.deliver,
    track: (work) => ctx.waitUntil(work),
    now: hooks.now,
    streams: settings.peerStreams,
  });
  const pending = new PendingRequests(
    (ref) => timers.clear(requestTimer(ref)),
    (msg, fields) => logger.log('error', msg, fields),
  );
  const core = new RaftNode({
    config: settings.raft,
    persisted,
    random: cryptoRandom,
    now: hooks.now(),
    // SQL in a Durable Object is synchronous, and the core only asks for stored entries.
    loadEntries: (from, to, maxBytes) => storage.loadEntries(from, to, maxBytes),
    logger,
  });
  logger.log('info', 'node started', {
    url: settings.raft.self.url,
    peers: settings.raft.peers.map((p) => p.id),
    lastLogIndex: persisted.terms.length,
    commit: persisted.hardState.commit,
  });
  return { settings, core, kv: new KvStateMachine(), storage, timers, transport, pending, logger, logContext };
}

/** Uniform in [0, 1) from the platform CSPRNG, for randomized election timeouts (§5.2). */
function cryptoRandom(): number {
  const word = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return word / 2 ** 32;
}
