// InstallSnapshot (§7) and log compaction. A follower whose next entry the
// leader has compacted away gets the leader's state machine instead, as a
// snapshot at some index, in chunks of bounded size. The core only moves the
// chunks and keeps the protocol; reading, staging and installing the state
// machine's data is the host's (Ready.snapshotSends, snapshotChunk,
// installSnapshot).
//
// Sender: one chunk in flight per follower; each answer names the chunk the
// follower wants next, so a lost or duplicated chunk costs one resend, and a
// follower that lost its staging (a crash) asks to start over. A chunk with
// no answer for a heartbeat interval or two is sent again.
// Receiver: chunks are taken strictly in order for one (index, term) at a
// time; chunk 0 starts a new staging. The last chunk installs the snapshot
// and the log is reset to it, keeping the entries after it only if the log
// holds the snapshot's last entry with the same term.
import type { Core } from './core';
import type { SnapshotRequest, SnapshotResponse } from './messages';
import type { Progress } from './progress';
import type { Membership } from './membership';
import type { Index, NodeId, Term } from './types';

/** Leader: `pr` needs entries we no longer hold; ask the host for a snapshot (once, then on a timer). */
export function needSnapshot(c: Core, pr: Progress, now: number): void {
  if (pr.state !== 'snapshot') {
    c.logInfo('follower needs a snapshot', { peer: pr.member.id, next: pr.next, firstIndex: c.log.firstIndex });
    pr.becomeSnapshot(now);
    c.out.snapshotSends.push({ to: pr.member.id, index: null, lastTerm: null, chunk: 0 });
  }
}

/** Leader, on each heartbeat: re-ask for a chunk that got no answer, or for a snapshot the host never took. */
export function retrySnapshot(c: Core, pr: Progress, now: number): void {
  const overdue = 2 * c.cfg.heartbeatIntervalMs;
  const s = pr.snapshot;
  if (s === null) {
    if (now - pr.snapshotAskedAt > overdue) {
      pr.snapshotAskedAt = now;
      c.out.snapshotSends.push({ to: pr.member.id, index: null, lastTerm: null, chunk: 0 });
    }
  } else if (now - s.sentAt > overdue) {
    s.sentAt = now;
    c.out.snapshotSends.push({ to: pr.member.id, index: s.index, lastTerm: s.lastTerm, chunk: s.chunk });
  }
}

/**
 * Leader: the host read chunk `chunk` of the snapshot at (index, lastTerm)
 * for `to`. Send it if `to` still waits for that snapshot; drop it otherwise
 * (leadership lost, the follower caught up, a newer snapshot started).
 */
export function sendSnapshotChunk(
  c: Core,
  to: NodeId,
  snap: { index: Index; lastTerm: Term; chunk: number; data: string; done: boolean },
  now: number,
): void {
  const pr = c.progress.get(to);
  if (c.role !== 'leader' || pr === undefined || pr.state !== 'snapshot') return;
  const cur = pr.snapshot;
  if (cur !== null && (cur.index !== snap.index || cur.lastTerm !== snap.lastTerm) && snap.chunk !== 0) return;
  pr.snapshot = { index: snap.index, lastTerm: snap.lastTerm, chunk: snap.chunk, sentAt: now };
  pr.covered(snap.index);
  c.send({
    type: 'snapshot',
    from: c.id,
    to,
    term: c.term,
    leaderUrl: c.cfg.self.url,
    index: snap.index,
    lastTerm: snap.lastTerm,
    chunk: snap.chunk,
    data: snap.data,
    done: snap.done,
    membership: c.membership.at(snap.index),
  });
}

