// Leader election (§5.2, §5.4.1) with pre-vote (thesis §9.6).
import type { Core } from './core';
import type { VoteRequest, VoteResponse } from './messages';
import { voteResult } from './quorum';

/**
 * Thesis §4.2.3 / §9.6: a node that heard from a live leader less than an
 * election timeout ago refuses to help depose it, so a rejoining node with a
 * higher term cannot disrupt a healthy cluster.
 */
export function inLease(c: Core, now: number): boolean {
  if (!c.cfg.checkQuorum && !c.cfg.preVote) return false;
  if (c.role === 'leader') return true;
  return c.leader !== null && c.lastLeaderContact !== null && now - c.lastLeaderContact < c.cfg.electionTimeoutMs;
}

/**
 * The election timer fired: start a pre-vote, or an election. Only a voter of
 * the configuration in force campaigns (a learner, a removed node or one still
 * joining waits). `transfer`: the leader asked us to (TimeoutNow, thesis
 * §3.10), so voters grant even while they hear from that leader.
 */
export function campaign(c: Core, pre: boolean, now: number, transfer = false): void {
  if (!mayCampaign(c)) {
    c.resetElectionTimer(now);
    return;
  }
  c.becomeCandidate(pre, now);
  const term = pre ? c.term + 1 : c.term;
  if (pre) c.preVoteRound = Math.max(c.preVoteRound + 1, now);
  c.logInfo(pre ? 'starting pre-vote' : 'starting election', { campaignTerm: term });
  if (tally(c, now)) return;
  for (const id of c.voterIds) {
    if (id === c.id) continue;
    c.send({
      type: 'vote',
      from: c.id,
      to: id,
      term,
      pre,
      transfer,
      lastLogIndex: c.log.lastIndex,
      lastLogTerm: c.log.lastTerm,
      round: pre ? c.preVoteRound : 0,
    });
  }
}

/**
 * A voter of the configuration in force campaigns. So does a node that an
 * uncommitted configuration removes but the committed one still names: its
 * log may be the most up to date (a leader that appended its own removal and
 * then lost leadership), and without it the others could not elect anyone.
 * If it wins, it leads without counting itself until the removal commits,
 * then steps down (thesis §4.2.2). Votes are counted in the configuration in
 * force either way.
 */
function mayCampaign(c: Core): boolean {
  if (c.isVoter(c.id)) return true;
  return c.membership.at(c.commit).voters.some((v) => v.id === c.id);
}

/** Count the votes; act on a decided result. Returns true when decided. */
function tally(c: Core, now: number): boolean {
  let granted = 0;
  let refused = 0;
  for (const [id, v] of c.votes) {
    if (!c.isVoter(id)) continue; // only the voters of the configuration in force count
    if (v) granted++;
    else refused++;
  }
  const result = voteResult(c.voterCount, granted, refused);
  if (result === 'pending') return false;
  if (result === 'lost') {
    c.becomeFollower(c.term, null, now);
    return true;
  }
  if (c.role === 'precandidate') {
    campaign(c, false, now);
  } else {
    c.becomeLeader(now);
    c.logInfo('became leader', { termStart: c.termStart });
  }
  return true;
}

/** Called after term handling: `m.term` is ours (vote) or the proposed next term (pre-vote). */
export function handleVoteRequest(c: Core, m: VoteRequest, now: number): void {
  const upToDate = c.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
  let granted: boolean;
  if (m.pre) {
    // Grant if a real election in m.term could succeed and we are not following a live leader.
    granted = m.term > c.term && upToDate && !inLease(c, now);
  } else {
    granted = m.term === c.term && (c.vote === null || c.vote === m.from) && upToDate && c.role === 'follower';
    if (granted) {
      // The vote is part of the hard state of this step: persisted before the reply goes out.
      c.vote = m.from;
      c.resetElectionTimer(now);
    }
  }
  c.logger.log('debug', granted ? 'vote granted' : 'vote refused', { node: c.id, term: c.term, to: m.from, pre: m.pre });
  c.send({ type: 'voteResp', from: c.id, to: m.from, term: granted && m.pre ? m.term : c.term, pre: m.pre, granted, round: m.round });
}

export function handleVoteResponse(c: Core, m: VoteResponse, now: number): void {
  if (m.pre) {
    // A late answer from an earlier pre-vote round: the term alone cannot tell (thesis §9.6).
    if (c.role !== 'precandidate' || m.round !== c.preVoteRound) return;
    // A grant carries the term we asked for; a refusal carries the voter's (not higher, or
    // term handling would already have made us a follower).
    if (m.granted && m.term !== c.term + 1) return;
  } else if (c.role !== 'candidate' || m.term !== c.term) {
    return;
  }
  if (!c.votes.has(m.from)) c.votes.set(m.from, m.granted);
  tally(c, now);
}
