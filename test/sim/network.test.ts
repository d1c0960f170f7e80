import { describe, expect, it } from 'vitest';
import type { Message } from '../../worker/raft/messages';
import { Clock } from './clock';
import { Network, type NetworkOptions } from './network';
import { Prng, ratio } from './prng';
import { Digest } from './trace';

const quiet: NetworkOptions = {
  delayMinMs: 5,
  delayMaxMs: 10,
  drop: ratio(0, 1),
  duplicate: ratio(0, 1),
  slow: ratio(0, 1),
  slowMaxMs: 0,
  clientDelayMaxMs: 3,
  clientDrop: ratio(0, 1),
  wireCopy: false,
};

function setup(opts: Partial<NetworkOptions> = {}) {
  const clock = new Clock();
  const got: { at: number; msg: Message }[] = [];
  const net = new Network(
    clock,
    new Prng(1),
    { ...quiet, ...opts },
    ['a', 'b', 'c'],
    (msg) => got.push({ at: clock.now, msg }),
    new Digest(),
  );
  return { clock, net, got };
}

function vote(from: string, to: string, term = 1): Message {
  return { type: 'vote', from, to, term, pre: false, transfer: false, lastLogIndex: 0, lastLogTerm: 0, round: 0 };
}

describe('Network', () => {
  it('delivers within the delay range', () => {
    const { clock, net, got } = setup();
    for (let i = 0; i < 100; i++) net.send(vote('a', 'b', i));
    clock.runUntil(1000);
    expect(got).toHaveLength(100);
    expect(got.every((g) => g.at >= 5 && g.at <= 10)).toBe(true);
  });

  it('reorders messages whose delays differ', () => {
    const { clock, net, got } = setup({ delayMinMs: 0, delayMaxMs: 50 });
    for (let i = 0; i < 50; i++) net.send(vote('a', 'b', i));
    clock.runUntil(1000);
    const terms = got.map((g) => g.msg.term);
    expect(terms).not.toEqual([...terms].sort((x, y) => x - y));
  });

  it('drops everything at drop 1/1 and duplicates everything at duplicate 1/1', () => {
    const lossy = setup({ drop: ratio(1, 1) });
    lossy.net.send(vote('a', 'b'));
    lossy.clock.runUntil(100);
    expect(lossy.got).toHaveLength(0);
    const dup = setup({ duplicate: ratio(1, 1) });
    dup.net.send(vote('a', 'b'));
    dup.clock.runUntil(100);
    expect(dup.got).toHaveLength(2);
  });

  it('blocks one direction only for a one-way partition', () => {
    const { clock, net, got } = setup();
    net.block('a', 'b');
    net.send(vote('a', 'b'));
    net.send(vote('b', 'a'));
    clock.runUntil(100);
    expect(got.map((g) => g.msg.from)).toEqual(['b']);
    expect(net.describe()).toBe('a->b');
  });

  it('split blocks both ways between groups, and heal restores', () => {
    const { clock, net, got } = setup();
    net.split(['a'], ['b', 'c']);
    for (const [f, t] of [
      ['a', 'b'],
      ['c', 'a'],
      ['b', 'c'],
    ] as const)
      net.send(vote(f, t));
    clock.runUntil(100);
    expect(got.map((g) => `${g.msg.from}${g.msg.to}`)).toEqual(['bc']);
    net.healAll();
    net.send(vote('a', 'b'));
    clock.runUntil(200);
    expect(got).toHaveLength(2);
  });

  it('loses messages in flight when a partition starts', () => {
    const { clock, net, got } = setup();
    net.send(vote('a', 'b'));
    net.block('a', 'b');
    clock.runUntil(100);
    expect(got).toHaveLength(0);
  });

  it('with wireCopy, delivers a copy, not the sender object', () => {
    const { clock, net, got } = setup({ wireCopy: true });
    const m = vote('a', 'b');
    net.send(m);
    clock.runUntil(100);
    expect(got[0]?.msg).toEqual(m);
    expect(got[0]?.msg).not.toBe(m);
  });

  it('turns faults off in the liveness phase', () => {
    const { clock, net, got } = setup({ drop: ratio(1, 1) });
    net.setFaulty(false);
    net.send(vote('a', 'b'));
    clock.runUntil(100);
    expect(got).toHaveLength(1);
  });
});