/** Leader: a follower answered a chunk. */
export function handleSnapshotResponse(c: Core, m: SnapshotResponse, now: number): boolean {
  const pr = c.progress.get(m.from);
  if (!pr) return false;
  pr.lastContact = now;
  if (m.installed) {
    // The follower holds everything up to matchIndex; replicate from there (from a probe: it may hold less after).
    pr.acknowledge(Math.min(m.matchIndex, c.log.lastIndex));
    if (pr.state === 'snapshot') pr.becomeProbe(pr.match + 1);
    return true;
  }
  const s = pr.snapshot;
  if (pr.state !== 'snapshot' || s === null || s.index !== m.index || s.lastTerm !== m.lastTerm) return false;
  if (m.nextChunk === s.chunk) return false; // a duplicate answer to a chunk already answered; the timer resends
  s.sentAt = now;
  s.chunk = m.nextChunk;
  c.out.snapshotSends.push({ to: m.from, index: s.index, lastTerm: s.lastTerm, chunk: m.nextChunk });
  return false;
}

/** A follower's answer to the snapshot chunk `m`: the chunk it wants next, or that it installed up to matchIndex. */
export function snapshotResponse(c: Core, m: SnapshotRequest, nextChunk: number, installed: boolean, matchIndex: Index): SnapshotResponse {
  return {
    type: 'snapshotResp',
    from: c.id,
    to: m.from,
    term: c.term,
    index: m.index,
    lastTerm: m.lastTerm,
    nextChunk,
    installed,
    matchIndex,
  };
}

/** Follower. Term handling has already made `m.term === c.term` and us a follower of the sender. */
export function handleSnapshot(c: Core, m: SnapshotRequest, now: number): void {
  c.lastLeaderContact = now;
  c.resetElectionTimer(now);
  const reply = (nextChunk: number, installed: boolean, matchIndex: Index) => snapshotResponse(c, m, nextChunk, installed, matchIndex);
  if (m.index <= c.commit) {
    // We already hold (and have committed) everything it covers: nothing to install.
    c.incoming = null;
    c.send(reply(0, true, c.commit));
    return;
  }
  const inc = c.incoming;
  if (m.chunk === 0) {
    c.incoming = { from: m.from, index: m.index, lastTerm: m.lastTerm, next: 0 };
  } else if (inc === null || inc.from !== m.from || inc.index !== m.index || inc.lastTerm !== m.lastTerm || m.chunk !== inc.next) {
    // Out of order, a duplicate, or for a transfer we know nothing of (we restarted): say where we are.
    const same = inc !== null && inc.index === m.index && inc.lastTerm === m.lastTerm && inc.from === m.from;
    c.send(reply(same ? inc.next : 0, false, 0));
    return;
  }
  const staging = c.incoming!;
  c.out.snapshotChunk = { from: m.from, index: m.index, lastTerm: m.lastTerm, chunk: m.chunk, data: m.data };
  staging.next = m.chunk + 1;
  if (!m.done) {
    c.send(reply(staging.next, false, 0));
    return;
  }
  c.incoming = null;
  installSnapshot(c, { index: m.index, term: m.lastTerm }, m.membership);
  c.send(reply(0, true, m.index));
}

/** The snapshot's state replaces ours; the log keeps what follows it only if it holds its last entry (§7). */
function installSnapshot(c: Core, point: { index: Index; term: Term }, membership: Membership): void {
  const keepLog = c.log.term(point.index) === point.term;
  c.logInfo('installing a snapshot', { index: point.index, snapshotTerm: point.term, keepLog, lastIndex: c.log.lastIndex });
  c.log.restore(point);
  c.commit = Math.max(c.commit, point.index);
  c.handedOut = point.index;
  // Entries still to persist from this step are gone with the log, or kept after the snapshot.
  if (c.persistFrom !== Infinity) c.persistFrom = Math.max(c.persistFrom, point.index + 1);
  c.confirmedReads = c.confirmedReads.filter((r) => r.index > point.index);
  c.out.installSnapshot = { index: point.index, term: point.term, keepLog, membership };
  c.membership.restore(point.index, membership, keepLog);
  c.membershipChanged();
}

/**
 * Host: the state machine covers everything up to `upTo` durably; forget the
 * log up to there (only entries already handed out).
 */
export function compactLog(c: Core, upTo: Index): void {
  const index = Math.min(upTo, c.handedOut);
  if (index <= c.log.firstIndex - 1) return;
  c.log.compact(index);
  c.membership.compact(index);
  c.out.compacted = { ...c.log.compacted, membership: c.membership.at(index) };
}
