// `npx tsx bench/probes/turbofan-context/run.ts [--variant new-rpc-await]
//   [--v8-flags="--no-turbofan"] [--requests 60000] [--concurrency 64]
//   [--rounds 3] [--trace-turbofan]`
//
// Runs worker.js in one workerd (Miniflare) with the given V8 flags (none by
// default), sends it `--requests` GETs `--concurrency` at a time, and prints
// per round how many answered 200, how many of those had waited for another
// request's call, and how many failed (with the first failure's body). A
// fresh workerd per round, so each round starts from cold code.
// `--trace-turbofan` adds V8's --trace-opt and prints, with the number of
// requests sent by then, each function TurboFan finished optimizing.
// Variants, "<maker>-<source>-<consume>":
// - maker: how a waiting request makes its promise: `new` (new Promise) or
//   `withResolvers` (Promise.withResolvers());
// - source: what the request in flight waits for before settling the others:
//   `rpc` (a call into a Durable Object) or `timer` (setTimeout only);
// - consume: how the waiting request takes its value: `await` or `then`.
import { Log, LogLevel, Miniflare } from 'miniflare';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseFlags, parseIntIn, UsageError } from '../../../common/args';
import { parseV8Flags, useWorkerdV8Flags } from '../../../launcher/workerd-v8-flags';

const source = readFileSync(new URL('./worker.js', import.meta.url), 'utf8');

interface Round {
  ok: number;
  /** Of the 200s, the requests that waited for another's call. */
  waited: number;
  failed: number;
  /** 1-based index of the first failed request (in send order), or null. */
  firstFailure: number | null;
  firstFailureBody: string;
}

async function round(variant: string, requests: number, concurrency: number, traceTurbofan: boolean): Promise<Round> {
  const r: Round = { ok: 0, waited: 0, failed: 0, firstFailure: null, firstFailureBody: '' };
  let sent = 0;
  const watch = (s: Readable): void => {
    createInterface({ input: s }).on('line', (line) => {
      const optimized = /completed optimizing .*<JSFunction (\S*) .*TURBOFAN/.exec(line);
      if (traceTurbofan && optimized) console.log(`  request ${sent}: TurboFan optimized ${optimized[1] || '(anonymous)'}`);
    });
  };
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    log: new Log(LogLevel.NONE),
    handleRuntimeStdio: (out: Readable, err: Readable) => {
      watch(out);
      watch(err);
    },
    modules: [{ type: 'ESModule', path: 'worker.js', contents: source }],
    compatibilityDate: '2026-04-26',
    bindings: { VARIANT: variant },
    durableObjects: { SINK: 'Sink' },
  });
  try {
    const url = new URL('/', await mf.ready);
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const one = (): Promise<void> =>
      new Promise((done) => {
        const index = ++sent;
        const fail = (body: string): void => {
          r.failed++;
          if (r.firstFailure === null) {
            r.firstFailure = index;
            r.firstFailureBody = body.slice(0, 100);
          }
          done();
        };
        const req = http.get(url, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString();
            if (res.statusCode !== 200) return fail(`${res.statusCode} ${body}`);
            r.ok++;
            if (body.includes('"lead":false')) r.waited++;
            done();
          });
        });
        req.on('error', (err) => fail(String(err)));
      });
    const client = async (): Promise<void> => {
      while (sent < requests) await one();
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    agent.destroy();
    return r;
  } finally {
    await mf.dispose();
  }
}

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    variant: { type: 'string' },
    'v8-flags': { type: 'string' },
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    rounds: { type: 'string' },
    'trace-turbofan': { type: 'boolean' },
  });
  const variant = v.variant ?? 'new-rpc-await';
  if (!/^(new|withResolvers)-(rpc|timer)-(await|then)$/.test(variant))
    throw new UsageError(`--variant: "${variant}" is not <new|withResolvers>-<rpc|timer>-<await|then>`);
  const traceTurbofan = v['trace-turbofan'] === true;
  const flags = parseV8Flags('--v8-flags', v['v8-flags'] ?? '');
  const count = (what: string, text: string | undefined, fallback: number): number =>
    text === undefined ? fallback : parseIntIn(what, text, 1, 10_000_000);
  const requests = count('--requests', v.requests, 60_000);
  const concurrency = count('--concurrency', v.concurrency, 64);
  const rounds = count('--rounds', v.rounds, 3);
  useWorkerdV8Flags(traceTurbofan ? [...flags, '--trace-opt'] : flags);
  console.log(`variant ${variant}, V8 flags: ${flags.join(' ') || '(none)'}, ${requests} requests, ${concurrency} at a time`);
  for (let i = 1; i <= rounds; i++) {
    const r = await round(variant, requests, concurrency, traceTurbofan);
    const failure = r.firstFailure === null ? '' : `; the first at request ${r.firstFailure}: ${r.firstFailureBody}`;
    console.log(`round ${i}: ${r.ok} ok (${r.waited} of them waited for another's call), ${r.failed} failed${failure}`);
  }
}

await main();
