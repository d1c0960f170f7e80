// Every knob of a run, drawn from the seed (swarm testing, as in VOPR's
// `options_swarm`): cluster size, Raft timings, network fault rates, which
// faults the nemesis may inject and how often, client mix. A seed that turns
// a fault off explores deeper states of the others, so no rate is fixed.
import type { RaftConfig } from '../../worker/raft/config';
import type { ClientOptions } from './clients';
import type { NetworkOptions } from './network';
import type { Plant } from './plants';
import { formatRatio, ratio, type Prng, type Ratio } from './prng';

/** `crashAfterVote`: the next node to grant a vote crashes right after granting it. */
/** `reconfigure`: the leader is asked for a membership change or a leadership transfer (thesis §4.1, §3.10). */
export type FaultKind = 'heal' | 'split' | 'isolate' | 'oneWay' | 'crash' | 'crashAfterVote' | 'pause' | 'quiet' | 'reconfigure';
export const faultKinds: readonly FaultKind[] = [
  'heal',
  'split',
  'isolate',
  'oneWay',
  'crash',
  'crashAfterVote',
  'pause',
  'quiet',
  'reconfigure',
];

export interface FaultOptions {
  /** Time between two nemesis actions: uniform in [min, max]. */
  intervalMinMs: number;
  intervalMaxMs: number;
  weights: Record<FaultKind, number>;
  /** A crashed node restarts after up to this long. */
  downMaxMs: number;
  pauseMaxMs: number;
  /** Chance that a targeted fault (isolate, crash, pause) hits the leader rather than any node. */
  leaderBias: Ratio;
}

/** Every knob of the core's configuration except membership. */
export type RaftKnobs = Omit<RaftConfig, 'self' | 'peers'>;

export interface SimOptions {
  nodeCount: number;
  raft: RaftKnobs;
  network: NetworkOptions;
  faults: FaultOptions;
  /** A node's tick runs up to this late after its deadline. */
  tickJitterMaxMs: number;
  /** Chance, each time a node's alarm is set, of an extra tick before the deadline. */
  spuriousTick: Ratio;
  /** Each node's clock is offset from the others by up to this much. */
  clockSkewMaxMs: number;
  clients: ClientOptions;
  /** Length of the phase with faults. */
  safetyPhaseMs: number;
  /** After healing, the cluster must elect a leader and finish every pending operation within this. */
  livenessBudgetMs: number;
  /** Leaders write new entries after sending them (worker/host/held-writes.ts), up to this late. */
  heldWrites: { enabled: boolean; delayMaxMs: number };
  /**
   * Client requests that reach a node within a few ms go to the core
   * together, as proposeBatch and readBatch (the Worker's shared calls,
   * worker/front/coalesce.ts); otherwise one call each.
   */
  sharedCalls: boolean;
  /** A node's storage write becomes durable up to this long after it is made (test/sim/storage.ts). */
  syncMaxMs: number;
  /** A node answers `timeout` to a request it could not settle within this. */
  nodeRequestTimeoutMs: number;
  /** Log compaction every `every` applied entries keeping `retain`; snapshots sent in chunks of `chunkBytes` (§7). */
  snapshot: { every: number; retain: number; chunkBytes: number };
  /**
   * How many nodes form the first configuration; the others start outside it
   * (joining) and the `reconfigure` fault adds, promotes, removes and
   * transfers leadership. Equal to nodeCount when membership is not drawn.
   */
  initialVoters: number;
}

