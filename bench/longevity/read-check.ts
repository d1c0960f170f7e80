// --reads (on by default with --fill): random reads after the writes, and a
// sample read back in full to check the data set is there.
import { RaftKvClient } from '../../client/client';
import type { Cluster } from '../../launcher/start-cluster';
import { keyName, makeClients } from '../load';
import type { LongevityOptions } from './options';
import { workerdRssMiB } from './sampling';

export interface ReadCheck {
  reads: number;
  failed: number;
  readsPerSec: number;
  /** Reads whose value was read back and compared (key present, length and prefix right). */
  checked: number;
  wrong: number;
  rssMiB: Record<string, number>;
}

/** Random reads after the writes: throughput with the load clients, then a sample read back in full and compared. */
export async function readCheck(cluster: Cluster, o: LongevityOptions): Promise<ReadCheck> {
  const urls = cluster.members.map((m) => m.url);
  const { clients, close } = makeClients(urls, o.clients, 10_000, `longevity-read-${Date.now().toString(36)}`, o.client);
  let issued = 0;
  let failed = 0;
  // With --fill, the keys written by now (this run and those it resumes).
  const readable = o.fill ? o.firstKey + o.writes : o.keys;
  const t0 = performance.now();
  try {
    await Promise.all(
      clients.map(async (client, w) => {
        let x = 0x2545f491 ^ (w * 104_729 + 7);
        while (issued < o.reads) {
          issued++;
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          const r = await client.get(keyName((x >>> 0) % readable));
          if (!r.ok) failed++;
        }
      }),
    );
  } finally {
    close();
  }
  const readsPerSec = o.reads / ((performance.now() - t0) / 1000);
  // Read a sample back with values: each key written (with --fill all are), of the right length.
  const checker = new RaftKvClient({ nodes: urls, timeoutMs: 5000 });
  const checked = Math.min(o.reads, 500);
  let wrong = 0;
  for (let i = 0; i < checked; i++) {
    const k = Math.floor(Math.random() * readable);
    const r = await checker.get(keyName(k));
    if (!r.ok) failed++;
    else if (o.fill && (r.value === null || r.value.length !== o.valueSize || !/^\d+:\d+:/.test(r.value))) wrong++;
  }
  const rssMiB: Record<string, number> = {};
  for (const m of cluster.members) rssMiB[m.id] = workerdRssMiB(cluster, m.id);
  return { reads: o.reads, failed, readsPerSec, checked, wrong, rssMiB };
}

export function formatReads(r: ReadCheck): string {
  const rss = Object.entries(r.rssMiB)
    .map(([id, v]) => `${id} ${v.toFixed(0)} MiB`)
    .join(', ');
  return `reads: ${r.reads} random reads at ${Math.round(r.readsPerSec)} reads/s, ${r.failed} failed; ${r.checked} read back in full, ${r.wrong} wrong; workerd RSS after: ${rss}`;
}
