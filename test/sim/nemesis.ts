// The fault injector of the safety phase: at random intervals it partitions
// the network (symmetric splits, an isolated node, one-way links), heals it,
// crashes a node (which restarts later from its disk) or pauses one. Targeted
// faults aim at the current leader (how often is drawn per seed), where
// they hurt most.
import type { AdminOutcome } from '../../worker/host/pending-requests';
import type { Clock } from './clock';
import type { Network } from './network';
import type { Prng } from './prng';
import type { SimNode } from './sim-node';
import { faultKinds, type FaultKind, type FaultOptions } from './swarm';
import type { Trace } from './trace';

export class Nemesis {
  private active = false;
  readonly counts: Record<FaultKind, number> = {
    heal: 0,
    split: 0,
    isolate: 0,
    oneWay: 0,
    crash: 0,
    crashAfterVote: 0,
    pause: 0,
    quiet: 0,
    reconfigure: 0,
  };
  /** Outcomes of the reconfigure faults, by kind of answer. */
  readonly reconfigured = { ok: 0, rejected: 0, notLeader: 0, timeout: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly prng: Prng,
    private readonly opts: FaultOptions,
    private readonly nodes: readonly SimNode[],
    private readonly network: Network,
    private readonly trace: Trace,
  ) {}

  start(): void {
    this.active = true;
    this.scheduleNext();
  }

  /** Ends the safety phase: heal everything, restart every crashed node, resume paused ones. */
  healAll(): void {
    this.active = false;
    this.network.healAll();
    this.network.setFaulty(false);
    for (const n of this.nodes) {
      n.unpause();
      if (!n.up) n.restart();
    }
    this.trace.log('sim', 'info', 'sim: healed all faults; liveness phase');
  }

  private scheduleNext(): void {
    const o = this.opts;
    this.clock.after(this.prng.between(o.intervalMinMs, o.intervalMaxMs), () => {
      if (!this.active) return;
      this.act();
      this.scheduleNext();
    });
  }

  private act(): void {
    const kind = faultKinds[this.prng.weighted(faultKinds.map((k) => this.opts.weights[k]))] as FaultKind;
    this.counts[kind]++;
    const ids = this.nodes.map((n) => n.id);
    switch (kind) {
      case 'heal':
        this.network.healAll();
        break;
      case 'split': {
        const shuffled = this.prng.shuffle(ids.slice());
        const cut = this.prng.between(1, ids.length - 1);
        this.network.split(shuffled.slice(0, cut), shuffled.slice(cut));
        break;
      }
      case 'isolate': {
        const victim = this.victim().id;
        this.network.split(
          [victim],
          ids.filter((id) => id !== victim),
        );
        break;
      }
      case 'oneWay': {
        const from = ids.filter(() => this.prng.below(2) === 0);
        const to = ids.filter((id) => !from.includes(id) && this.prng.below(2) === 0);
        for (const a of from) for (const b of to) this.network.block(a, b);
        break;
      }
      case 'crash':
        this.crash(this.victim());
        return;
      case 'crashAfterVote': {
        const n = this.prng.pick(this.nodes);
        n.armVoteHook(() => {
          if (this.active) this.crash(n);
        });
        return;
      }
      case 'pause': {
        const n = this.victim();
        const until = this.clock.now + this.prng.between(1, this.opts.pauseMaxMs);
        n.pause(until);
        this.trace.log('sim', 'info', 'sim: pause', { node: n.id, until });
        return;
      }
      case 'quiet':
        return;
      case 'reconfigure':
        this.reconfigure();
        return;
    }
    this.trace.log('sim', 'info', `sim: ${kind}`, { blocked: this.network.describe() });
  }

  private crash(n: SimNode): void {
    if (!n.up) return;
    n.crash();
    const downMs = this.prng.between(0, this.opts.downMaxMs);
    this.trace.log('sim', 'info', 'sim: crash', { node: n.id, downMs });
    this.clock.after(downMs, () => {
      if (!this.active || n.up) return; // the liveness phase restarts it instead
      n.restart();
      this.trace.log('sim', 'info', 'sim: restart', { node: n.id });
    });
  }

  /**
   * Ask a leader for one random change: add a node that is not a member (as a
   * learner), promote a learner, remove a
   * member (the leader itself now and then), or transfer leadership.
   */
  private reconfigure(): void {
    // Mostly the leader; now and then any node that is up, which should answer notLeader.
    const leaders = this.nodes.filter((n) => n.up && n.role === 'leader');
    const up = this.nodes.filter((n) => n.up);
    const pool = leaders.length > 0 && this.prng.below(4) !== 0 ? leaders : up;
    if (pool.length === 0) return;
    const leader = this.prng.pick(pool);
    const m = leader.membership();
    const isMember = (id: string) => m.voters.some((v) => v.id === id) || m.learners.some((l) => l.id === id);
    const outsiders = this.nodes.filter((n) => !isMember(n.id));
    const choice = this.prng.below(4);
    const reply = (o: AdminOutcome) => {
      this.reconfigured[o.type === 'ok' ? 'ok' : o.type]++;
      this.trace.log('sim', 'info', 'sim: reconfigure answered', {
        node: leader.id,
        outcome: o.type,
        reason: o.type === 'rejected' ? o.reason : undefined,
      });
    };
    if (choice === 0 && outsiders.length > 0) {
      // New nodes join as learners and are promoted once caught up (thesis §4.2.1): a voter
      // added with an empty log would stall commits until it caught up.
      const n = this.prng.pick(outsiders);
      const role = 'learner';
      this.trace.log('sim', 'info', 'sim: reconfigure add', { node: n.id, role, via: leader.id });
      leader.changeMembership({ type: 'add', member: n.member, role }, reply);
    } else if (choice === 1 && m.learners.length > 0) {
      const l = this.prng.pick(m.learners);
      this.trace.log('sim', 'info', 'sim: reconfigure promote', { node: l.id, via: leader.id });
      leader.changeMembership({ type: 'promote', id: l.id }, reply);
    } else if (choice === 2) {
      const all = [...m.voters, ...m.learners];
      if (all.length === 0) return;
      const victim = this.prng.pick(all);
      this.trace.log('sim', 'info', 'sim: reconfigure remove', { node: victim.id, via: leader.id });
      leader.changeMembership({ type: 'remove', id: victim.id }, reply);
    } else if (m.voters.length > 1) {
      const target = this.prng.pick(m.voters.filter((v) => v.id !== leader.id));
      this.trace.log('sim', 'info', 'sim: reconfigure transfer', { node: target.id, via: leader.id });
      leader.transferLeadership(target.id, reply);
    }
  }

  /** A leader (if one is up) with chance `leaderBias`, otherwise any node that is up, or any node. */
  private victim(): SimNode {
    const up = this.nodes.filter((n) => n.up);
    const leaders = up.filter((n) => n.role === 'leader');
    if (leaders.length > 0 && this.prng.chance(this.opts.leaderBias)) return this.prng.pick(leaders);
    return this.prng.pick(up.length > 0 ? up : this.nodes);
  }
}
