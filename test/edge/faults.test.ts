// Issue 18: whole edge clusters (3 and 5 members) in one workerd, clients
// going through the front, and faults in the stub transport between members:
// lost requests, lost replies, delays, partitions (the leader cut off, a
// one-way cut, a minority), and member objects reset with ctx.abort(). After
// healing, the history must be linearizable (the checker the simulator and the
// fault test share), and every acknowledged write to a key written once must
// still be readable after every member was reset.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkFaults, setLinkFaults } from '../../worker/edge/link-faults';
import { checkSafety } from '../faults/check';
import type { KvOp } from '../sim/checkers/history';
import { Prng } from '../sim/prng';
import { clientFor, membersOf, Recorder, resetMember, sleep, waitForLeader } from './helpers';

const SEED = Number(process.env.EDGE_SEED ?? 18);

interface Run {
  recorder: Recorder;
  /** Keys written once each, acknowledged: they must all survive. */
  acked: Map<string, string>;
  stop: () => Promise<void>;
}

/** `clients` concurrent clients, each looping over random operations on a few shared keys. */
function startWorkload(cluster: string, clients: number, rng: Prng): Run {
  const recorder = new Recorder();
  const acked = new Map<string, string>();
  const keys = ['a', 'b', 'c', 'd'];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const r = rng.fork();
    const client = clientFor(cluster, r);
    const name = `c${i}`;
    for (let n = 0; running; n++) {
      const key = keys[r.below(keys.length)]!;
      const value = `${name}-${n}`;
      const pick = r.below(10);
      if (pick < 2) {
        // A key of its own, written once: if acknowledged, it must survive everything below.
        const own = `once-${name}-${n}`;
        if ((await recorder.run(client, name, own, { type: 'set', value })) !== null) acked.set(own, value);
        continue;
      }
      const op: KvOp =
        pick < 5
          ? { type: 'get' }
          : pick < 7
            ? { type: 'set', value }
            : { type: 'cas', expected: r.below(2) === 0 ? null : `c${r.below(clients)}-${Math.max(0, n - 1)}`, value };
      await recorder.run(client, name, key, op);
    }
  });
  return {
    recorder,
    acked,
    stop: async () => {
      // On a busy machine the faulty phase may have acknowledged little: go on healed until some writes are in.
      const deadline = Date.now() + 15_000;
      while (acked.size < 6 && Date.now() < deadline) await sleep(50);
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Final reads of every key by one client, on the healed cluster; each must get an answer. */
async function finalReads(cluster: string, run: Run, rng: Prng): Promise<void> {
  const client = clientFor(cluster, rng);
  const keys = [...new Set(run.recorder.history.map((o) => o.key))];
  for (const key of keys) {
    let answered = false;
    for (let i = 0; i < 20 && !answered; i++) answered = (await run.recorder.run(client, 'final', key, { type: 'get' })) !== null;
    expect(answered, `final read of ${key}`).toBe(true);
  }
}

async function expectSafe(cluster: string, run: Run, rng: Prng): Promise<void> {
  await waitForLeader(cluster);
  await finalReads(cluster, run, rng);
  const safety = checkSafety(run.recorder.history, 'final');
  expect(safety.failures).toEqual([]);
  expect(run.acked.size).toBeGreaterThanOrEqual(6);

  // Every member restarts from its storage alone; nothing acknowledged may be missing.
  const { members } = await membersOf(cluster);
  for (const m of members) await resetMember(cluster, m.id);
  await waitForLeader(cluster);
  const reader = clientFor(cluster, rng);
  for (const [key, value] of run.acked) {
    const r = await reader.get(key);
    expect(r, `acknowledged write of ${key}`).toEqual({ ok: true, value });
  }
}

afterEach(() => {
  setLinkFaults('three', null);
  setLinkFaults('five', null);
});

describe('edge cluster under faults in the stub transport', () => {
  it('3 members: drops, delays, the leader cut off, a one-way cut, resets', async () => {
    const rng = new Prng(SEED);
    const faults = new LinkFaults({ random: () => rng.float() });
    setLinkFaults('three', faults);
    await waitForLeader('three');
    const run = startWorkload('three', 5, rng.fork());

    faults.setPlan({ random: () => rng.float(), dropRequest: 0.05, dropReply: 0.05, delayMs: [0, 15] });
    await sleep(600);
    const cut = (await membersOf('three')).leader!;
    faults.partition(
      cut,
      ['n1', 'n2', 'n3'].filter((m) => m !== cut),
    );
    await sleep(700);
    faults.heal();
    await sleep(300);
    await resetMember('three', 'leader');
    await sleep(600);
    faults.cutOneWay('n1', 'n3');
    await resetMember('three', 'n2');
    await sleep(600);
    faults.heal();
    faults.setPlan({ random: () => rng.float() });
    await sleep(300);

    await run.stop();
    await expectSafe('three', run, rng.fork());
  });

  it('5 members: a minority cut off, then one holding the leader, resets of two members', async () => {
    const rng = new Prng(SEED + 1);
    const faults = new LinkFaults({ random: () => rng.float() });
    setLinkFaults('five', faults);
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    await waitForLeader('five');
    const run = startWorkload('five', 5, rng.fork());

    faults.setPlan({ random: () => rng.float(), dropRequest: 0.05, dropReply: 0.05, delayMs: [0, 10] });
    await sleep(500);
    const leader = (await membersOf('five')).leader!;
    const follower = all.find((m) => m !== leader)!;
    const rest = all.filter((m) => m !== leader && m !== follower);
    // The leader and one follower on one side: the majority elects anew.
    faults.partition(leader, rest);
    faults.partition(follower, rest);
    await sleep(800);
    faults.heal();
    await sleep(300);
    await resetMember('five', 'leader');
    await resetMember('five', rest[0]!);
    await sleep(800);
    faults.setPlan({ random: () => rng.float() });
    await sleep(300);

    await run.stop();
    await expectSafe('five', run, rng.fork());
  });
});
