// A closed-loop write load for the memory probes: `clients` raw HTTP clients,
// each writing 100-byte values over 10,000 keys until stopped.
import { keyName, makeClients, makeValue } from '../load';

export interface WriteLoad {
  /** Writes acknowledged so far. */
  writes: () => number;
  /** Stops the clients after their current write and closes them. */
  stop: () => Promise<void>;
}

export function startWriteLoad(urls: string[], clientCount: number, tag: string): WriteLoad {
  const { clients, close } = makeClients(urls, clientCount, 10_000, tag, 'raw');
  let stopped = false;
  let writes = 0;
  const load = Promise.all(
    clients.map(async (c, w) => {
      let n = 0;
      while (!stopped) {
        const r = await c.set(keyName((w * 7919 + n) % 10_000), makeValue(100, w, n++));
        if (r.ok) writes++;
      }
    }),
  );
  return {
    writes: () => writes,
    stop: async () => {
      stopped = true;
      await load;
      close();
    },
  };
}