export function drawOptions(p: Prng): SimOptions {
  const nodeCount = p.pick([1, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5]);
  const electionTimeoutMs = p.pick([100, 150, 200, 300]);
  const raft: RaftKnobs = {
    electionTimeoutMs,
    heartbeatIntervalMs: Math.floor(electionTimeoutMs / p.between(3, 6)),
    maxEntriesPerMessage: p.pick([1, 3, 64, 512]),
    maxBytesPerMessage: p.pick([200, 4096, 512 * 1024]),
    maxInflight: p.pick([1, 2, 8]),
    preVote: p.chance(ratio(4, 5)),
    checkQuorum: p.chance(ratio(4, 5)),
    // Tiny windows and batches keep the core reading entries back from the disk.
    payloadWindowEntries: p.pick([1, 2, 8, 64, 1024]),
    payloadWindowBytes: p.pick([100, 4096, 1024 * 1024]),
    maxCommittedEntriesPerReady: p.pick([1, 2, 8, 1024]),
    maxCommittedBytesPerReady: p.pick([100, 4096, 1024 * 1024]),
  };
  const delayMinMs = p.between(0, 5);
  const network: NetworkOptions = {
    delayMinMs,
    delayMaxMs: delayMinMs + p.between(1, Math.floor(electionTimeoutMs / 5)),
    drop: ratio(maybe(p, p.between(1, 20)), 100),
    duplicate: ratio(maybe(p, p.between(1, 10)), 100),
    slow: ratio(maybe(p, p.between(1, 5)), 100),
    slowMaxMs: p.between(electionTimeoutMs, 10 * electionTimeoutMs),
    clientDelayMaxMs: p.between(1, 20),
    clientDrop: ratio(maybe(p, p.between(1, 5)), 100),
    wireCopy: p.chance(ratio(1, 4)),
  };
  const weights = {} as Record<FaultKind, number>;
  for (const k of faultKinds) weights[k] = k === 'reconfigure' ? 0 : maybe(p, p.between(1, 4));
  weights.heal = p.between(1, 4); // partitions must come and go
  if (nodeCount === 1) weights.split = weights.isolate = weights.oneWay = 0;
  const intervalMinMs = p.between(20, 2 * electionTimeoutMs);
  const faults: FaultOptions = {
    intervalMinMs,
    intervalMaxMs: intervalMinMs + p.between(0, 10 * electionTimeoutMs),
    weights,
    downMaxMs: p.between(1, 10 * electionTimeoutMs),
    pauseMaxMs: p.between(1, 4 * electionTimeoutMs),
    leaderBias: ratio(p.between(0, 4), 4),
  };
  const requestTimeoutMs = electionTimeoutMs * p.between(2, 5);
  const clients: ClientOptions = {
    count: p.between(1, 5),
    keys: ['x', 'y', 'z'].slice(0, p.between(1, 3)),
    thinkMaxMs: p.pick([0, 10, 50, 200]),
    requestTimeoutMs,
    abandon: ratio(maybe(p, p.between(1, 20)), 100),
    mix: [p.between(1, 4), p.between(0, 4), p.between(0, 2), p.between(0, 4)],
    retryBackoffMs: Math.floor(electionTimeoutMs / 2),
  };
  const options: SimOptions = {
    nodeCount,
    raft,
    network,
    faults,
    tickJitterMaxMs: p.pick([0, 0, 2, 10, 30]),
    spuriousTick: ratio(maybe(p, p.between(1, 10)), 100),
    clockSkewMaxMs: p.pick([0, 1000, 1_000_000]),
    clients,
    safetyPhaseMs: p.between(5_000, 15_000),
    livenessBudgetMs: 12 * electionTimeoutMs + 3 * requestTimeoutMs,
    // Drawn last, so the knobs above stay what older seeds drew.
    heldWrites: { enabled: p.chance(ratio(3, 4)), delayMaxMs: p.pick([0, 1, 5, 20]) },
    sharedCalls: p.chance(ratio(1, 2)),
    syncMaxMs: p.pick([0, 1, 3, 10]),
    nodeRequestTimeoutMs: electionTimeoutMs * p.between(2, 10),
    // Tiny thresholds on most seeds, so compaction and InstallSnapshot run all the time;
    // chunks small enough that a snapshot takes many of them.
    snapshot: { every: p.pick([3, 10, 30, 100, 1_000_000]), retain: p.pick([0, 1, 5, 20]), chunkBytes: p.pick([64, 1024, 8192]) },
    initialVoters: nodeCount,
  };
  // Membership changes on half the seeds: some nodes start outside the configuration.
  if (p.chance(ratio(1, 2))) {
    options.faults.weights.reconfigure = p.between(1, 4);
    options.initialVoters = Math.max(1, nodeCount - p.between(0, 2));
  }
  return options;
}

/** Half the time a rate is off entirely: swarm testing turns whole faults off, not just down. */
function maybe(p: Prng, n: number): number {
  return p.chance(ratio(1, 2)) ? n : 0;
}

