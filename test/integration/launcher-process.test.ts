// Nodes as OS processes (launcher/node-process.ts), each in its own process
// group: SIGKILL of the whole group, then the same command again, must bring a
// node back with its data. Also the seed's environment form and SIGTERM.
// These nodes run with --peer-streams off, so this file covers a cluster
// whose peers talk by POST only (launcher.test.ts covers streams).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type StatusReport } from '../../launcher/start-cluster';
import { waitGroupGone } from '../../launcher/process';
import { repoRoot } from '../../launcher/bundle';
import { readV8Flags } from '../../launcher/workerd-v8-flags';
import { commandLine, processGroupMembers, processState } from '../../launcher/procfs';

async function put(url: string, key: string, value: string): Promise<number> {
  const res = await fetch(`${url}/kv/${key}`, { method: 'PUT', body: value, redirect: 'manual', signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.status;
}

async function get(url: string, key: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/kv/${key}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

async function eventually<T>(probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe().catch(() => undefined);
    if (last !== undefined && check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

describe('process-mode cluster', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    const t0 = performance.now();
    cluster = await startCluster({
      mode: 'process',
      nodes: 3,
      basePort: 18_710,
      electionTimeoutMs: 150,
      heartbeatIntervalMs: 30,
      logLevel: 'warn',
      peerStreams: false,
    });
    console.log(`process-mode startup ${(performance.now() - t0).toFixed(0)} ms`);
  }, 120_000);

  afterAll(async () => {
    const groups = cluster?.members.map((m) => cluster.pids(m.id)[0]).filter((p): p is number => p !== undefined) ?? [];
    await cluster?.stop();
    for (const g of groups) expect(processGroupMembers(g)).toEqual([]);
  });

  it('kills a node process group with SIGKILL and brings it back with its data', async () => {
    const leader = await cluster.waitForLeader();
    expect(await put(leader.url, 'p1', 'one')).toBe(200);
    const group = cluster.pids(leader.id);
    expect(group.length).toBeGreaterThanOrEqual(2); // node + workerd (+ esbuild helper)
    const pgid = group[0]!;

    const t0 = performance.now();
    await cluster.kill(leader.id);
    expect(processGroupMembers(pgid)).toEqual([]);
    const next = await cluster.waitForLeader(10_000);
    console.log(`process mode: new leader ${next.id} ${(performance.now() - t0).toFixed(0)} ms after SIGKILL of ${leader.id}'s group`);
    expect(next.id).not.toBe(leader.id);
    expect(await get(next.url, 'p1')).toEqual({ status: 200, body: { key: 'p1', value: 'one' } });
    expect(await put(next.url, 'p2', 'two')).toBe(200);

    await cluster.restart(leader.id);
    const target = (await cluster.status(next.id)).commitIndex;
    const s = await eventually(
      async () => cluster.status(leader.id),
      (v) => v.appliedIndex >= target,
      15_000,
    );
    expect(s?.appliedIndex).toBeGreaterThanOrEqual(target);
    expect(cluster.crashes()).toEqual([]);
    // --peer-streams off reached the nodes through their command lines: no status reports streams.
    expect(((await cluster.status(next.id)) as { streams?: unknown }).streams).toBeUndefined();
  });

  it('pauses a whole group with SIGSTOP and resumes it', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    await cluster.pause(follower.id);
    const states = cluster.pids(follower.id).map((p) => statState(p));
    expect(states.every((st) => st === 'T')).toBe(true);
    await cluster.resume(follower.id);
    // With 150 ms election timeouts a loaded machine can hold an election meanwhile (503 no_leader
    // until it ends), so the write goes to whoever leads now, as a client retrying would.
    const status = await eventually(
      async () => put((await cluster.waitForLeader(5_000)).url, 'p3', 'three'),
      (st) => st === 200,
      10_000,
    );
    expect(status).toBe(200);
  });
});

function statState(pid: number): string {
  return processState(pid) ?? 'gone';
}

describe("the single-node command (seed's environment form)", () => {
  const port = 18_720;
  const url = `http://127.0.0.1:${port}`;
  let dir: string;
  let child: ChildProcess | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'raft-kv-node-'));
  });

  afterAll(async () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await waitGroupGone(child.pid, 5000);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** `PORT=... OTHER_PORTS= PERSISTENCE_FILE_PATH=... npm run server`, without npm: launcher/node.sh, which becomes workerd. */
  async function startNode(): Promise<{ child: ChildProcess; output: string[] }> {
    const c = spawn('sh', [join(repoRoot, 'launcher/node.sh')], {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORT: String(port),
        OTHER_PORTS: '',
        PERSISTENCE_FILE_PATH: join(dir, 'n1'),
        LOG_LEVEL: 'warn',
        CLUSTER_SECRET: '',
        PEERS: '',
      },
    });
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${output.join('\n')}`)), 60_000);
      for (const s of [c.stdout, c.stderr]) {
        createInterface({ input: s }).on('line', (line) => {
          output.push(line);
          if (line.startsWith(`node n${port} listening on ${url}`)) {
            clearTimeout(timer);
            resolve();
          }
        });
      }
      c.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('\n')}`)));
    });
    return { child: c, output };
  }

  it('comes back with its data after SIGKILL of its process group, and stops cleanly on SIGTERM', async () => {
    let run = await startNode();
    child = run.child;
    expect(run.output.some((l) => l.includes(`cluster secret created in ${join(dir, 'cluster-secret')}`))).toBe(true);
    expect(statSync(join(dir, 'cluster-secret')).mode & 0o777).toBe(0o600);
    // A single-node cluster elects itself.
    const leader = await eventually(
      () => fetch(`${url}/status`).then((r) => r.json() as Promise<StatusReport>),
      (s) => s.role === 'leader',
      10_000,
    );
    expect(leader?.role).toBe('leader');
    expect(await put(url, 'durable', 'yes')).toBe(200);

    // No Node process stays beside workerd: the shell became workerd (exec), the waker has exited.
    const pgid = child.pid!;
    expect(
      await eventually(
        async () => processGroupMembers(pgid),
        (m) => m.length === 1,
        5000,
      ),
    ).toEqual([pgid]);
    expect(commandLine(pgid)).toMatch(/workerd serve/);
    process.kill(-pgid, 'SIGKILL');
    expect(await waitGroupGone(pgid, 5000)).toBe(true);
    await expect(fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();

    run = await startNode();
    child = run.child;
    expect(run.output.some((l) => l.includes('cluster secret read from'))).toBe(true);
    const back = await eventually(
      () => get(url, 'durable'),
      (r) => r.status === 200,
      10_000,
    );
    expect(back).toEqual({ status: 200, body: { key: 'durable', value: 'yes' } });

    const exited = new Promise<NodeJS.Signals | number | null>((r) => child!.on('exit', (code, signal) => r(signal ?? code)));
    const pgid2 = child.pid!;
    process.kill(pgid2, 'SIGTERM');
    expect(await exited).not.toBeNull();
    expect(await waitGroupGone(pgid2, 5000)).toBe(true);
    child = null;
  });

  it("prepares workerd's config with the V8 flags and an exec line for node.sh", () => {
    const plan = mkdtempSync(join(tmpdir(), 'raft-kv-plan-'));
    try {
      const gone = spawnSync('true').pid!; // an exited pid: the background waker stops at once
      const r = spawnSync(
        process.execPath,
        [
          join(repoRoot, 'launcher/run.mjs'),
          'node-exec',
          '--id',
          'x1',
          '--port',
          '18729',
          '--peers=',
          '--data',
          join(dir, 'x1'),
          '--v8-flags=--max-semi-space-size=2',
        ],
        {
          cwd: repoRoot,
          encoding: 'utf8',
          env: { ...process.env, RAFT_KV_EXEC_PLAN: plan, RAFT_KV_EXEC_PID: String(gone) },
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(readV8Flags(readFileSync(join(plan, 'config.bin')))).toEqual(['--max-semi-space-size=2']);
      const script = readFileSync(join(plan, 'exec.sh'), 'utf8');
      expect(script).toMatch(/^exec '.*\/workerd' 'serve' '--binary' .*'-'$/m);
      expect(script).not.toContain('--control-fd');
    } finally {
      rmSync(plan, { recursive: true, force: true });
    }
  });
});
