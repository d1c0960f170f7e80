// Where a node's memory goes under a write load: every few seconds, each
// workerd's RSS (and its anonymous part) next to the V8 heap of each isolate
// in it (Runtime.getHeapUsage over the inspector), with the node's role. Then
// a forced GC in every isolate, and an idle minute: is what the leader gained
// live JS, garbage V8 keeps, or memory outside the JS heaps?
//
//   npx tsx bench/probes/heap.ts --seconds 120 --clients 64 [--v8-flags="--max-semi-space-size=1 ..."]
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitForAgreedLeader, fetchStatus } from '../../launcher/status';
import { findFreeBase } from '../ports';
import { CdpSession, listTargets } from './cdp';
import { startWriteLoad } from './write-load';
import { startProfileCluster, type ProfiledNode } from './profile-cluster';
import { parseV8Flags } from '../../launcher/workerd-v8-flags';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    clients: { type: 'string', default: '64' },
    every: { type: 'string', default: '10' },
    idle: { type: 'string', default: '60' },
    'v8-flags': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const clientCount = Number(values.clients);
const everyS = Number(values.every);
const idleS = Number(values.idle);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function procMiB(pid: number | null, field: 'VmRSS' | 'RssAnon'): number {
  if (pid === null) return 0;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function sessions(n: ProfiledNode): Promise<{ title: string; s: CdpSession }[]> {
  const targets = await listTargets(n.inspectorPort);
  return Promise.all(targets.map(async (t) => ({ title: t.title, s: await CdpSession.connect(t.webSocketDebuggerUrl) })));
}

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

async function sample(label: string, nodes: ProfiledNode[], cdp: Map<string, { title: string; s: CdpSession }[]>): Promise<void> {
  const parts: string[] = [];
  for (const n of nodes) {
    let role = '?';
    try {
      role = (await fetchStatus(n.member.url, 2000)).role;
    } catch {
      // busy
    }
    const heaps: string[] = [];
    for (const { title, s } of cdp.get(n.member.id) ?? []) {
      try {
        const h = await s.send<HeapUsage>('Runtime.getHeapUsage', {}, 5000);
        const mib = (n: number | undefined): string => (n === undefined ? '?' : (n / 2 ** 20).toFixed(0));
        // Newer V8s also report the embedder's (workerd's C++ objects') heap and array buffer backing stores.
        const extra =
          h.embedderHeapUsedSize === undefined ? '' : ` (embedder ${mib(h.embedderHeapUsedSize)}, buffers ${mib(h.backingStorageSize)})`;
        heaps.push(`${title.slice(0, 24)} ${mib(h.usedSize)}/${mib(h.totalSize)}${extra}`);
      } catch (err) {
        heaps.push(`${title.slice(0, 24)} ? (${(err as Error).message})`);
      }
    }
    parts.push(
      `${n.member.id} ${role} RSS ${procMiB(n.pid, 'VmRSS').toFixed(0)} (anon ${procMiB(n.pid, 'RssAnon').toFixed(0)}) heaps used/total MiB: ${heaps.join(', ')}`,
    );
  }
  process.stdout.write(`${label}\n  ${parts.join('\n  ')}\n`);
}

async function main(): Promise<void> {
  const basePort = await findFreeBase(19400, 3, false);
  const dataDir = mkdtempSync(join(tmpdir(), 'raft-kv-heap-'));
  const v8Flags = values['v8-flags'] === undefined ? undefined : parseV8Flags('--v8-flags', values['v8-flags']);
  const cluster = await startProfileCluster({ size: 3, basePort, dataDir, direct: true, logLevel: 'warn', v8Flags });
  const cdp = new Map<string, { title: string; s: CdpSession }[]>();
  try {
    for (const n of cluster.nodes) cdp.set(n.member.id, await sessions(n));
    const members = cluster.nodes.map((n) => n.member);
    await waitForAgreedLeader(members, 3, 30_000);
    await sample('idle, after the election', cluster.nodes, cdp);
    const load = startWriteLoad(
      members.map((m) => m.url),
      clientCount,
      'heap',
    );
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(everyS * 1000);
      await sample(`${Math.round((Date.now() - t0) / 1000)} s of load, ${load.writes()} writes`, cluster.nodes, cdp);
    }
    await load.stop();
    await sample('load over', cluster.nodes, cdp);
    // In parallel: an idle isolate may answer only when it next runs something, so waits overlap instead of adding up.
    await Promise.all([...cdp.values()].flat().map(({ s }) => s.send('HeapProfiler.collectGarbage', {}, 30_000).catch(() => {})));
    await sample('after a forced GC in every isolate', cluster.nodes, cdp);
    await sleep(idleS * 1000);
    await sample(`after ${idleS} s idle`, cluster.nodes, cdp);
  } finally {
    for (const list of cdp.values()) for (const { s } of list) s.close();
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
