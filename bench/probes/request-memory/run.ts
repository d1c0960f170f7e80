// `npx tsx bench/probes/request-memory/run.ts [--mode plain|rpc|shared|fetch]
//   [--requests 3000000] [--every 250000] [--concurrency 64] [--v8-flags="..."]`
//
// Runs worker.ts in one workerd (Miniflare, as the launcher runs a node, with
// the launcher's V8 flags unless --v8-flags says otherwise), sends it
// `--requests` POSTs of a 100-byte body from `--concurrency` persistent raw
// HTTP/1.1 connections (the benchmark's raw client), and prints workerd's RSS
// every `--every` requests. The question it answers: does workerd's memory
// grow with the number of HTTP requests it serves, with no Raft and no state
// of ours, as a leader's does (docs/launcher-memory.md)? Compare the modes and
// run each more than once.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseFlags, parseIntIn, UsageError } from '../../../common/args';
import { probeWorkerd, useProbeV8Flags } from '../probe-workerd';
import { commandLine, processTree, rssKiB } from '../../../launcher/procfs';
import { RawConnection } from '../../clients/raw-client';
import { bundleWorker } from '../../../launcher/bundle';

const modes = ['plain', 'rpc', 'shared', 'fetch'] as const;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    mode: { type: 'string' },
    requests: { type: 'string' },
    every: { type: 'string' },
    concurrency: { type: 'string' },
    'v8-flags': { type: 'string' },
  });
  const mode = v.mode ?? 'rpc';
  if (!(modes as readonly string[]).includes(mode)) throw new UsageError(`--mode: one of ${modes.join(', ')}`);
  const total = parseIntIn('--requests', v.requests ?? '3000000', 1_000, 1e10);
  const every = parseIntIn('--every', v.every ?? '250000', 1_000, 1e10);
  const concurrency = parseIntIn('--concurrency', v.concurrency ?? '64', 1, 1024);
  const flags = useProbeV8Flags(v['v8-flags']);
  const { code } = await bundleWorker(fileURLToPath(new URL('./worker.ts', import.meta.url)));
  const port = await freePort();
  const mf = probeWorkerd({ port, code, durableObjects: { ECHO: { className: 'Echo' } } });
  try {
    await mf.ready;
    const base = new URL(`http://127.0.0.1:${port}`);
    const workerds = processTree(process.pid).filter((pid) => commandLine(pid).includes('workerd'));
    const rss = () => Math.round(workerds.reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024);
    console.log(`mode ${mode}, ${concurrency} connections, V8 flags "${flags.join(' ')}"`);
    console.log(`0 requests: workerd RSS ${rss()} MiB`);
    const body = JSON.stringify({ op: 'put', key: 'k1', value: 'v'.repeat(100) });
    const headers = { 'Content-Type': 'application/json' };
    let sent = 0;
    let done = 0;
    let failed = 0;
    let mark = every;
    let t0 = performance.now();
    const loop = async (conn: RawConnection): Promise<void> => {
      while (sent < total) {
        sent++;
        const answer = await conn.request('POST', `/${mode}`, headers, body, 10_000).catch(() => null);
        if (answer === null || answer.status !== 200) failed++;
        done++;
        if (done === mark) {
          const t1 = performance.now();
          console.log(`${done} requests: workerd RSS ${rss()} MiB, ${Math.round((every * 1000) / (t1 - t0))} requests/s`);
          t0 = t1;
          mark += every;
        }
      }
      conn.close();
    };
    await Promise.all(Array.from({ length: concurrency }, () => loop(new RawConnection(base))));
    console.log(`done: ${done} requests, ${failed} failed, workerd RSS ${rss()} MiB`);
  } finally {
    await mf.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
