// The membership nemesis: alongside the faults, and on its own schedule, it
// changes who is in the cluster through the admin API, as an operator would
// (thesis §4.1 single-server changes, §3.10 transfers are in nemesis.ts):
// - add: a fresh node process (a new id, --join) in a free slot, added as a learner;
// - promote: a learner to voter (refused while it has not caught up: retried later);
// - remove: a voter, possibly the leader or a node that is down, or a learner;
//   once the removal is committed its process is stopped for good;
// - replace: add, wait until promoted, remove one of the old voters.
// The cluster stays bounded: at most `slots` nodes at once, voters between
// `minVoters` and `minVoters + 1`, at most one learner.
//
// Outcomes are those of any client: 200 done, a refusal (409, 503, 307: not
// done), or unknown (504, no answer). Before each step the harness reconciles
// with the leader's committed configuration: a node it has not heard of being
// added (or heard of being removed) only leaves for good once the committed
// configuration says it is out, and a member whose process is gone is removed.
import type { StatusReport } from '../../worker/node-api';
import type { Prng } from '../sim/prng';
import type { FaultCluster } from './cluster';

export type MemberOp = 'add' | 'promote' | 'remove' | 'replace' | 'cleanup';

export interface MemberEvent {
  op: MemberOp;
  node: string;
  answer: string;
}

export interface MembershipOptions {
  minVoters: number;
  /** Members (voters and learners) at most. */
  maxMembers: number;
  now: () => number;
  record: (e: MemberEvent) => void;
}

export interface MemberCounts {
  done: Record<Exclude<MemberOp, 'replace'>, number>;
  refused: number;
  unknown: number;
  replaced: number;
}

