// Log replication (§5.3): the leader's AppendEntries, the follower's
// consistency check, nextIndex backoff with hints, and the commit rule (§5.4.2).
import type { Core } from './core';
import type { AppendRequest, AppendResponse } from './messages';
import type { Progress } from './progress';
import { majorityIndex, quorumSize } from './quorum';
import { needSnapshot, retrySnapshot } from './snapshot';

/**
 * Send what `pr` may receive now. With `heartbeat`, also send an empty
 * AppendEntries if nothing else went out, so the follower hears from us,
 * learns the commit index, and acknowledges the current read round.
 */
export function sendAppend(c: Core, pr: Progress, now: number, heartbeat: boolean): void {
  if (pr.state === 'snapshot') {
    if (heartbeat) retrySnapshot(c, pr, now);
    return;
  }
  // §7: the entries this follower needs next are compacted away: it gets a snapshot instead.
  if (pr.next < c.log.firstIndex) return needSnapshot(c, pr, now);
  let sent = false;
  if (heartbeat && pr.state === 'probe') pr.probeSent = false; // re-probe on every heartbeat
  while (pr.canSend(c.cfg.maxInflight) && (pr.next <= c.log.lastIndex || (pr.state === 'probe' && !sent))) {
    const prev = pr.next - 1;
    const entries = c.log.sliceLimited(pr.next, c.log.lastIndex, c.cfg.maxEntriesPerMessage, c.cfg.maxBytesPerMessage);
    c.send(appendMessage(c, pr, prev, entries));
    pr.sent(prev + entries.length, now);
    sent = true;
    if (entries.length === 0) break;
  }
  if (heartbeat && !sent) {
    // Anchor at the known match point: it is accepted whatever is still in flight
    // (or at the compaction point, the oldest entry whose term we still know).
    c.send(appendMessage(c, pr, Math.max(pr.match, c.log.firstIndex - 1), []));
  }
}

function appendMessage(c: Core, pr: Progress, prev: number, entries: AppendRequest['entries']): AppendRequest {
  pr.covered(prev + entries.length);
  return {
    type: 'append',
    from: c.id,
    to: pr.member.id,
    term: c.term,
    leaderUrl: c.cfg.self.url,
    prevLogIndex: prev,
    prevLogTerm: c.log.term(prev),
    entries,
    // Never tell a follower a commit beyond what this message proves it holds.
    commit: Math.min(c.commit, prev + entries.length),
    round: c.reads.round,
  };
}

export function broadcastAppend(c: Core, now: number, heartbeat: boolean): void {
  for (const pr of c.progress.values()) {
    if (heartbeat && pr.stalled(now, 2 * c.cfg.heartbeatIntervalMs)) {
      // An unacknowledged message is overdue: assume loss and probe from the match point.
      pr.becomeProbe(pr.match + 1);
    }
    sendAppend(c, pr, now, heartbeat);
  }
}

/** Follower side. Term handling has already made `m.term === c.term` and us a follower. */
export function handleAppend(c: Core, m: AppendRequest, now: number): void {
  c.lastLeaderContact = now;
  c.resetElectionTimer(now);
  const reply = (success: boolean, matchIndex: number, conflictTerm = 0, conflictIndex = 0): AppendResponse => ({
    type: 'appendResp',
    from: c.id,
    to: m.from,
    term: c.term,
    success,
    prevLogIndex: m.prevLogIndex,
    matchIndex,
    round: m.round,
    lastIndex: c.log.lastIndex,
    conflictTerm,
    conflictIndex,
  });

  if (m.prevLogIndex < c.log.firstIndex - 1) {
    // §7: we compacted past where the leader starts: those entries are committed here, so
    // the logs match up to our commit index (Leader Completeness); resume from there.
    c.send(reply(true, c.commit));
    return;
  }
  if (m.prevLogIndex > c.log.lastIndex) {
    c.send(reply(false, 0, 0, c.log.lastIndex + 1));
    return;
  }
  const localTerm = c.log.term(m.prevLogIndex);
  if (localTerm !== m.prevLogTerm) {
    // Hint: skip the whole run of our conflicting term at once.
    c.send(reply(false, 0, localTerm, c.log.firstIndexOfTerm(m.prevLogIndex, c.commit)));
    return;
  }
  const problem = inconsistency(c, m);
  if (problem !== null) {
    // No correct leader sends this (the peer route refuses most such messages before they
    // get here): drop it whole, unanswered, rather than break our log or our state.
    c.logger.log('error', 'dropping an inconsistent append', { node: c.id, term: c.term, from: m.from, problem });
    return;
  }
  // §5.3: append what is new; truncate only where an entry really conflicts.
  for (const e of m.entries) {
    const t = c.log.term(e.index);
    if (t === e.term) continue;
    if (t !== -1) c.truncateFrom(e.index);
    c.pushEntry({ index: e.index, term: e.term, kind: e.kind, data: e.data });
  }
  const matchIndex = m.prevLogIndex + m.entries.length;
  // The message proves our log matches the leader's up to matchIndex, no further.
  c.commit = Math.max(c.commit, Math.min(m.commit, matchIndex));
  c.send(reply(true, matchIndex));
}

