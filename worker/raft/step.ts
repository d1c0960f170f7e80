// One incoming message (§5.1): its term is dealt with once, here (a newer one
// makes this node a follower, an older one gets our term back), then it goes
// to the handler for its type in election.ts, replication.ts or snapshot.ts.
import type { Core } from './core';
import { campaign, handleVoteRequest, handleVoteResponse, inLease } from './election';
import type { Message } from './messages';
import { isOutsider } from './reconfigure';
import { handleAppend, handleAppendResponse, maybeCommit, sendAppend } from './replication';
import { handleSnapshot, handleSnapshotResponse, snapshotResponse } from './snapshot';

/** Handles `m` against the core; its effects collect in c.out. */
export function stepMessage(c: Core, m: Message, now: number): void {
  if (m.to !== c.id || (m.type === 'vote' && isOutsider(c, m.from)) || m.from === c.id) {
    c.logger.log('warn', 'dropping message not meant for this cluster member', { node: c.id, from: m.from, to: m.to });
    return;
  }
  if (m.term > c.term) {
    if (m.type === 'vote' && !m.pre) {
      // Thesis §4.2.3: while following a live leader, ignore would-be disruptors entirely,
      // unless the leader itself asked for this election (a transfer, §3.10).
      if (inLease(c, now) && !m.transfer) return;
      c.becomeFollower(m.term, null, now);
    } else if (!(m.type === 'vote' || (m.type === 'voteResp' && m.pre && m.granted))) {
      // A pre-vote request or a granted pre-vote carries a term nobody holds yet.
      const fromLeader = m.type === 'append' || m.type === 'snapshot';
      c.becomeFollower(m.term, fromLeader ? { id: m.from, url: m.leaderUrl } : null, now);
    }
  } else if (m.term < c.term) {
    answerStale(c, m);
    return;
  }
  switch (m.type) {
    case 'append':
      if (c.role === 'leader') {
        // §5.2 allows one leader per term, and we are it: the sender is broken (a bug, or other
        // code), not us. Drop it; following it could overwrite entries we acknowledged.
        c.logger.log('error', 'dropping an append from another leader of our own term', { node: c.id, term: c.term, from: m.from });
        return;
      }
      if (c.role !== 'follower' || c.leader?.id !== m.from) c.becomeFollower(c.term, { id: m.from, url: m.leaderUrl }, now);
      handleAppend(c, m, now);
      return;
    case 'appendResp':
      if (c.role === 'leader') handleAppendResponse(c, m, now);
      return;
    case 'snapshot':
      if (c.role === 'leader') {
        c.logger.log('error', 'dropping a snapshot from another leader of our term', { node: c.id, from: m.from, term: c.term });
        return;
      }
      if (c.role !== 'follower' || c.leader?.id !== m.from) c.becomeFollower(c.term, { id: m.from, url: m.leaderUrl }, now);
      handleSnapshot(c, m, now);
      return;
    case 'snapshotResp':
      if (c.role === 'leader' && handleSnapshotResponse(c, m, now)) {
        const pr = c.progress.get(m.from);
        if (pr) sendAppend(c, pr, now, false);
        maybeCommit(c);
      }
      return;
    case 'timeoutNow':
      // Thesis §3.10: our leader is handing over; campaign now, skipping pre-vote.
      if (c.role === 'follower' && c.leader?.id === m.from && c.isVoter(c.id)) {
        c.logInfo('leader asked us to take over', { from: m.from });
        campaign(c, false, now, true);
      }
      return;
    case 'vote':
      handleVoteRequest(c, m, now);
      return;
    case 'voteResp':
      handleVoteResponse(c, m, now);
      return;
  }
}

/** A message from an older term: tell requesters our term so they step down; drop replies. */
function answerStale(c: Core, m: Message): void {
  if (m.type === 'append') {
    c.send({
      type: 'appendResp',
      from: c.id,
      to: m.from,
      term: c.term,
      success: false,
      prevLogIndex: m.prevLogIndex,
      matchIndex: 0,
      // Not m.round: rounds are numbered per term, and the sender may reach our
      // term before this arrives; echoing would ack a round of that term unseen
      // (a stale leader could then serve a read without a quorum, thesis §6.4).
      round: 0,
      lastIndex: c.log.lastIndex,
      conflictTerm: 0,
      conflictIndex: 0,
    });
  } else if (m.type === 'snapshot') {
    c.send(snapshotResponse(c, m, 0, false, 0));
  } else if (m.type === 'vote') {
    c.send({ type: 'voteResp', from: c.id, to: m.from, term: c.term, pre: m.pre, granted: false, round: m.round });
  } else {
    c.logger.log('debug', 'dropping stale reply', { node: c.id, term: c.term, from: m.from, type: m.type, msgTerm: m.term });
  }
}