type Answer = { kind: 'done'; text: string } | { kind: 'refused'; text: string } | { kind: 'unknown'; text: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class MembershipNemesis {
  readonly counts: MemberCounts = { done: { add: 0, promote: 0, remove: 0, cleanup: 0 }, refused: 0, unknown: 0, replaced: 0 };
  /** What stopped the schedule early (a harness failure, reported as a failed run), or null. */
  error: string | null = null;

  constructor(
    private readonly cluster: FaultCluster,
    private readonly rng: Prng,
    private readonly o: MembershipOptions,
  ) {}

  /** One change every 1.5-4 s until `untilMs` or `shouldStop`. */
  async run(untilMs: number, shouldStop: () => boolean): Promise<void> {
    try {
      for (let step = 0; step < 10_000 && !shouldStop(); step++) {
        const gap = this.rng.between(1500, 4000);
        if (this.o.now() + gap >= untilMs) break;
        await sleep(gap);
        if (shouldStop()) break;
        await this.step(untilMs);
      }
    } catch (err) {
      this.error = (err as Error).stack ?? String(err);
      throw err;
    }
  }

  /** The leader's status: its configuration in force, and whether that is committed. */
  private async leaderView(): Promise<StatusReport | null> {
    const id = await this.cluster.leader();
    return id === null ? null : this.cluster.status(id, 1000);
  }

  private async step(untilMs: number): Promise<void> {
    const view = await this.leaderView();
    if (view === null || view.role !== 'leader') return;
    const voters = view.membership.voters.map((m) => m.id);
    const learners = view.membership.learners.map((m) => m.id);
    const members = [...voters, ...learners];
    // Reconcile with a committed configuration only: an uncommitted one may still be undone.
    if (view.configIndex <= view.commitIndex) {
      for (const id of this.cluster.ids) if (!members.includes(id)) await this.cluster.retire(id);
      const gone = members.find((id) => this.cluster.isRetired(id));
      if (gone !== undefined) {
        await this.remove(view, gone, 'cleanup');
        return;
      }
    }
    const room = this.cluster.freeSlot() !== null && members.length < this.o.maxMembers && learners.length === 0;
    const ops: [MemberOp, number][] = [
      ['add', room ? 3 : 0],
      ['promote', learners.length > 0 && voters.length <= this.o.minVoters ? 4 : 0],
      ['remove', voters.length > this.o.minVoters || learners.length > 0 ? 3 : 0],
      ['replace', room && voters.length === this.o.minVoters && untilMs - this.o.now() > 20_000 ? 2 : 0],
    ];
    if (ops.every(([, w]) => w === 0)) return;
    const op = ops[this.rng.weighted(ops.map(([, w]) => w))]![0];
    switch (op) {
      case 'add':
        await this.add(view);
        return;
      case 'promote': {
        const id = this.rng.pick(learners);
        this.note('promote', id, await this.admin(view.url, 'POST', `/cluster/members/${id}/promote`));
        return;
      }
      case 'remove': {
        // A learner, or a voter while there is one to spare; the leader and nodes that are down included.
        const pool = voters.length > this.o.minVoters ? members : learners;
        await this.remove(view, this.rng.pick(pool), 'remove');
        return;
      }
      case 'replace':
        await this.replace(view, voters);
        return;
    }
  }

  private async add(view: StatusReport): Promise<string | null> {
    const joiner = await this.cluster.startJoiner(view.url);
    if (joiner === null) return null;
    // Starting a process takes seconds, in which leadership may have moved: ask whoever leads now.
    const leader = (await this.leaderView())?.url ?? view.url;
    const a = await this.admin(leader, 'POST', '/cluster/members', { id: joiner.id, url: joiner.url, role: 'learner' });
    this.note('add', joiner.id, a);
    // Refused: it never entered the log, so its process can go. Unknown: reconciling decides later.
    if (a.kind === 'refused') await this.cluster.retire(joiner.id);
    return a.kind === 'done' ? joiner.id : null;
  }

  private async remove(view: StatusReport, id: string, op: 'remove' | 'cleanup'): Promise<boolean> {
    const a = await this.admin(view.url, 'DELETE', `/cluster/members/${id}`);
    this.note(op, id, a);
    // Committed and applied on the leader: the node is out for good, so its process goes.
    if (a.kind === 'done') await this.cluster.retire(id);
    return a.kind === 'done';
  }

  /** Add a node, promote it once it has caught up, then remove one of the voters it replaces. */
  private async replace(view: StatusReport, oldVoters: string[]): Promise<void> {
    const id = await this.add(view);
    if (id === null) return;
    const deadline = this.o.now() + 15_000;
    let promoted = false;
    while (!promoted && this.o.now() < deadline) {
      await sleep(500);
      const now = await this.leaderView();
      if (now === null || now.role !== 'leader') continue;
      const a = await this.admin(now.url, 'POST', `/cluster/members/${id}/promote`);
      // A learner not yet caught up, or another change in flight, is refused: try again.
      if (a.kind === 'done' || !/has not caught up|in progress|not yet committed|no_leader|307/.test(a.text)) {
        this.note('promote', id, a);
        promoted = a.kind === 'done';
        if (!promoted) return;
      }
    }
    if (!promoted) return;
    const now = await this.leaderView();
    if (now === null || now.role !== 'leader') return;
    if (await this.remove(now, this.rng.pick(oldVoters), 'remove')) this.counts.replaced++;
  }

  private note(op: MemberOp, node: string, a: Answer): void {
    if (a.kind === 'done') this.counts.done[op === 'replace' ? 'add' : op]++;
    else this.counts[a.kind]++;
    this.o.record({ op, node, answer: a.text });
  }

  private async admin(url: string, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<Answer> {
    try {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.cluster.secret}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5000),
        redirect: 'manual',
      });
      const text = `${res.status} ${(await res.text()).slice(0, 160)}`;
      if (res.status === 200) return { kind: 'done', text };
      // 504: the change may be in the log and commit later; anything else was refused before it was.
      return res.status >= 500 && res.status !== 503 ? { kind: 'unknown', text } : { kind: 'refused', text };
    } catch (err) {
      return { kind: 'unknown', text: `no answer: ${(err as Error).message}` };
    }
  }
}
