// Which JavaScript objects a node keeps more of as writes go by. Starts a
// 3-node cluster with inspectors, runs a 64-client write load, and at two
// points (after --first and after --second seconds of load) forces a full GC
// in each node's Worker isolate and takes a V8 heap snapshot; then prints,
// per node, the object kinds whose live count or size grew most between the
// two, with the writes made in between. A kind that grows in step with the
// writes on the leader only is what a leader keeps per write.
//
//   npx tsx bench/probes/heap-growth.ts [--first 20] [--second 80] [--clients 64] [--top 15]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fetchStatus, waitForAgreedLeader } from '../../launcher/status';
import { findFreeBase } from '../ports';
import { CdpSession, listTargets } from './cdp';
import { startWriteLoad } from './write-load';
import { startProfileCluster, type ProfiledNode } from './profile-cluster';

const { values } = parseArgs({
  options: {
    first: { type: 'string', default: '20' },
    second: { type: 'string', default: '80' },
    clients: { type: 'string', default: '64' },
    top: { type: 'string', default: '15' },
  },
});
const firstS = Number(values.first);
const secondS = Number(values.second);
const clientCount = Number(values.clients);
const top = Number(values.top);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Kind {
  count: number;
  bytes: number;
}

/** Live objects by "type:name" (V8's heap snapshot node types and constructor or string names). */
async function snapshotKinds(s: CdpSession): Promise<Map<string, Kind>> {
  await s.send('HeapProfiler.enable', {});
  await s.send('HeapProfiler.collectGarbage', {}, 60_000);
  const chunks: string[] = [];
  s.on('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push((p as { chunk: string }).chunk));
  await s.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, 120_000);
  s.on('HeapProfiler.addHeapSnapshotChunk', null);
  const snap = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const kinds = new Map<string, Kind>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!] ?? '?';
    let name = snap.strings[snap.nodes[i + nameAt]!] ?? '?';
    // Strings and numbers are named by their contents: group them by type alone.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number') name = '';
    const key = `${type}:${name.slice(0, 60)}`;
    const k = kinds.get(key) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += snap.nodes[i + sizeAt]!;
    kinds.set(key, k);
  }
  return kinds;
}

async function workerSession(n: ProfiledNode): Promise<CdpSession> {
  const targets = await listTargets(n.inspectorPort);
  const t = targets.find((x) => x.title.includes('core:user')) ?? targets[0];
  if (t === undefined) throw new Error(`${n.member.id}: no inspector target`);
  return CdpSession.connect(t.webSocketDebuggerUrl);
}

function report(id: string, role: string, writes: number, a: Map<string, Kind>, b: Map<string, Kind>): void {
  const rows = [...b.entries()].map(([key, kb]) => {
    const ka = a.get(key) ?? { count: 0, bytes: 0 };
    return { key, dCount: kb.count - ka.count, dBytes: kb.bytes - ka.bytes, count: kb.count };
  });
  const total = (m: Map<string, Kind>): number => [...m.values()].reduce((s, k) => s + k.bytes, 0);
  rows.sort((x, y) => y.dBytes - x.dBytes);
  console.log(
    `${id} (${role}): live heap ${(total(a) / 2 ** 20).toFixed(2)} -> ${(total(b) / 2 ** 20).toFixed(2)} MiB over ${writes} writes ` +
      `(${((total(b) - total(a)) / Math.max(1, writes)).toFixed(1)} bytes per write)`,
  );
  for (const r of rows.slice(0, top)) {
    console.log(`  ${String(r.dBytes).padStart(10)} B ${String(r.dCount).padStart(8)} objects (now ${r.count})  ${r.key}`);
  }
}

async function main(): Promise<void> {
  const basePort = await findFreeBase(19500, 3, false);
  const dataDir = mkdtempSync(join(tmpdir(), 'raft-kv-heap-growth-'));
  const cluster = await startProfileCluster({ size: 3, basePort, dataDir, direct: true, logLevel: 'warn' });
  const sessions: CdpSession[] = [];
  try {
    for (const n of cluster.nodes) sessions.push(await workerSession(n));
    const members = cluster.nodes.map((n) => n.member);
    await waitForAgreedLeader(members, 3, 30_000);
    const load = startWriteLoad(
      members.map((m) => m.url),
      clientCount,
      'heap-growth',
    );
    await sleep(firstS * 1000);
    const w1 = load.writes();
    const first = await Promise.all(sessions.map((s) => snapshotKinds(s)));
    await sleep(Math.max(0, secondS - firstS) * 1000);
    const w2 = load.writes();
    const second = await Promise.all(sessions.map((s) => snapshotKinds(s)));
    await load.stop();
    for (const [i, n] of cluster.nodes.entries()) {
      const role = await fetchStatus(n.member.url, 2000)
        .then((s) => s.role)
        .catch(() => '?');
      report(n.member.id, role, w2 - w1, first[i]!, second[i]!);
    }
  } finally {
    for (const s of sessions) s.close();
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
