// Runs one seed end to end:
//   1. draw every knob from the seed (swarm.ts);
//   2. safety phase: nodes, clients and the nemesis run for `safetyPhaseMs`
//      while the safety checkers watch every persist, apply and election;
//   3. liveness phase: all faults heal; within `livenessBudgetMs` the nodes
//      must agree on a leader and every pending client operation must finish;
//   4. the client history must be linearizable.
// The run stops at the first violation. Nothing here reads a real clock or
// Math.random, so a seed replays exactly.
import { validateConfig } from '../../worker/raft/config';
import type { LogLevel } from '../../worker/raft/logger';
import type { Message } from '../../worker/raft/messages';
import type { Member } from '../../worker/raft/types';
import type { Operation } from './checkers/history';
import { checkLinearizable } from './checkers/linearizability';
import { SafetyChecker } from './checkers/safety';
import { SnapshotChecker } from './checkers/snapshots';
import { SimViolation, violation, type Violation } from './checkers/violation';
import { Clients } from './clients';
import { Clock, EventLimitExceeded } from './clock';
import { Nemesis } from './nemesis';
import { Network } from './network';
import { Prng } from './prng';
import type { Plant } from './plants';
import { SimNode } from './sim-node';
import { drawOptions, tuneForPlant, type SimOptions } from './swarm';
import { Trace } from './trace';

export interface RunOptions {
  plant?: Plant | null;
  /** Lowest level kept in the log ring (default 'info'; replays of failures use 'debug'). */
  logLevel?: LogLevel;
  logCapacity?: number;
  /** Fail as looping after this many events; default 30 per virtual millisecond of the longest possible run. */
  eventLimit?: number;
  /** Caps the safety phase (the quick profile of `npm test`). */
  phaseMaxMs?: number;
  /** Adjusts the drawn options further. A run tuned this way cannot be replayed from the command line. */
  tune?: (o: SimOptions) => void;
}

export interface RunResult {
  seed: number;
  ok: boolean;
  violation: Violation | null;
  options: SimOptions;
  /** Digest of the event trace: the same seed must give the same digest. */
  digest: string;
  virtualMs: number;
  /** Time from healing to convergence (liveness), or null if never reached. */
  convergedAfterMs: number | null;
  events: number;
  stats: Record<string, number>;
  /** What the clients saw, as given to the linearizability checker. */
  history: Operation[];
  /** Linearizability search gave up (budget); not a failure. */
  linearizabilityUnknown: string | null;
  logs: () => string[];
}

interface World {
  options: SimOptions;
  clock: Clock;
  trace: Trace;
  safety: SafetyChecker;
  network: Network;
  nodes: SimNode[];
  clients: Clients;
  nemesis: Nemesis;
}

export function runSeed(seed: number, run: RunOptions = {}): RunResult {
  const w = buildWorld(seed, run);
  let found: Violation | null = null;
  let convergedAfterMs: number | null = null;
  let linearizabilityUnknown: string | null = null;
  try {
    convergedAfterMs = runPhases(w);
    const lin = checkLinearizable(w.clients.history);
    if (lin.ok === false) throw violation('linearizability', w.clock.now, lin.explanation);
    if (lin.ok === 'unknown') linearizabilityUnknown = lin.reason;
  } catch (err) {
    found = asViolation(err, w.clock.now);
    w.trace.log('sim', 'error', `VIOLATION ${found.kind}: ${found.message}`);
  }
  w.trace.digest.int(w.clock.processed);
  return {
    seed,
    ok: found === null,
    violation: found,
    options: w.options,
    digest: w.trace.digest.hex(),
    virtualMs: w.clock.now,
    convergedAfterMs,
    events: w.clock.processed,
    stats: collectStats(w),
    linearizabilityUnknown,
    history: w.clients.history,
    logs: () => w.trace.format(),
  };
}

