// Membership changes and leadership transfer as the leader carries them out
// (thesis §4.1, §4.2, §3.10); membership.ts holds the configurations
// themselves. node.ts calls these within one step, like snapshot.ts for §7.
import type { Core } from './core';
import { applyChange, encodeMembership, type MembershipChange } from './membership';
import type { Progress } from './progress';
import { sendAppend } from './replication';
import type { NodeId } from './types';

/**
 * A membership change: appended as a config entry if this node leads, has
 * committed an entry of its term, and no other change is uncommitted (the
 * errata's fix for single-server changes); otherwise refused with the reason
 * (Ready.adminResults). It succeeds when the entry in Ready.proposed applies.
 */
export function proposeChange(c: Core, ref: number, change: MembershipChange, now: number): void {
  const refuse = (reason: string): void => void c.out.adminResults.push({ ref, ok: false, reason });
  if (c.role !== 'leader') return void c.out.failed.push({ ref, kind: 'propose', reason: 'notLeader', leader: c.leader });
  if (c.transfer !== null) return refuse(`a leadership transfer to ${c.transfer.target} is in progress`);
  if (c.commit < c.termStart) return refuse('the leader has not yet committed an entry of its term; retry shortly');
  if (c.membership.currentIndex > c.commit)
    return refuse(`a membership change is already in progress (index ${c.membership.currentIndex})`);
  const next = applyChange(c.membership.current, change);
  if (!next.ok) return refuse(next.reason);
  const pr = change.type === 'promote' ? c.progress.get(change.id) : undefined;
  if (pr !== undefined && !fitsInOneMessage(c, pr)) {
    return refuse(`learner ${pr.member.id} has not caught up (it holds ${pr.match} of ${c.log.lastIndex})`);
  }
  const e = c.appendEntry('config', encodeMembership(next.membership));
  c.out.proposed.push({ ref, index: e.index, term: e.term });
  for (const p of c.progress.values()) sendAppend(c, p, now, false);
}

/**
 * Thesis §4.2.1: a server made a voter before it holds the log stalls commits
 * until it catches up, whenever the new majority needs it (the learner of a
 * one-voter cluster, say). So a learner counts as caught up only when all it
 * lacks fits in the next AppendEntries, under the byte limit as well as the
 * entry limit, as sendAppend cuts it: then it holds the log one round trip
 * later, whether the leader is probing it or pipelining. Entries alone are
 * not enough: under a small byte limit a message carries an entry or two,
 * and a learner hundreds of entries behind needs hundreds of round trips.
 */
function fitsInOneMessage(c: Core, pr: Progress): boolean {
  const last = c.log.lastIndex;
  const lag = last - pr.match;
  if (lag <= 0) return true;
  // Behind the compaction point it needs a snapshot first.
  if (pr.state === 'snapshot' || pr.match + 1 < c.log.firstIndex || lag > c.cfg.maxEntriesPerMessage) return false;
  return c.log.sliceLimited(pr.match + 1, last, lag, c.cfg.maxBytesPerMessage).length === lag;
}

/**
 * Leadership transfer (§3.10): stop taking writes, bring `target` up to date,
 * then tell it to campaign at once (leaderHousekeeping). Reported in
 * Ready.adminResults: ok once this node steps down for a newer term, refused
 * up front, or failed after an election timeout.
 */
export function startTransfer(c: Core, ref: number, target: NodeId, now: number): void {
  const refuse = (reason: string): void => void c.out.adminResults.push({ ref, ok: false, reason });
  if (c.role !== 'leader') return void c.out.failed.push({ ref, kind: 'propose', reason: 'notLeader', leader: c.leader });
  if (c.transfer !== null) return refuse(`a leadership transfer to ${c.transfer.target} is already in progress`);
  if (target === c.id) return refuse(`${target} already leads`);
  if (!c.isVoter(target)) return refuse(`${target} is not a voter`);
  c.transfer = { target, ref, deadline: now + c.cfg.electionTimeoutMs, sent: false };
  c.logInfo('transferring leadership', { target });
  const pr = c.progress.get(target);
  if (pr) sendAppend(c, pr, now, false);
}

/**
 * Vote requests from a node outside our configuration are dropped when that
 * configuration is committed and names us a voter: then the sender was
 * removed (or never added), and cannot disrupt the cluster (§4.2.3).
 * Otherwise we may be the one behind (joining, or our configuration not yet
 * committed here, when a newer one may name the sender), so we answer as
 * usual: pre-vote, the leader lease and the log check still apply.
 * Everything else is heard from anyone: a leader of our term or later may be
 * a voter our lagging configuration does not name yet.
 */
export function isOutsider(c: Core, from: NodeId): boolean {
  return !c.members.has(from) && c.isVoter(c.id) && c.membership.currentIndex <= c.commit;
}

/** Leader, each step: a transfer whose target caught up gets its TimeoutNow; a leader its own removal took out steps down. */
export function leaderHousekeeping(c: Core, now: number): void {
  const t = c.transfer;
  if (t !== null && !t.sent) {
    const pr = c.progress.get(t.target);
    if (pr !== undefined && pr.match === c.log.lastIndex) {
      t.sent = true;
      c.send({ type: 'timeoutNow', from: c.id, to: t.target, term: c.term });
    }
  }
  if (!c.isVoter(c.id) && c.membership.currentIndex <= c.commit) {
    // §4.2.2: the configuration that removed us is committed. Hand over to the most
    // up-to-date voter so the others need not wait out an election timeout, then step down.
    let best: Progress | null = null;
    for (const pr of c.progress.values()) if (c.isVoter(pr.member.id) && (best === null || pr.match > best.match)) best = pr;
    if (best !== null && best.match === c.log.lastIndex) c.send({ type: 'timeoutNow', from: c.id, to: best.member.id, term: c.term });
    c.logInfo('stepping down: removed from the configuration', { configIndex: c.membership.currentIndex });
    c.becomeFollower(c.term, null, now);
  }
}
