// Failover of an edge cluster (npm run dev:edge, worker/edge/): the leader's
// object is reset with ctx.abort() through the front's admin route, while one
// client keeps writing through the front. Per trial: how long until a member
// reports itself leader in a newer term, and until the first write after the
// reset is acknowledged.
//
//   npx tsx bench/edge-failover.ts --url http://127.0.0.1:8787 --token-file .data/edge/admin-token [--trials 5]
import { readFileSync } from 'node:fs';
import { RaftKvClient } from '../client/client';
import { parseFlagMap, parseIntIn, UsageError } from '../common/args';

interface Report {
  leader: string | null;
  members: { id: string; role?: string; term?: number; leader?: string | null }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function members(url: string): Promise<Report> {
  const res = await fetch(`${url}/edge/members`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`GET /edge/members answered ${res.status}`);
  return (await res.json()) as Report;
}

async function currentLeader(url: string, timeoutMs: number): Promise<{ id: string; term: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await members(url).catch(() => null);
    const l = r?.members.find((m) => m.role === 'leader' && m.id === r.leader);
    if (l !== undefined && r!.members.filter((m) => m.leader === l.id).length > r!.members.length / 2) return { id: l.id, term: l.term! };
    await sleep(20);
  }
  throw new Error(`no leader within ${timeoutMs} ms`);
}

async function trial(url: string, token: string): Promise<{ killed: string; electedMs: number; firstWriteMs: number; newLeader: string }> {
  const before = await currentLeader(url, 30_000);
  const client = new RaftKvClient({ nodes: [url], timeoutMs: 10_000, attemptTimeoutMs: 1000, backoff: { initialMs: 5, maxMs: 20 } });
  if (!(await client.set('failover-warmup', 'x')).ok) throw new Error('warm-up write failed');
  const t0 = performance.now();
  const res = await fetch(`${url}/edge/members/${before.id}/reset`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`reset answered ${res.status}: ${await res.text()}`);
  const elected = (async () => {
    for (;;) {
      const r = await members(url).catch(() => null);
      const l = r?.members.find((m) => m.role === 'leader' && (m.term ?? 0) > before.term);
      if (l !== undefined) return { at: performance.now() - t0, id: l.id };
      await sleep(5);
    }
  })();
  const wrote = (async () => {
    for (let i = 0; ; i++) {
      if ((await client.set('failover', String(i))).ok) return performance.now() - t0;
    }
  })();
  const [e, w] = await Promise.all([elected, wrote]);
  return { killed: before.id, electedMs: e.at, firstWriteMs: w, newLeader: e.id };
}

async function main(): Promise<void> {
  const f = parseFlagMap(process.argv.slice(2), { url: 'string', 'token-file': 'string', trials: 'string' });
  const url = (f.get('url') ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  const token = readFileSync(f.get('token-file') ?? '.data/edge/admin-token', 'utf8').trim();
  const trials = f.has('trials') ? parseIntIn('--trials', f.get('trials')!, 1, 100) : 5;
  const results = [];
  for (let t = 0; t < trials; t++) {
    const r = await trial(url, token);
    results.push(r);
    console.log(
      `failover ${t + 1}/${trials}: reset ${r.killed}, ${r.newLeader} leads after ${r.electedMs.toFixed(0)} ms, ` +
        `first write after ${r.firstWriteMs.toFixed(0)} ms`,
    );
    await sleep(500);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `median of ${trials}: elected ${median(results.map((r) => r.electedMs)).toFixed(0)} ms, ` +
      `first write ${median(results.map((r) => r.firstWriteMs)).toFixed(0)} ms`,
  );
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) process.stderr.write(`edge-failover: ${err.message}\n`);
  else console.error(err);
  process.exit(1);
});
