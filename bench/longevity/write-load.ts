// The longevity run's writes: random keys, or with --fill every key once, in order.
import type { Cluster } from '../../launcher/start-cluster';
import { keyName, makeClients, makeValue } from '../load';
import type { LongevityOptions } from './options';

/** The key of write number n (from 0) of worker w: random (seeded per worker, so runs repeat), or in order with --fill. */
function keyChooser(o: LongevityOptions): (w: number) => (n: number) => string {
  if (o.fill) return () => (n) => keyName(n);
  return (w) => {
    let x = 0x9e3779b9 ^ (w * 7919 + 1);
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return keyName((x >>> 0) % o.keys);
    };
  };
}

/**
 * N writes at C closed-loop clients; calls onSample (awaited, writes keep
 * going meanwhile) every `sampleEvery` acknowledged writes and `at` hooks once
 * their count of writes is acknowledged.
 */
export async function writeLoad(
  cluster: Cluster,
  o: LongevityOptions,
  onSample: (writes: number, errors: number) => void,
  at: { writes: number; run: () => Promise<void> }[] = [],
): Promise<void> {
  const urls = cluster.members.map((m) => m.url);
  const { clients, close } = makeClients(urls, o.clients, 10_000, `longevity-${Date.now().toString(36)}`, o.client);
  let issued = 0;
  let acked = 0;
  let errors = 0;
  const hooks: Promise<void>[] = [];
  const chooser = keyChooser(o);
  const worker = async (w: number): Promise<void> => {
    const client = clients[w]!;
    const pick = chooser(w);
    let n = 0;
    while (issued < o.writes) {
      const seq = issued++;
      const key = o.fill ? keyName(o.firstKey + seq) : pick(seq);
      let r = await client.set(key, makeValue(o.valueSize, w, n++));
      // With --fill every key must be written: retry the same one.
      while (!r.ok && o.fill) {
        errors++;
        if (errors > 1000 && errors > acked) break;
        r = await client.set(key, makeValue(o.valueSize, w, n++));
      }
      if (!r.ok) {
        errors++;
        if (!o.fill) issued--; // the total counts acknowledged writes: try another
        if (errors > 1000 && errors > acked)
          throw new Error(
            `more writes fail than succeed (${errors} errors); last: ${r.error.type}${r.error.code ? ` ${r.error.code}` : ''}`,
          );
        continue;
      }
      acked++;
      if (acked % o.sampleEvery === 0) onSample(acked, errors);
      for (const h of at) if (h.writes === acked) hooks.push(h.run());
    }
  };
  try {
    await Promise.all(clients.map((_, w) => worker(w)));
    await Promise.all(hooks);
  } finally {
    close();
  }
}