/** One line per group of knobs, for `--verbose` and failure reports. */
export function describeOptions(o: SimOptions): string[] {
  const r = o.raft;
  const n = o.network;
  const f = o.faults;
  const c = o.clients;
  const w = faultKinds.map((k) => `${k}=${f.weights[k]}`).join(' ');
  return [
    `nodes=${o.nodeCount} phase=${o.safetyPhaseMs}ms liveness<=${o.livenessBudgetMs}ms tickJitter<=${o.tickJitterMaxMs}ms spuriousTick=${formatRatio(o.spuriousTick)} clockSkew<=${o.clockSkewMaxMs}ms ` +
      `heldWrites=${o.heldWrites.enabled ? `<=${o.heldWrites.delayMaxMs}ms` : 'off'} sharedCalls=${o.sharedCalls ? 'on' : 'off'} sync<=${o.syncMaxMs}ms nodeTimeout=${o.nodeRequestTimeoutMs}ms ` +
      `snapshot: every=${o.snapshot.every} retain=${o.snapshot.retain} chunk=${o.snapshot.chunkBytes}B initialVoters=${o.initialVoters}`,
    `raft: election=${r.electionTimeoutMs}ms heartbeat=${r.heartbeatIntervalMs}ms maxEntries=${r.maxEntriesPerMessage} maxBytes=${r.maxBytesPerMessage} inflight=${r.maxInflight} preVote=${r.preVote} checkQuorum=${r.checkQuorum} ` +
      `window=${r.payloadWindowEntries}/${r.payloadWindowBytes}B committedPerReady=${r.maxCommittedEntriesPerReady}/${r.maxCommittedBytesPerReady}B`,
    `network: delay=${n.delayMinMs}..${n.delayMaxMs}ms drop=${formatRatio(n.drop)} dup=${formatRatio(n.duplicate)} slow=${formatRatio(n.slow)}(<=${n.slowMaxMs}ms) client: delay<=${n.clientDelayMaxMs}ms drop=${formatRatio(n.clientDrop)} wireCopy=${n.wireCopy}`,
    `faults: every ${f.intervalMinMs}..${f.intervalMaxMs}ms weights ${w} down<=${f.downMaxMs}ms pause<=${f.pauseMaxMs}ms leaderBias=${formatRatio(f.leaderBias)}`,
    `clients: ${c.count} keys=${c.keys.join(',')} think<=${c.thinkMaxMs}ms timeout=${c.requestTimeoutMs}ms abandon=${formatRatio(c.abandon)} mix(get,set,del,cas)=${c.mix.join(',')}`,
  ];
}

/**
 * Makes the faults a planted bug needs more frequent, so a scan of a few
 * seeds finds it. The seed still decides everything else.
 */
export function tuneForPlant(o: SimOptions, plant: Plant): void {
  const w = o.faults.weights;
  switch (plant) {
    case 'staleReads':
      // An isolated leader that never steps down keeps answering reads while a new leader takes writes.
      if (o.nodeCount < 3) o.nodeCount = 3;
      o.raft.checkQuorum = false;
      Object.assign(w, { heal: 1, isolate: 4, split: 1, crash: 0, pause: 0 });
      o.faults.leaderBias = ratio(1, 1);
      o.clients.count = Math.max(o.clients.count, 3);
      o.clients.keys = o.clients.keys.slice(0, 1);
      o.clients.mix[0] = 4;
      return;
    case 'forgetVote':
      // Many elections with slow, duplicated vote requests and voters that crash right after voting.
      o.nodeCount = 5;
      o.raft.preVote = false;
      o.network.slow = ratio(0, 100);
      o.network.duplicate = ratio(20, 100);
      o.network.delayMinMs = 0;
      o.network.delayMaxMs = Math.floor(o.raft.electionTimeoutMs / 2);
      Object.assign(w, { crash: 2, crashAfterVote: 6, isolate: 2, heal: 2 });
      o.faults.intervalMinMs = 10;
      o.faults.intervalMaxMs = o.raft.electionTimeoutMs;
      o.faults.downMaxMs = 10;
      return;
    case 'lostWrites':
      w.crash = Math.max(w.crash, 2);
      return;
    case 'unwrittenHeld':
      // Held writes that wait long enough for replies, commits and crashes to come first.
      o.heldWrites = { enabled: true, delayMaxMs: 20 };
      o.syncMaxMs = Math.max(o.syncMaxMs, 3);
      w.crash = Math.max(w.crash, 2);
      return;
    case 'holdEveryWrite':
      // Writes that wait long enough for the messages sent ahead of them to be acted on.
      o.heldWrites = { enabled: true, delayMaxMs: 20 };
      o.syncMaxMs = Math.max(o.syncMaxMs, 3);
      w.crash = Math.max(w.crash, 2);
      return;
  }
}
