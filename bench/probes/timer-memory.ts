// `npx tsx bench/probes/timer-memory.ts [--where object|worker]
//   [--mode clear|fire|none] [--timers 500000] [--v8-flags="..."]`
//
// Does workerd keep memory for timers? One workerd, no Raft, port 19921. The
// Worker (`--where worker`, in one request each time) or its Durable Object
// (`--where object`) makes timers in batches of 10,000 and the script prints
// workerd's RSS every 100,000:
// - clear: setTimeout(f, 3000) then clearTimeout at once (what a wait with a
//   time limit does when its answer comes first);
// - fire: setTimeout(f, 0), awaited until it fires;
// - none: only the await each of the others also does (the control).
// Measured on the pinned workerd: in an object, `clear` keeps about 160 bytes
// per timer for as long as the object lives; the others keep nothing, and in
// a Worker nothing is kept (docs/launcher-memory.md). (workerd also refuses a
// 10,001st timer pending at once in one context: "max active timeouts".)
import { parseFlags, parseIntIn, UsageError } from '../../common/args';
import { pidListeningOn, rssKiB } from '../../launcher/procfs';
import { probeWorkerd, useProbeV8Flags } from './probe-workerd';

const worker = `
import { DurableObject } from 'cloudflare:workers';
async function timers(n, mode) {
  for (let i = 0; i < n; i++) {
    if (mode === 'clear') clearTimeout(setTimeout(() => {}, 3000));
    else if (mode === 'fire') { await new Promise((r) => setTimeout(r, 0)); continue; }
    await Promise.resolve();
  }
  return n;
}
export class T extends DurableObject {
  run(n, mode) { return timers(n, mode); }
}
export default {
  async fetch(request, env) {
    const q = new URL(request.url).searchParams;
    const n = Number(q.get('n'));
    const mode = q.get('mode');
    if (q.get('where') === 'object') return Response.json(await env.T.get(env.T.idFromName('t')).run(n, mode));
    return Response.json(await timers(n, mode));
  },
};`;

const port = 19921;
const batch = 10_000;

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    where: { type: 'string' },
    mode: { type: 'string' },
    timers: { type: 'string' },
    'v8-flags': { type: 'string' },
  });
  const where = v.where ?? 'object';
  const mode = v.mode ?? 'clear';
  if (where !== 'object' && where !== 'worker') throw new UsageError('--where: object or worker');
  if (!['clear', 'fire', 'none'].includes(mode)) throw new UsageError('--mode: clear, fire or none');
  const total = parseIntIn('--timers', v.timers ?? '500000', batch, 1e10);
  const flags = useProbeV8Flags(v['v8-flags']);
  const mf = probeWorkerd({ port, code: worker, durableObjects: { T: { className: 'T', useSQLite: true } } });
  try {
    await mf.ready;
    const pid = pidListeningOn(port);
    if (pid === null) throw new Error('workerd is not listening');
    const mib = () => Math.round(rssKiB(pid) / 1024);
    console.log(`timers in the ${where}, mode ${mode}, V8 flags "${flags.join(' ')}"`);
    console.log(`0 timers: workerd RSS ${mib()} MiB`);
    for (let done = 0; done < total;) {
      const res = await fetch(`http://127.0.0.1:${port}/?n=${batch}&mode=${mode}&where=${where}`);
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      await res.text();
      done += batch;
      if (done % 100_000 === 0 || done >= total) console.log(`${done} timers: workerd RSS ${mib()} MiB`);
    }
  } finally {
    await mf.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
