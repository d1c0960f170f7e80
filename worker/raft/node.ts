// The public face of the core: a deterministic Raft node. Each call takes an
// event and the current time and returns a Ready: what the host must persist,
// send, apply and report (see ready.ts for the order). No I/O, no clock, no
// randomness of its own.
import type { RaftConfig } from './config';
import { Core } from './core';
import { campaign } from './election';
import { RaftLog, type EntryLoader, type SnapshotPoint } from './log';
import { silentLogger, type Logger } from './logger';
import type { Message } from './messages';
import { checkInvariants } from './invariants';
import { compactLog, sendSnapshotChunk } from './snapshot';
import { emptyReady, type Ready } from './ready';
import { broadcastAppend, confirmReads, maybeCommit, quorumActive, sendAppend } from './replication';
import { stepMessage } from './step';
import type { Entry, HardState, Index, Member, NodeId, Role, Term } from './types';
import type { Membership, MembershipChange } from './membership';
import { leaderHousekeeping, proposeChange, startTransfer } from './reconfigure';

/**
 * What the host read back from storage to start the core. Only the tail of the
 * log comes in full: the core reads any other stored entry through
 * `RaftNodeOptions.loadEntries` when it needs it.
 */
export interface Persisted {
  hardState: HardState;
  /** The last compacted index and its term (§7); absent when nothing is compacted. */
  compacted?: SnapshotPoint;
  /**
   * The last entry the state machine already reflects (it is durable, or was
   * restored from a snapshot): the core hands out only entries after it.
   * Absent: nothing applied beyond `compacted`.
   */
  applied?: Index;
  /** The configuration in force at the compaction point, stored with it (absent: the bootstrap configuration). */
  membership?: Membership;
  /** The stored `config` entries after the compaction point, oldest first (thesis §4.1: each took effect when appended). */
  configEntries?: Entry[];
  /** The term of every stored entry after `compacted`: terms[i] is the term of index compacted.index + i + 1. */
  terms: Term[];
  /**
   * The last stored entries in full, ending at the last stored index. Hosts
   * pass those after hardState.commit: the ones not yet known applied.
   */
  tail: Entry[];
}

export interface PeerStatus {
  id: NodeId;
  url: string;
  matchIndex: Index;
  nextIndex: Index;
  lastContactMs: number | null;
  /** How the leader replicates to it: probing for the match point, streaming entries, or sending a snapshot. */
  state: 'probe' | 'replicate' | 'snapshot';
}

export interface NodeStatus {
  id: NodeId;
  url: string;
  role: Role;
  term: Term;
  leader: Member | null;
  commitIndex: Index;
  appliedIndex: Index;
  lastLogIndex: Index;
  lastLogTerm: Term;
  /** The oldest entry still in the log; entries before it are compacted (§7). */
  firstLogIndex: Index;
  /** The last index the latest snapshot (compaction or install) covers. */
  snapshotIndex: Index;
  /** The configuration in force (thesis §4.1) and the index of the entry that made it (0: the bootstrap one). */
  membership: Membership;
  configIndex: Index;
  peers: PeerStatus[];
}

/** A command to replicate, and the host's reference for the answer. */
export interface Proposal {
  ref: number;
  data: string;
}

export interface RaftNodeOptions {
  config: RaftConfig;
  persisted: Persisted;
  random: () => number;
  now: number;
  /**
   * Reads stored entries back (see EntryLoader), for those whose payload the
   * log no longer holds in memory. Synchronous, like `random`: the core does
   * no I/O of its own.
   */
  loadEntries: EntryLoader;
  logger?: Logger;
}

export class RaftNode {
  private readonly c: Core;
  private lastHard: HardState;
  private lastRole: Role;
  private lastLeader: NodeId | null = null;

  constructor(opts: RaftNodeOptions) {
    const cfg = opts.config;
    const log = new RaftLog({
      compacted: opts.persisted.compacted,
      terms: opts.persisted.terms,
      tail: opts.persisted.tail,
      load: opts.loadEntries,
      window: { entries: cfg.payloadWindowEntries, bytes: cfg.payloadWindowBytes },
    });
    const applied = Math.max(opts.persisted.applied ?? 0, log.firstIndex - 1);
    if (applied > log.lastIndex) throw new Error(`state machine applied ${applied}, past the stored log's last index ${log.lastIndex}`);
    const p = opts.persisted;
    const base = { index: log.firstIndex - 1, membership: p.membership ?? null };
    this.c = new Core(
      opts.config,
      log,
      p.hardState,
      opts.random,
      opts.logger ?? silentLogger,
      opts.now,
      applied,
      base,
      p.configEntries ?? [],
    );
    this.lastHard = { ...opts.persisted.hardState };
    this.lastRole = this.c.role;
  }