/** Draws the options and wires nodes, network, clients and nemesis, each with its own PRNG stream. */
function buildWorld(seed: number, run: RunOptions): World {
  const root = new Prng(seed);
  const options = drawOptions(root.fork());
  if (run.plant) tuneForPlant(options, run.plant);
  if (run.phaseMaxMs !== undefined) options.safetyPhaseMs = Math.min(options.safetyPhaseMs, run.phaseMaxMs);
  run.tune?.(options);
  const clock = new Clock();
  clock.eventLimit = run.eventLimit ?? 30 * (options.safetyPhaseMs + options.livenessBudgetMs);
  const trace = new Trace(clock, run.logCapacity ?? 4000, run.logLevel ?? 'info');
  const initialVoters = Array.from({ length: options.initialVoters }, (_, i) => `n${i + 1}`);
  const safety = new SafetyChecker(clock, initialVoters, options.faults.weights.reconfigure > 0);
  const snapshots = new SnapshotChecker(safety, clock);
  const ids = Array.from({ length: options.nodeCount }, (_, i) => `n${i + 1}`);
  const members: Member[] = ids.map((id) => ({ id, url: `http://${id}.sim` }));
  const nodes: SimNode[] = [];
  const deliver = (m: Message) => nodes[ids.indexOf(m.to)]?.receive(m);
  const network = new Network(clock, root.fork(), options.network, ids, deliver, trace.digest);
  const voters = members.slice(0, options.initialVoters);
  for (const self of members) {
    const prng = root.fork();
    nodes.push(
      new SimNode({
        config: raftConfig(self, voters, options),
        clock,
        prng,
        trace,
        safety,
        send: (m) => network.send(m),
        clockOffsetMs: options.clockSkewMaxMs > 0 ? prng.between(0, options.clockSkewMaxMs) : 0,
        alarm: { jitterMaxMs: options.tickJitterMaxMs, spurious: options.spuriousTick },
        plant: run.plant ?? null,
        heldWrites: options.heldWrites,
        syncMaxMs: options.syncMaxMs,
        requestTimeoutMs: options.nodeRequestTimeoutMs,
        snapshot: options.snapshot,
        snapshots,
        sharedCalls: options.sharedCalls,
      }),
    );
  }
  const clients = new Clients(clock, root.fork(), options.clients, nodes, network, trace);
  const nemesis = new Nemesis(clock, root.fork(), options.faults, nodes, network, trace);
  trace.log('sim', 'info', 'sim: start', { seed, nodes: ids.length, plant: run.plant ?? null });
  return { options, clock, trace, safety, network, nodes, clients, nemesis };
}

/** The safety phase, then the liveness phase; returns how long convergence took after healing. */
function runPhases(w: World): number {
  for (const n of w.nodes) n.start();
  w.clients.start();
  w.nemesis.start();
  w.clock.runUntil(w.options.safetyPhaseMs);
  w.nemesis.healAll();
  w.clients.stopIssuing();
  const convergedAfterMs = runLiveness(w.clock, w.options, w.nodes, w.clients);
  w.safety.checkDurable('the end of the run');
  return convergedAfterMs;
}

/** Runs until some leader is known to every node and no client waits; returns how long that took. */
function runLiveness(clock: Clock, o: SimOptions, nodes: SimNode[], clients: Clients): number {
  const healedAt = clock.now;
  const budgetMs = o.livenessBudgetMs + catchUpAllowanceMs(o, nodes);
  const deadline = healedAt + budgetMs;
  const converged = () => clients.pending().length === 0 && agreedLeader(nodes) !== null;
  while (clock.now < deadline) {
    clock.runUntil(Math.min(deadline, clock.now + 10));
    if (converged()) return clock.now - healedAt;
  }
  const roles = nodes
    .map((n) => {
      if (!n.up) return `${n.id}:down`;
      const s = n.status();
      const m = n.membership();
      const config = `voters ${m.voters.map((v) => v.id).join(',') || '-'} learners ${m.learners.map((l) => l.id).join(',') || '-'} @${s.configIndex}`;
      return `${n.id}:${n.role}(leader ${n.leader?.id ?? '?'}, term ${s.term}, last ${s.lastLogIndex}/${s.lastLogTerm}, commit ${s.commitIndex}, ${config})`;
    })
    .join(' ');
  throw violation(
    'liveness',
    clock.now,
    `no convergence ${budgetMs}ms after healing: nodes ${roles}; pending ${clients.pending().join(', ') || 'none'}`,
  );
}

