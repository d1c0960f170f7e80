// `npm run bench -- --compare etcd`: raft-kv (three `npm run node` processes)
// against a 3-member etcd, the same closed-loop load on both in alternating
// rounds, then both clusters' memory. Options and arithmetic: compare-etcd-parts.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../launcher/bundle';
import type { Member, NodeSettings } from '../launcher/node-config';
import { nodeProcessArgs, waitGroupGone } from '../launcher/process';
import { isAlive } from '../launcher/procfs';
import { generateSecret } from '../launcher/secret';
import { waitForAgreedLeader } from '../launcher/status';
import { EtcdClient } from './clients/etcd-client';
import {
  compareLevels,
  compareUsage,
  etcdArgs,
  etcdMembers,
  etcdMissingMessage,
  formatComparison,
  parseCompareOptions,
  systemOrder,
  type CompareOptions,
  type CompareSample,
  type EtcdMember,
  type Op,
  type System,
} from './compare-etcd-parts';
import { parseArgsOrExit } from './entry';
import { keyName, makeValue, prefill, runLoad } from './load';
import type { Mix } from './options';
import { allFree } from './ports';
import { sumMemory, treeMemory } from './tree-memory';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** A started process we own, in its own process group. */
interface Owned {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

function spawnOwned(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Owned {
  const child = spawn(command, args, { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  for (const s of [child.stdout, child.stderr]) createInterface({ input: s, crlfDelay: Infinity }).on('line', onLine);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { name, child, exited };
}

/** SIGTERM to the group, SIGKILL if it lingers. */
async function stopOwned(o: Owned): Promise<void> {
  const pgid = o.child.pid;
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitGroupGone(pgid, 8000))) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await waitGroupGone(pgid, 5000);
  }
}

/** Waits for a line matching re from o; fails if o exits first or after timeoutMs. */
function waitLine(o: Owned, lines: string[], re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setInterval(() => {
      if (lines.some((l) => re.test(l))) done();
    }, 50);
    const fail = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`${o.name} printed no line matching ${re} in ${timeoutMs} ms:\n${lines.slice(-10).join('\n')}`));
    }, timeoutMs);
    const done = (): void => {
      clearInterval(timer);
      clearTimeout(fail);
      resolvePromise();
    };
    void o.exited.then(() => {
      if (lines.some((l) => re.test(l))) return;
      clearInterval(timer);
      clearTimeout(fail);
      reject(new Error(`${o.name} exited during start-up:\n${lines.slice(-10).join('\n')}`));
    });
  });
}

/** Three `npm run node` processes, as a user starts them. */
async function startRaftKv(o: CompareOptions, dataDir: string, owned: Owned[]): Promise<Member[]> {
  const secret = generateSecret();
  const members: Member[] = [0, 1, 2].map((i) => ({ id: `n${i + 1}`, url: `http://127.0.0.1:${o.basePort + i}` }));
  const starts = members.map((m, i) => {
    const settings: NodeSettings = {
      id: m.id,
      host: '127.0.0.1',
      port: o.basePort + i,
      url: m.url,
      peers: members.filter((p) => p.id !== m.id),
      secret,
      dataDir: join(dataDir, m.id),
      logLevel: 'warn',
      v8Flags: o.v8Flags,
    };
    const lines: string[] = [];
    const node = spawnOwned(
      `raft-kv ${m.id}`,
      'npm',
      ['run', '--silent', 'node', '--', ...nodeProcessArgs(settings)],
      { ...process.env, CLUSTER_SECRET: secret },
      (l) => {
        lines.push(l);
        if (lines.length > 50) lines.shift();
      },
    );
    owned.push(node);
    return waitLine(node, lines, new RegExp(`^node ${m.id} listening on `), 120_000);
  });
  await Promise.all(starts);
  await waitForAgreedLeader(members, members.length, 30_000);
  return members;
}