/**
 * Why a leader cannot have sent `m`, or null: entries must follow prevLogIndex
 * without holes or repeats (or the reply's matchIndex would claim entries we
 * do not hold), and none may replace a committed one (Leader Completeness, §5.4).
 */
function inconsistency(c: Core, m: AppendRequest): string | null {
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    if (e.index !== m.prevLogIndex + 1 + i) return `entry ${i} has index ${e.index}, expected ${m.prevLogIndex + 1 + i}`;
    if (e.index <= c.commit && c.log.term(e.index) !== e.term)
      return `entry ${e.index} conflicts with a committed entry (commit ${c.commit})`;
  }
  return null;
}

/** Leader side. Term handling has made `m.term === c.term`. */
export function handleAppendResponse(c: Core, m: AppendResponse, now: number): void {
  const pr = c.progress.get(m.from);
  if (!pr) return;
  pr.lastContact = now;
  // Any reply in our term, success or not, shows the follower accepted our leadership.
  if (m.round > pr.ackedRound) {
    pr.ackedRound = m.round;
    confirmReads(c);
  }
  if (m.success) {
    let matchIndex = m.matchIndex;
    if (matchIndex > pr.highestSent) {
      // Claims entries we never sent: a peer running other code, or a buggy one (or, rarely, a
      // follower that compacted past our append and answers its commit index). Believing it
      // would count it toward commit for entries it may not hold (§5.4.2), and stop sending to it.
      c.logger.log('warn', 'peer acknowledged entries it was never sent; counting only those sent', {
        node: c.id,
        term: c.term,
        peer: m.from,
        matchIndex,
        highestSent: pr.highestSent,
      });
      matchIndex = pr.highestSent;
    }
    if (pr.acknowledge(matchIndex)) maybeCommit(c);
    // A success at the frontier ends probing: the logs match up to pr.match.
    if (pr.state === 'probe' && matchIndex >= pr.match) {
      pr.next = pr.match + 1;
      pr.becomeReplicate();
    }
    sendAppend(c, pr, now, false);
    return;
  }
  // Stale: we already know the logs match at or beyond this point. (Only a follower that
  // lost acknowledged entries could reject here; probing again would loop.)
  if (m.prevLogIndex <= pr.match) return;
  if (pr.state === 'probe' && m.prevLogIndex !== pr.next - 1) return; // answers an older probe
  pr.becomeProbe(backoffTarget(c, m));
  sendAppend(c, pr, now, false);
}

/** Where to probe next after a rejection, using the follower's hints. */
function backoffTarget(c: Core, m: AppendResponse): number {
  let next: number;
  if (m.conflictTerm > 0) {
    // If we hold entries of the follower's conflicting term, resume just after our last one;
    // otherwise skip the follower's whole run of that term.
    const i = c.log.lastIndexAtOrBelowTerm(m.prevLogIndex, m.conflictTerm);
    next = c.log.term(i) === m.conflictTerm ? i + 1 : m.conflictIndex;
  } else {
    next = m.conflictIndex || m.lastIndex + 1;
  }
  // Always move back, never past what the rejected message already tried.
  return Math.max(1, Math.min(next, m.prevLogIndex));
}

/** §5.4.2: advance commit to what a majority holds, but only by counting entries of our term. */
export function maybeCommit(c: Core): void {
  // Only voters count (thesis §4.1), the leader too: a leader being removed keeps
  // leading until the change commits, without counting itself (§4.2.2).
  const matches = c.isVoter(c.id) ? [c.log.lastIndex] : [];
  for (const pr of c.progress.values()) if (c.isVoter(pr.member.id)) matches.push(pr.match);
  if (matches.length === 0) return;
  const candidate = majorityIndex(matches);
  if (candidate > c.commit && c.log.term(candidate) === c.term) c.commit = candidate;
}

/** Release reads whose round a majority (counting ourselves) has acknowledged. */
export function confirmReads(c: Core): void {
  const acked = c.isVoter(c.id) ? [c.reads.round] : [];
  for (const pr of c.progress.values()) if (c.isVoter(pr.member.id)) acked.push(pr.ackedRound);
  if (acked.length === 0) return;
  const round = majorityIndex(acked);
  if (round > c.reads.confirmed) c.confirmedReads.push(...c.reads.confirm(round));
}

export function quorumActive(c: Core, now: number): boolean {
  let active = c.isVoter(c.id) ? 1 : 0;
  for (const pr of c.progress.values()) {
    if (c.isVoter(pr.member.id) && pr.lastContact !== null && now - pr.lastContact < c.cfg.electionTimeoutMs) active++;
  }
  return active >= quorumSize(c.voterCount);
}