/**
 * Time a lagging follower needs to catch up at the configured batch limits:
 * with one entry per message and one message in flight, 150 missing entries
 * take 150 round trips however healthy the network is. Waiting for that is not
 * a liveness failure, so the budget grows with the lag left at healing time.
 */
function catchUpAllowanceMs(o: SimOptions, nodes: SimNode[]): number {
  const inConfig = nodes.filter(
    (n) => n.membership().voters.some((v) => v.id === n.id) || n.membership().learners.some((l) => l.id === n.id),
  );
  const lasts = (inConfig.length > 0 ? inConfig : nodes).map((n) => n.disk.entries.length);
  const lag = Math.max(...lasts) - Math.min(...lasts);
  const r = o.raft;
  // Encoded KV commands are under ~150 bytes; the byte limit always lets one through.
  const perMessage = Math.max(1, Math.min(r.maxEntriesPerMessage, Math.floor(r.maxBytesPerMessage / 150)));
  const roundTripMs = 2 * o.network.delayMaxMs + o.tickJitterMaxMs + 1;
  // A node behind the compacted prefix gets a snapshot instead, one chunk per round trip.
  const stateBytes = Math.max(0, ...nodes.map((n) => n.stateBytes()));
  const snapshotMs = Math.ceil(stateBytes / o.snapshot.chunkBytes) * 2 * roundTripMs;
  return Math.ceil(lag / (perMessage * r.maxInflight)) * 2 * roundTripMs + snapshotMs;
}

/** A leader every member of its configuration follows (nodes outside it never hear from it). */
function agreedLeader(nodes: SimNode[]): string | null {
  const leader = nodes.find((n) => n.role === 'leader');
  if (!leader) return null;
  const m = leader.membership();
  const members = new Set([...m.voters, ...m.learners].map((x) => x.id));
  return nodes.every((n) => !members.has(n.id) || n.leader?.id === leader.id) ? leader.id : null;
}

/** A member of the first configuration bootstraps with it; any other node starts outside, joining (thesis §4.1). */
function raftConfig(self: Member, voters: Member[], o: SimOptions) {
  const inside = voters.some((v) => v.id === self.id);
  const result = validateConfig({ self, peers: inside ? voters.filter((m) => m.id !== self.id) : [], join: !inside, ...o.raft });
  if (!result.ok) throw new Error(`simulator drew an invalid config: ${result.errors.join('; ')}`);
  return result.config;
}

function asViolation(err: unknown, now: number): Violation {
  if (err instanceof SimViolation) return err.violation;
  if (err instanceof EventLimitExceeded) return { kind: 'liveness', at: now, message: err.message };
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: 'host', at: now, message: `exception: ${e.stack ?? e.message}` };
}

function collectStats({ nodes, clients, network, nemesis, safety }: World): Record<string, number> {
  const sum = (f: (n: SimNode) => number) => nodes.reduce((a, n) => a + f(n), 0);
  const out: Record<string, number> = {
    commitIndex: safety.commitIndex,
    elections: sum((n) => n.stats.elections),
    crashes: sum((n) => n.stats.crashes),
    applied: sum((n) => n.stats.applied),
    truncations: sum((n) => n.stats.truncations),
    plantFired: sum((n) => n.stats.plantFired),
    compactions: sum((n) => n.stats.compactions),
    snapshotsInstalled: sum((n) => n.stats.snapshotsInstalled),
    staleOverwrites: safety.counts.staleOverwrites,
  };
  for (const [k, v] of Object.entries(clients.stats)) out[`ops.${k}`] = v;
  for (const [k, v] of Object.entries(network.stats)) out[`net.${k}`] = v;
  for (const [k, v] of Object.entries(nemesis.counts)) out[`faults.${k}`] = v;
  for (const [k, v] of Object.entries(nemesis.reconfigured)) out[`reconfigure.${k}`] = v;
  return out;
}