  step(msg: Message, now: number): Ready {
    this.begin();
    stepMessage(this.c, msg, now);
    return this.finish(now);
  }

  tick(now: number): Ready {
    this.begin();
    const c = this.c;
    if (c.role === 'leader') {
      if (now >= c.quorumCheckAt) {
        if (c.cfg.checkQuorum && !quorumActive(c, now)) {
          // Thesis §6.2: a leader cut off from a majority steps down within an election timeout.
          c.logInfo('stepping down: no quorum heard within an election timeout');
          c.becomeFollower(c.term, null, now);
        } else {
          c.quorumCheckAt = now + c.cfg.electionTimeoutMs;
        }
      }
      if (c.transfer !== null && now >= c.transfer.deadline) {
        // Thesis §3.10: a transfer that did not complete within an election timeout is abandoned.
        c.logInfo('leadership transfer timed out', { target: c.transfer.target });
        c.endTransfer(false, `${c.transfer.target} did not take over within an election timeout`);
      }
    } else if (now >= c.electionDeadline) {
      campaign(c, c.cfg.preVote, now);
    }
    return this.finish(now);
  }

  propose(ref: number, data: string, now: number): Ready {
    return this.proposeBatch([{ ref, data }], now);
  }

  /**
   * Append several commands in one step: one Ready, so the host persists them
   * in one write and peers get them in one AppendEntries (group commit).
   */
  proposeBatch(items: readonly Proposal[], now: number): Ready {
    this.begin();
    const c = this.c;
    for (const { ref, data } of items) {
      if (c.role !== 'leader' || c.transfer !== null) {
        // During a transfer (thesis §3.10) new writes wait for the next leader: no leader to name yet.
        c.out.failed.push({ ref, kind: 'propose', reason: 'notLeader', leader: c.role === 'leader' ? null : c.leader });
      } else {
        const e = c.appendEntry('command', data);
        c.out.proposed.push({ ref, index: e.index, term: e.term });
      }
    }
    if (c.role === 'leader' && c.out.proposed.length > 0) {
      for (const pr of c.progress.values()) sendAppend(c, pr, now, false);
    }
    return this.finish(now);
  }

  read(ref: number, now: number): Ready {
    return this.readBatch([ref], now);
  }

  /** Reads that arrived together: queued together, so they wait for the same heartbeat round. */
  readBatch(refs: readonly number[], now: number): Ready {
    this.begin();
    const c = this.c;
    for (const ref of refs) {
      if (c.role !== 'leader') {
        c.out.failed.push({ ref, kind: 'read', reason: 'notLeader', leader: c.leader });
      } else {
        // Thesis §6.4: the read index is our commit index once an entry of our term commits.
        c.reads.add(ref, Math.max(c.commit, c.termStart));
      }
    }
    return this.finish(now);
  }

  status(now: number): NodeStatus {
    const c = this.c;
    const peers: PeerStatus[] = [];
    for (const pr of c.progress.values()) {
      peers.push({
        id: pr.member.id,
        url: pr.member.url,
        matchIndex: pr.match,
        nextIndex: pr.next,
        lastContactMs: pr.lastContact === null ? null : now - pr.lastContact,
        state: pr.state,
      });
    }
    return {
      id: c.id,
      url: c.cfg.self.url,
      role: c.role,
      term: c.term,
      leader: c.leader,
      commitIndex: c.commit,
      appliedIndex: c.handedOut,
      lastLogIndex: c.log.lastIndex,
      lastLogTerm: c.log.lastTerm,
      firstLogIndex: c.log.firstIndex,
      snapshotIndex: c.log.firstIndex - 1,
      membership: c.membership.current,
      configIndex: c.membership.currentIndex,
      peers,
    };
  }

  /**
   * The host read chunk `chunk` of the snapshot at (index, lastTerm) that a
   * Ready's snapshotSends asked for: send it to `to` if it still waits.
   */
  sendSnapshot(to: NodeId, snap: { index: Index; lastTerm: Term; chunk: number; data: string; done: boolean }, now: number): Ready {
    this.begin();
    sendSnapshotChunk(this.c, to, snap, now);
    return this.finish(now);
  }

