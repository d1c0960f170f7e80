// `npx tsx bench/probes/profile.ts [--mix write=1] [--concurrency 8] [--seconds 5]
//   [--direct] [--entry path/to/index.ts] [--interval-us 250] [--no-js] [--no-coalesce]`
//
// Where the time goes. Starts a Miniflare cluster whose workerd processes
// open V8 inspectors, runs one closed-loop load twice: first plain, reading
// each workerd's CPU time from /proc (CPU ms per operation per node), then
// with the V8 sampling profiler on every isolate of every node (the Worker
// and its Durable Object, Miniflare's entry worker, its outbound worker),
// and prints per node: CPU split between isolates and native code, the Worker's
// time by area of the code base, its hottest functions and the inclusive time
// of the main entry points. The .cpuprofile files are saved for DevTools.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseFlags, parseIntIn, parseNonNegative, parseOneOf, parsePort, parsePositive } from '../../common/args';
import { repoRoot } from '../../launcher/bundle';
import { waitForAgreedLeader } from '../../launcher/status';
import { listTargets, startProfiling, type CpuProfile } from './cdp';
import { sourceMap, summarizeProfile, type Row } from './cpu-profile';
import { prefill, runLoad } from '../load';
import { parseMix, type ClientKind, type Mix } from '../options';
import { allFree } from '../ports';
import { cpuBetween, sampleCpu, type Watched } from '../procstat';
import { startProfileCluster } from './profile-cluster';
import { fmt } from '../run';

interface ProfileOptions {
  mix: Mix;
  concurrency: number;
  seconds: number;
  warmupS: number;
  size: number;
  direct: boolean;
  entry: string | undefined;
  intervalUs: number;
  js: boolean;
  coalesce: boolean;
  basePort: number;
  out: string;
  keys: number;
  client: ClientKind;
}

/** Functions whose inclusive time is worth seeing (Durable Object methods, transport, storage, app). */
const entryPoints = [
  'fetch',
  'dispatch',
  'write',
  'read',
  'receive',
  'deliver',
  'carry',
  'save',
  'send',
  'post',
  'exchange',
  'alarm',
  'fire',
  'propose',
  'step',
  'tick',
  'apply',
  'parseReplies',
  'stringify',
  'parse',
];

