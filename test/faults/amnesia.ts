// A self-test of the checks, not a fault model: Raft assumes a node never
// forgets what it persisted, so a run that breaks that assumption must be
// caught. With 3 nodes (leader L, followers A and B):
//   1. B is cut off; L and A commit writes B never sees.
//   2. A is killed and comes back with its data wiped; L is cut off.
//   3. A (empty) votes for B, and B (stale) leads: the writes of step 1 are
//      gone, and clients that read from B see older values than they were
//      told were written.
// `npm run faults -- --unsafe-amnesia` runs this before the usual schedule;
// such a run is expected to FAIL.
import type { FaultCluster } from './cluster';
import type { Cut } from './network';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isolate(node: string, ids: readonly string[]): Cut[] {
  return ids
    .filter((id) => id !== node)
    .flatMap((id) => [
      { from: node, to: id, mode: 'reset' as const },
      { from: id, to: node, mode: 'reset' as const },
    ]);
}

export async function amnesiaScenario(cluster: FaultCluster, note: (what: string) => void): Promise<void> {
  const ids = cluster.ids;
  if (ids.length !== 3) throw new Error('the amnesia self-test needs --nodes 3');
  const leader = await cluster.waitForLeader(10_000);
  if (leader === null) throw new Error('amnesia self-test: no leader to start from');
  const [a, b] = ids.filter((id) => id !== leader) as [string, string];
  cluster.applyCuts(isolate(b, ids));
  note(`amnesia: ${b} cut off; ${leader} (leader) and ${a} commit without it`);
  await sleep(3000);
  await cluster.node(a).kill();
  cluster.wipe(a);
  cluster.applyCuts(isolate(leader, ids));
  note(`amnesia: ${a} killed and wiped; ${leader} cut off; ${b} reachable again`);
  await cluster.restart(a);
  note(`amnesia: ${a} back with no data; ${a} + ${b} are a majority that never saw the last writes`);
  await sleep(5000);
  cluster.healNetwork();
  note('amnesia: network healed; the usual schedule follows');
}