  /** Log compaction (§7): the state machine durably covers entries up to `upTo`; forget them. */
  compact(upTo: Index, now: number): Ready {
    this.begin();
    compactLog(this.c, upTo);
    return this.finish(now);
  }

  /**
   * A membership change (thesis §4.1): appended as a config entry if this
   * node leads, has committed an entry of its term, and no other change is
   * uncommitted; otherwise refused with the reason (Ready.adminResults). It
   * succeeds when the entry at the index in Ready.proposed is applied.
   */
  proposeChange(ref: number, change: MembershipChange, now: number): Ready {
    this.begin();
    proposeChange(this.c, ref, change, now);
    return this.finish(now);
  }

  /**
   * Leadership transfer (thesis §3.10): stop taking writes, bring `target` up
   * to date, then tell it to campaign at once. Reported in Ready.adminResults:
   * ok once this node steps down for a newer term, refused up front, or failed
   * after an election timeout.
   */
  transferLeadership(ref: number, target: NodeId, now: number): Ready {
    this.begin();
    startTransfer(this.c, ref, target, now);
    return this.finish(now);
  }

  /** The configuration in force (thesis §4.1). */
  membership(): Membership {
    return this.c.membership.current;
  }

  /** Term of the entry at `index` while the log still knows it (from the compaction point on), else -1. */
  termAt(index: Index): Term {
    return this.c.log.term(index);
  }

  /** How many log entries have their payload in memory (the rest are read through loadEntries). */
  payloadsHeld(): number {
    return this.c.log.payloadsHeld;
  }

  private begin(): void {
    this.c.out = emptyReady(0);
    this.c.persistFrom = Infinity;
  }

  private finish(now: number): Ready {
    const c = this.c;
    const out = c.out;
    if (c.role === 'leader') {
      maybeCommit(c);
      // A new configuration may complete a read round with the acknowledgements already in.
      if (out.membership !== null) confirmReads(c);
      leaderHousekeeping(c, now);
    }
    if (c.role === 'leader') {
      let heartbeat = now >= c.heartbeatDeadline;
      if (c.reads.wantsRound()) {
        c.reads.startRound();
        confirmReads(c); // a single-node cluster is its own quorum
        heartbeat = true;
      }
      if (heartbeat) {
        broadcastAppend(c, now, true);
        c.heartbeatDeadline = now + c.cfg.heartbeatIntervalMs;
      }
    }
    if (c.commit > c.handedOut) {
      // A bounded batch, so a long replay never holds the whole log at once.
      const { maxCommittedEntriesPerReady: count, maxCommittedBytesPerReady: bytes } = c.cfg;
      out.committed = c.log.sliceLimited(c.handedOut + 1, c.commit, count, bytes);
      c.handedOut += out.committed.length;
      out.moreCommitted = c.handedOut < c.commit;
    }
    if (c.confirmedReads.length > 0) {
      // Thesis §6.4: a read is served once its index is applied, so release it
      // only with (or after) the Ready that hands out its index.
      const ready = c.confirmedReads.filter((r) => r.index <= c.handedOut);
      c.confirmedReads = c.confirmedReads.filter((r) => r.index > c.handedOut);
      for (const r of ready) out.reads.push({ ref: r.ref, index: r.index });
    }
    if (c.persistFrom !== Infinity) out.entries = c.log.slice(c.persistFrom, c.log.lastIndex);
    // Last: the payloads just taken for `entries` and `committed` may now leave memory.
    c.log.release(c.handedOut);
    const hard = c.hardState();
    if (hard.term !== this.lastHard.term || hard.vote !== this.lastHard.vote || hard.commit !== this.lastHard.commit) {
      out.hardState = hard;
      this.lastHard = hard;
    }
    const leaderId = c.leader?.id ?? null;
    if (c.role !== this.lastRole || leaderId !== this.lastLeader) {
      out.softState = { role: c.role, leader: c.leader };
      if (c.role !== this.lastRole) c.logInfo('role changed', { from: this.lastRole, leader: leaderId });
      this.lastRole = c.role;
      this.lastLeader = leaderId;
    }
    out.deadline = c.role === 'leader' ? Math.min(c.heartbeatDeadline, c.quorumCheckAt) : c.electionDeadline;
    checkInvariants(c, out);
    return out;
  }
}