async function etcdStatus(url: string): Promise<{ memberId: string; leader: string } | null> {
  try {
    const res = await fetch(`${url}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
    if (!res.ok) return null;
    const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    return body.header?.member_id && body.leader ? { memberId: body.header.member_id, leader: body.leader } : null;
  } catch {
    return null;
  }
}

/** Three etcd members; returns their client URLs with the leader's first. */
async function startEtcd(o: CompareOptions, dataDir: string, owned: Owned[]): Promise<string[]> {
  const members = etcdMembers(o.etcdPort);
  for (const m of members) {
    const lines: string[] = [];
    owned.push(
      spawnOwned(`etcd ${m.name}`, o.etcdBin, etcdArgs(m, members, join(dataDir, m.name)), process.env, (l) => {
        lines.push(l);
        if (lines.length > 50) lines.shift();
      }),
    );
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const statuses = await Promise.all(members.map((m: EtcdMember) => etcdStatus(m.clientUrl)));
    const leaderAt = statuses.findIndex((s) => s !== null && s.memberId === s.leader);
    if (statuses.every((s) => s !== null) && leaderAt >= 0) {
      const urls = members.map((m) => m.clientUrl);
      return [urls[leaderAt]!, ...urls.filter((_, i) => i !== leaderAt)];
    }
    await sleep(200);
  }
  throw new Error('etcd did not elect a leader within 60 s');
}

function etcdClients(urls: string[]) {
  return (count: number, opTimeoutMs: number) => {
    const clients = Array.from({ length: count }, () => new EtcdClient(urls, opTimeoutMs));
    return { clients, close: () => clients.forEach((c) => c.close()) };
  };
}

async function prefillEtcd(urls: string[], keys: number, valueSize: number): Promise<number> {
  const { clients, close } = etcdClients(urls)(16, 10_000);
  let next = 0;
  let failures = 0;
  await Promise.all(
    clients.map(async (c, w) => {
      for (let i = next++; i < keys; i = next++) if (!(await c.set(keyName(i), makeValue(valueSize, w, i))).ok) failures++;
    }),
  );
  close();
  return failures;
}

const mixes: { op: Op; mix: Mix }[] = [
  { op: 'write', mix: { write: 1, read: 0 } },
  { op: 'read', mix: { write: 0, read: 1 } },
];

export async function compareEtcdMain(): Promise<void> {
  const o = parseArgsOrExit('bench --compare', compareUsage, parseCompareOptions);
  if (o === null) return;
  if (!existsSync(o.etcdBin)) {
    process.stderr.write(`${etcdMissingMessage(o.etcdBin)}\n`);
    process.exit(2);
  }
  const ports = [0, 1, 2].map((i) => o.basePort + i).concat([0, 1, 2, 3, 4, 5].map((i) => o.etcdPort + i));
  if (!(await allFree(ports))) throw new Error(`some of the ports ${ports.join(', ')} are taken; pick --base-port / --etcd-port`);

  const dataDir = mkdtempSync(join(tmpdir(), 'raft-kv-compare-'));
  const owned: Owned[] = [];
  const killAll = (): void => {
    for (const p of owned) {
      if (p.child.pid === undefined) continue;
      try {
        process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  process.on('exit', killAll);
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('interrupted: stopping both clusters\n');
    void Promise.allSettled(owned.map(stopOwned)).then(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const loadBefore = loadAvg();
  log(`load average before: ${loadBefore} (1, 5, 15 min)`);
  try {
    log(`load client: raft-kv --client ${o.client}; etcd raw HTTP/1.1 (its JSON gateway)`);
    // Both clusters, started on empty data under `dir` and filled with the keys.
    const startBoth = async (dir: string): Promise<{ raftUrls: string[]; etcd: string[] }> => {
      const [raft, etcd] = await Promise.all([startRaftKv(o, join(dir, 'raft-kv'), owned), startEtcd(o, join(dir, 'etcd'), owned)]);
      log(`raft-kv ${raft.map((m) => m.url).join(',')}; etcd ${etcd.join(',')} (leader first)`);
      const raftUrls = raft.map((m) => m.url);
      const failures = (await prefill(raftUrls, o.keys, o.valueSize)) + (await prefillEtcd(etcd, o.keys, o.valueSize));
      if (failures > 0) log(`warning: ${failures} prefill writes failed`);
      return { raftUrls, etcd };
    };
    let clusters = await startBoth(join(dataDir, 'round-1'));

    const samples: CompareSample[] = [];
    const loadDuring: string[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      if (o.fresh && round > 1) {
        await Promise.allSettled(owned.map(stopOwned));
        owned.length = 0;
        rmSync(join(dataDir, `round-${round - 1}`), { recursive: true, force: true });
        log(`round ${round}: both clusters start anew`);
        clusters = await startBoth(join(dataDir, `round-${round}`));
      }
      const { raftUrls, etcd } = clusters;
      for (const system of systemOrder(round)) {
        for (const concurrency of o.concurrency) {
          for (const { op, mix } of mixes) {
            const spec = {
              urls: system === 'raft-kv' ? raftUrls : etcd,
              concurrency,
              mix,
              keys: o.keys,
              valueSize: o.valueSize,
              client: o.client,
              makeClients: system === 'etcd' ? etcdClients(etcd) : undefined,
            };
            if (o.warmupS > 0) await runLoad({ ...spec, durationMs: o.warmupS * 1000 });
            const r = await runLoad({ ...spec, durationMs: o.durationS * 1000 });
            const s: CompareSample = {
              system,
              round,
              op,
              concurrency,
              opsPerSec: r.opsPerSec,
              p50Ms: r.latency.p50Ms,
              p99Ms: r.latency.p99Ms,
              errors: r.errors,
            };
            samples.push(s);
            log(
              `round ${round} ${system.padEnd(7)} ${op.padEnd(5)} c=${String(concurrency).padStart(3)}: ${r.opsPerSec.toFixed(0)} ops/s, ` +
                `p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, errors ${r.errors}`,
            );
          }
        }
      }
      loadDuring.push(loadAvg());
    }

    const memOf = (system: System) => {
      const list = treeMemory(owned.filter((p) => p.name.startsWith(system === 'etcd' ? 'etcd' : 'raft-kv')).map((p) => p.child.pid!));
      return { ...sumMemory(list), processes: list.length, list };
    };
    const raftMem = memOf('raft-kv');
    const etcdMem = memOf('etcd');
    const levels = compareLevels(samples);
    const loadAfter = loadAvg();
    process.stdout.write(
      `\n${formatComparison(levels, { raftKv: raftMem, etcd: etcdMem })}\n` +
        `raft-kv's load client: --client ${o.client}.\n` +
        `Load average (1, 5, 15 min) before: ${loadBefore}; after each round: ${loadDuring.join(' | ')}; after: ${loadAfter}.\n`,
    );
    const jsonPath = resolve(
      o.jsonPath ?? join(repoRoot, 'bench', 'results', `compare-etcd-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
    );
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(
      jsonPath,
      `${JSON.stringify({ options: o, loadBefore, loadDuring, loadAfter, samples, levels, memory: { raftKv: raftMem, etcd: etcdMem } }, null, 2)}\n`,
    );
    process.stdout.write(`JSON: ${jsonPath}\n`);
  } finally {
    await Promise.allSettled(owned.map(stopOwned));
    const left = owned.map((p) => p.child.pid!).filter((pid) => isAlive(pid));
    if (left.length > 0) log(`warning: still alive after stop: ${left.join(' ')}`);
    process.off('exit', killAll);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