function parseArgs(argv: string[]): ProfileOptions {
  const o: ProfileOptions = {
    mix: { write: 1, read: 0 },
    concurrency: 8,
    seconds: 5,
    warmupS: 2,
    size: 3,
    direct: false,
    entry: undefined,
    intervalUs: 250,
    js: true,
    coalesce: true,
    basePort: 19400,
    out: join(repoRoot, 'bench', 'results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`),
    keys: 1000,
    client: 'http',
  };
  const { values: v } = parseFlags(argv, {
    mix: { type: 'string' },
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    'cluster-size': { type: 'string' },
    direct: { type: 'boolean' },
    entry: { type: 'string' },
    'interval-us': { type: 'string' },
    'no-js': { type: 'boolean' },
    'no-coalesce': { type: 'boolean' },
    'base-port': { type: 'string' },
    out: { type: 'string' },
    keys: { type: 'string' },
    client: { type: 'string' },
  });
  const count = (w: string, t: string): number => parseIntIn(w, t, 1, Number.MAX_SAFE_INTEGER);
  if (v.mix !== undefined) o.mix = parseMix(v.mix);
  if (v.concurrency !== undefined) o.concurrency = count('--concurrency', v.concurrency);
  if (v.seconds !== undefined) o.seconds = parsePositive('--seconds', v.seconds);
  if (v.warmup !== undefined) o.warmupS = parseNonNegative('--warmup', v.warmup);
  if (v['cluster-size'] !== undefined) o.size = count('--cluster-size', v['cluster-size']);
  o.direct = v.direct ?? false;
  if (v.entry !== undefined) o.entry = resolve(v.entry);
  if (v['interval-us'] !== undefined) o.intervalUs = count('--interval-us', v['interval-us']);
  o.js = !(v['no-js'] ?? false);
  o.coalesce = !(v['no-coalesce'] ?? false);
  if (v['base-port'] !== undefined) o.basePort = parsePort('--base-port', v['base-port']);
  if (v.out !== undefined) o.out = resolve(v.out);
  if (v.keys !== undefined) o.keys = count('--keys', v.keys);
  if (v.client !== undefined) o.client = parseOneOf('--client', v.client, ['client', 'http', 'raw', 'ws'] as const);
  return o;
}

async function freeBase(from: number, size: number): Promise<number> {
  for (let base = from; base < from + 400; base += 10) {
    const ports = Array.from({ length: size }, (_, i) => [base + i, base + 50 + i, base + 100 + i]).flat();
    if (await allFree(ports)) return base;
  }
  throw new Error(`no free ports from ${from}`);
}

function printRows(title: string, rows: Row[], perOp: number, limit = rows.length): void {
  console.log(`  ${title}`);
  for (const r of rows.slice(0, limit)) {
    console.log(`    ${fmt(r.share * 100, 1).padStart(5)}%  ${fmt(r.ms * perOp * 1000, 0).padStart(6)} us/op  ${r.name}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const base = await freeBase(o.basePort, o.size);
  const dataDir = mkdtempSync(join(tmpdir(), 'raft-kv-profile-'));
  const cluster = await startProfileCluster({
    size: o.size,
    basePort: base,
    dataDir,
    direct: o.direct,
    entry: o.entry,
    logLevel: 'warn',
    coalesce: o.coalesce,
  });
  try {
    const members = cluster.nodes.map((n) => n.member);
    const urls = members.map((m) => m.url);
    const leader = await waitForAgreedLeader(members, members.length, 30_000, 20);
    const role = (id: string): string => (id === leader.id ? 'leader' : 'follower');
    console.log(
      `cluster: ${o.size} nodes${o.direct ? ' on direct sockets' : ''}, leader ${leader.id}; workload ${JSON.stringify(o.mix)} at concurrency ${o.concurrency}`,
    );
    if (o.mix.read > 0) await prefill(urls, o.keys, 100);
    const spec = { urls, concurrency: o.concurrency, mix: o.mix, keys: o.keys, valueSize: 100, client: o.client };
    if (o.warmupS > 0) await runLoad({ ...spec, durationMs: o.warmupS * 1000 });

    const watched: Watched[] = cluster.nodes.flatMap((n) =>
      n.pid !== null ? [{ label: `${n.member.id} ${role(n.member.id)}`, pid: n.pid }] : [],
    );
    const before = sampleCpu(watched);
    const plain = await runLoad({ ...spec, durationMs: o.seconds * 1000 });
    const cpu = cpuBetween(watched, before, sampleCpu(watched));
    console.log(
      `\nwithout profiler: ${fmt(plain.opsPerSec)} ops/s, p50 ${fmt(plain.latency.p50Ms, 2)} ms, p99 ${fmt(plain.latency.p99Ms, 2)} ms, errors ${plain.errors}`,
    );
    for (const c of cpu)
      console.log(
        `  ${c.label.padEnd(22)} ${fmt(c.percent).padStart(4)}% of a core, ${fmt((c.cpuMs / plain.ops) * 1000).padStart(5)} us CPU/op`,
      );
    if (!o.js) return;

    // Profile every isolate of every node.
    const fileOf = sourceMap(cluster.bundle);
    const sessions: { node: string; target: string; stop: () => Promise<CpuProfile> }[] = [];
    for (const n of cluster.nodes) {
      for (const t of await listTargets(n.inspectorPort)) {
        if (t.id.startsWith('cache:')) continue;
        const s = await startProfiling(t.webSocketDebuggerUrl, o.intervalUs);
        sessions.push({ node: n.member.id, target: t.id, stop: s.stop });
      }
    }
    const before2 = sampleCpu(watched);
    const profiled = await runLoad({ ...spec, durationMs: o.seconds * 1000 });
    const cpu2 = cpuBetween(watched, before2, sampleCpu(watched));
    const profiles = await Promise.all(sessions.map(async (s) => ({ ...s, profile: await s.stop() })));
    mkdirSync(o.out, { recursive: true });
    console.log(
      `\nwith profiler (${o.intervalUs} us sampling; costs add up to more): ${fmt(profiled.opsPerSec)} ops/s, ` +
        `p50 ${fmt(profiled.latency.p50Ms, 2)} ms, p99 ${fmt(profiled.latency.p99Ms, 2)} ms, errors ${profiled.errors}${profiled.errors ? ` ${JSON.stringify(profiled.errorKinds)}` : ''}`,
    );
    if (profiled.errors > 0 && o.coalesce) {
      // worker/front/coalesce.ts: an attached profiler, like TurboFan, breaks the hand-over of shared calls' answers.
      console.log(
        '  (requests sharing calls into the node fail while a V8 profiler is attached; --no-coalesce profiles the unshared path)',
      );
    }
    const perOp = 1 / Math.max(1, profiled.ops);
    for (const n of cluster.nodes) {
      const id = n.member.id;
      const proc = cpu2.find((c) => c.pid === n.pid);
      console.log(`\n${id} (${role(id)}): process CPU ${fmt(proc ? (proc.cpuMs / profiled.ops) * 1000 : NaN)} us/op`);
      let jsTotal = 0;
      for (const p of profiles.filter((x) => x.node === id)) {
        writeFileSync(join(o.out, `${id}-${role(id)}-${p.target.replace(/[^a-z0-9-]/gi, '_')}.cpuprofile`), JSON.stringify(p.profile));
        const user = p.target === 'core:user:raft-kv';
        const sum = summarizeProfile(p.profile, user ? fileOf : null, user ? entryPoints : []);
        jsTotal += sum.busyMs;
        console.log(`  isolate ${p.target}: busy ${fmt(sum.busyMs * perOp * 1000)} us/op`);
        if (user) {
          printRows('by area (self time)', sum.byArea, perOp, 14);
          printRows('hottest functions (self time)', sum.topSelf, perOp, 18);
          printRows('inclusive time of entry points', sum.inclusive, perOp);
        } else {
          printRows('hottest functions', sum.topSelf, perOp, 5);
        }
      }
      if (proc)
        console.log(
          `  native, outside any isolate (HTTP, SQLite, KJ, RPC): about ${fmt(((proc.cpuMs - jsTotal) / profiled.ops) * 1000)} us/op`,
        );
    }
    console.log(`\nprofiles saved in ${o.out}`);
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
