// `npx tsx bench/probes/rpc-ceiling.ts [--variant plain|rpc|shared] [--concurrency 1,64]
//   [--seconds 5] [--rounds 2] [--v8-flags="..."] [--port 19877]`
//
// What one workerd can do with no Raft at all, to tell the runtime's cost
// from ours. A Worker answers PUTs (the load generator and key choice of
// `npm run bench --client raw`):
// - plain:  reads the body and answers itself;
// - rpc:    reads the body and calls a Durable Object that does nothing, one
//           JS RPC per request (what raft-kv does with COALESCE_REQUESTS=off);
// - shared: requests that arrive while a call is in flight share the next one
//           (the pattern of worker/front/coalesce.ts, written out small).
// It prints ops/s, latency, workerd's CPU per request, failed requests, and
// how often workerd logged "Cannot perform I/O on behalf of a different
// request", the symptom worker/front/coalesce.ts guards against. With V8's
// TurboFan on (`--v8-flags="--max-semi-space-size=1 --no-parallel-scavenge"`),
// `--variant shared` shows it within a few rounds: its waiters are made with
// `new Promise`, the form docs/turbofan-context.md explains and coalesce.ts avoids.
import { Log, LogLevel, Miniflare } from 'miniflare';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseFlags, parseIntIn, parseOneOf, parsePort, parsePositive } from '../../common/args';
import { pidListeningOn } from '../../launcher/procfs';
import { cpuMs } from '../procstat';
import { defaultV8Flags, parseV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';
import { runLoad } from '../load';
import { fmt } from '../run';

type Variant = 'plain' | 'rpc' | 'shared';

const worker = (variant: Variant): string => `
import { DurableObject } from 'cloudflare:workers';
export class Sink extends DurableObject {
  async write(req) { return { type: 'ok', key: req.key }; }
  async writeBatch(reqs) { return reqs.map((req) => ({ type: 'ok', key: req.key })); }
}
let queue = null;
let inflight = 0;
let sessions = 0;
async function viaQueue(env, req) {
  if (queue === null && inflight === 0) {
    inflight++;
    try { return (await env.SINK.get(env.SINK.idFromName('sink')).writeBatch([req]))[0]; } finally { inflight--; }
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gave up')), 10000); // keeps this request from counting as hung
    if (queue === null) {
      const mine = (queue = []);
      setTimeout(async () => {
        queue = null;
        inflight++;
        try {
          const outs = await env.SINK.get(env.SINK.idFromName('sink')).writeBatch(mine.map((w) => w.req));
          mine.forEach((w, i) => w.resolve(outs[i]));
        } catch (err) {
          mine.forEach((w) => w.reject(err));
        } finally {
          inflight--;
        }
      }, 0);
    }
    queue.push({ req, resolve: (v) => { clearTimeout(timer); resolve(v); }, reject });
  });
}
export default {
  async fetch(request, env) {
    const key = new URL(request.url).pathname;
    // The load client registers a session before writing; hand out one (the probe keeps no session table).
    if (request.method === 'POST' && key === '/sessions') return Response.json({ clientId: 'session-' + ++sessions });
    const value = await request.text();
    if (${JSON.stringify(variant)} === 'plain') return Response.json({ ok: true });
    const out = ${JSON.stringify(variant)} === 'rpc'
      ? await env.SINK.get(env.SINK.idFromName('sink')).write({ key, value })
      : await viaQueue(env, { key, value });
    return Response.json({ ok: out.key === key });
  },
};`;

interface Options {
  variant: Variant;
  concurrency: number[];
  seconds: number;
  rounds: number;
  v8Flags: string[];
  port: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { variant: 'rpc', concurrency: [1, 64], seconds: 5, rounds: 2, v8Flags: [...defaultV8Flags], port: 19877 };
  const { values: v } = parseFlags(argv, {
    variant: { type: 'string' },
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    'v8-flags': { type: 'string' },
    port: { type: 'string' },
  });
  const count = (w: string, t: string): number => parseIntIn(w, t, 1, Number.MAX_SAFE_INTEGER);
  if (v.variant !== undefined) o.variant = parseOneOf('--variant', v.variant, ['plain', 'rpc', 'shared'] as const);
  if (v.concurrency !== undefined) o.concurrency = v.concurrency.split(',').map((c) => count('--concurrency', c));
  if (v.seconds !== undefined) o.seconds = parsePositive('--seconds', v.seconds);
  if (v.rounds !== undefined) o.rounds = count('--rounds', v.rounds);
  if (v['v8-flags'] !== undefined) o.v8Flags = parseV8Flags('--v8-flags', v['v8-flags']);
  if (v.port !== undefined) o.port = parsePort('--port', v.port);
  return o;
}

/** CPU time of `pid` so far, in ms (0 if it is gone). */
function cpuOf(pid: number): number {
  return cpuMs(pid) ?? 0;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const persist = mkdtempSync(join(tmpdir(), 'raft-kv-rpc-ceiling-'));
  let crossContext = 0;
  const watch = (s: Readable): void => {
    createInterface({ input: s }).on('line', (line) => {
      if (line.includes('on behalf of a different request')) crossContext++;
    });
  };
  useWorkerdV8Flags(o.v8Flags);
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: o.port }],
    cf: false,
    stripCfConnectingIp: false,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio: (out: Readable, err: Readable) => {
      watch(out);
      watch(err);
    },
    modules: [{ type: 'ESModule', path: 'index.js', contents: worker(o.variant) }],
    compatibilityDate: '2026-04-26',
    durableObjects: { SINK: { className: 'Sink', useSQLite: true } },
    durableObjectsPersist: persist,
  });
  try {
    await mf.ready;
    const pid = pidListeningOn(o.port);
    if (pid === null) throw new Error(`no workerd listening on ${o.port}`);
    console.log(`variant ${o.variant}, V8 flags: ${o.v8Flags.join(' ') || '(none)'}`);
    for (let round = 1; round <= o.rounds; round++) {
      for (const concurrency of o.concurrency) {
        const before = cpuOf(pid);
        const seen = crossContext;
        const r = await runLoad({
          urls: [`http://127.0.0.1:${o.port}`],
          concurrency,
          durationMs: o.seconds * 1000,
          mix: { write: 1, read: 0 },
          keys: 1000,
          valueSize: 100,
          client: 'raw',
        });
        const perOpUs = ((cpuOf(pid) - before) / Math.max(1, r.ops)) * 1000;
        console.log(
          `round ${round} c=${concurrency}: ${fmt(r.opsPerSec)} ops/s, p50 ${fmt(r.latency.p50Ms, 2)} ms, p99 ${fmt(r.latency.p99Ms, 1)} ms, ` +
            `workerd ${fmt(perOpUs)} us CPU/op, failed ${r.errors}, "different request" ${crossContext - seen}`,
        );
      }
    }
  } finally {
    await mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

await main();
