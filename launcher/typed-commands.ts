// The commands typed on `npm start`'s standard input (cluster-layout.ts parses
// them): they grow, shrink and re-lead the running cluster through the admin
// API, starting and stopping node processes as an operator would, and keep
// <data>/cluster-nodes.json current so the next `npm start` runs the same nodes.
import { RaftKvClient } from '../client/client';
import type { Failure } from '../client/client-types';
import { nextNode, typedHelp, writeLayout, type LayoutNode, type TypedCommand } from './cluster-layout';
import type { Cluster } from './start-cluster';

/** Refusals that clear up by themselves (a change or transfer in flight, a new leader, a learner catching up). */
const transient = /not yet committed an entry of its term|already in progress|has not caught up|transfer .* in progress|did not take over/;

export interface Shell {
  cluster: Cluster;
  dataDir: string;
  layout: LayoutNode[];
  /** Every id ever used here (never given out twice). */
  used: Set<string>;
  print: (line: string) => void;
}

/** An admin call, retried while the refusal is transient or the outcome unknown; the last answer. */
async function retried<T extends { ok: true } | Failure>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call();
    if (r.ok || Date.now() >= deadline) return r;
    if (r.error.type === 'refused' && !transient.test(r.error.message)) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

function admin(s: Shell): RaftKvClient {
  return new RaftKvClient({ nodes: s.cluster.members.map((m) => m.url), adminToken: s.cluster.secret, timeoutMs: 10_000 });
}

const why = (f: Failure): string => `${f.error.type}: ${f.error.message}`;

export async function runTyped(s: Shell, c: TypedCommand): Promise<void> {
  switch (c.type) {
    case 'help':
    case 'error':
      s.print(c.type === 'error' ? c.message : typedHelp);
      return;
    case 'members': {
      const r = await admin(s).members();
      if (!r.ok) return s.print(`members: ${why(r)}`);
      for (const m of r.members) s.print(`  ${m.id} ${m.url} ${m.role}${m.id === r.leader?.id ? ' (leader)' : ''}`);
      return;
    }
    case 'transfer': {
      const r = await retried(() => admin(s).transferLeadership(c.id), 15_000);
      return s.print(r.ok ? `leadership transferred to ${r.leader}` : `transfer ${c.id}: ${why(r)}`);
    }
    case 'add':
      return add(s, c.id);
    case 'remove':
      return remove(s, c.id);
  }
}

async function add(s: Shell, id: string | undefined): Promise<void> {
  let node: LayoutNode;
  try {
    node = nextNode(s.layout, s.used, id);
  } catch (err) {
    return s.print(`add: ${(err as Error).message}`);
  }
  s.used.add(node.id);
  writeLayout(s.dataDir, s.layout, s.used);
  s.print(`starting ${node.id} on port ${node.port} (it joins; data in ${s.dataDir}/${node.id})`);
  let member;
  try {
    member = await s.cluster.addNode(node);
  } catch (err) {
    return s.print(`add: ${node.id} did not start: ${(err as Error).message}`);
  }
  const added = await retried(() => admin(s).addMember(node.id, member.url), 15_000);
  if (!added.ok && !/already a member/.test(added.error.message)) {
    await s.cluster.removeNode(node.id);
    return s.print(`add: ${why(added)}; ${node.id} stopped`);
  }
  // A member now, learner or voter: the next start must run it.
  s.layout.push(node);
  writeLayout(s.dataDir, s.layout, s.used);
  s.print(`${node.id} added as a learner; promoting it once it has caught up`);
  const promoted = await retried(() => admin(s).promote(node.id), 60_000);
  s.print(promoted.ok ? `${node.id} is a voter` : `promote ${node.id}: ${why(promoted)} (type: members; it stays a learner)`);
}

async function remove(s: Shell, id: string): Promise<void> {
  const r = await retried(() => admin(s).removeMember(id), 15_000);
  if (!r.ok) return s.print(`remove ${id}: ${why(r)}`);
  if (s.cluster.members.some((m) => m.id === id)) await s.cluster.removeNode(id);
  const i = s.layout.findIndex((n) => n.id === id);
  if (i >= 0) s.layout.splice(i, 1);
  writeLayout(s.dataDir, s.layout, s.used);
  s.print(`${id} removed from the cluster and stopped (its data stays in ${s.dataDir}/${id})`);
}
