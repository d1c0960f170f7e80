// The in-process launcher (one Miniflare instance, one workerd, per node):
// election, writes through the leader, crash of the leader, restart and
// catch-up, pause/resume; plus the single-node command's argument checks.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../launcher/start-cluster';
import { parseNodeArgs } from '../../launcher/node-args';
import { nodeProcessArgs, tsxScriptCommand } from '../../launcher/process';
import { nodeVars } from '../../launcher/node-config';
import { isAlive, rssKiB } from '../../launcher/procfs';
import { defaultV8Flags, v8FlagsGiven } from '../../launcher/workerd-v8-flags';
import { runLoad } from '../../bench/load';
import type { StatusReport } from '../../worker/node-api';

const electionTimeoutMs = 150;

async function put(url: string, key: string, value: string): Promise<Response> {
  return fetch(`${url}/kv/${key}`, { method: 'PUT', body: value, redirect: 'manual', signal: AbortSignal.timeout(5000) });
}

async function get(url: string, key: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/kv/${key}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

/** Polls until check passes or timeoutMs elapses; returns the last value. */
async function eventually<T>(probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined as T);
    if (v !== undefined && check(v)) return v;
    if (Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('in-process cluster (3 Miniflare instances)', () => {
  let cluster: Cluster;
  let startupMs = 0;

  beforeAll(async () => {
    const t0 = performance.now();
    cluster = await startCluster({
      nodes: 3,
      basePort: 18_700,
      electionTimeoutMs,
      heartbeatIntervalMs: 30,
      requestTimeoutMs: 2000,
      logLevel: 'warn',
    });
    startupMs = performance.now() - t0;
  });

  afterAll(async () => {
    const pids = cluster?.members.flatMap((m) => cluster.pids(m.id)) ?? [];
    await cluster?.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('starts one workerd per node and elects a leader', async () => {
    const t0 = performance.now();
    const leader = await cluster.waitForLeader();
    const electMs = performance.now() - t0;
    const pids = cluster.members.map((m) => cluster.pids(m.id));
    for (const p of pids) expect(p).toHaveLength(1);
    expect(new Set(pids.flat()).size).toBe(3);
    // Each workerd got the launcher's default V8 flags (workerd-v8-flags.test.ts shows workerd applies them).
    for (const pid of pids.flat()) expect(v8FlagsGiven(pid)).toEqual(defaultV8Flags);
    const rssMiB = pids.flat().reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024;
    console.log(
      `startup ${startupMs.toFixed(0)} ms, first leader ${leader.id} after ${electMs.toFixed(0)} ms more, workerd RSS total ${rssMiB.toFixed(0)} MiB`,
    );
    expect(cluster.members.map((m) => m.url)).toEqual(['http://127.0.0.1:18700', 'http://127.0.0.1:18701', 'http://127.0.0.1:18702']);
  });

  it('lets concurrent requests share calls into the node, and answers every one of them under load', async () => {
    const leader = await cluster.waitForLeader();
    const urls = cluster.members.map((m) => m.url);
    const load = (mix: { write: number; read: number }, durationMs: number) =>
      runLoad({ urls, concurrency: 64, durationMs, mix, keys: 200, valueSize: 100, client: 'raw' });
    // Long enough for V8 to optimize the request path (the case worker/front/coalesce.ts depends on).
    const writes = await load({ write: 1, read: 0 }, 3000);
    const reads = await load({ write: 0, read: 1 }, 2000);
    const mixed = await load({ write: 0.5, read: 0.5 }, 2000);
    for (const r of [writes, reads, mixed]) {
      expect(r.errorKinds).toEqual({});
      expect(r.ops).toBeGreaterThan(0);
    }
    const status = (await (await fetch(`${leader.url}/status`, { signal: AbortSignal.timeout(5000) })).json()) as StatusReport;
    const shared = status.coalesced;
    console.log(`writes ${writes.ops}, reads ${reads.ops}, mixed ${mixed.ops}; leader's calls into the node: ${JSON.stringify(shared)}`);
    // Every request of the loads reached the leader's Worker; with 64 clients many shared a call.
    expect(shared?.writes.requests).toBeGreaterThanOrEqual(writes.ops);
    expect(shared!.writes.batches).toBeLessThan(shared!.writes.requests);
    expect(shared!.reads.batches).toBeLessThan(shared!.reads.requests);
    // The symptom workerd shows when a shared call's answer resumes a request in the wrong context.
    expect(cluster.logs(leader.id).filter((l) => l.includes('different request'))).toEqual([]);
    // The leader sends to its followers over their WebSockets (worker/adapters/peer-streams.ts). A frame
    // unanswered for an election timeout (150 ms here) gives its socket up, which a stall of a loaded
    // machine can cause; the stream must then be back soon after.
    const lost = cluster.logs(leader.id).filter((l) => l.includes('peer stream lost')).length;
    const followers = Object.fromEntries(cluster.members.filter((m) => m.id !== leader.id).map((m) => [m.id, 'open']));
    const streams = await eventually(
      async () => ((await (await fetch(`${leader.url}/status`, { signal: AbortSignal.timeout(5000) })).json()) as StatusReport).streams,
      (s) => JSON.stringify(s) === JSON.stringify(followers),
      10_000,
    );
    console.log(`leader's streams after the load: ${JSON.stringify(streams)} (${lost} lost and reopened during it)`);
    expect(streams).toEqual(followers);
  });

  it('writes through the leader, survives the leader being killed, and the restarted node catches up', async () => {
    const leader = await cluster.waitForLeader();
    expect((await put(leader.url, 'k1', 'v1')).status).toBe(200);
    expect(await get(leader.url, 'k1')).toEqual({ status: 200, body: { key: 'k1', value: 'v1' } });

    const [workerd] = cluster.pids(leader.id);
    const t0 = performance.now();
    await cluster.kill(leader.id);
    expect(isAlive(workerd!)).toBe(false);
    expect(cluster.pids(leader.id)).toEqual([]);
    const next = await cluster.waitForLeader(10_000);
    const failoverMs = performance.now() - t0;
    console.log(
      `new leader ${next.id} ${failoverMs.toFixed(0)} ms after SIGKILL of leader ${leader.id} (election timeout ${electionTimeoutMs} ms)`,
    );
    expect(next.id).not.toBe(leader.id);
    expect(failoverMs).toBeLessThan(40 * electionTimeoutMs); // generous: the machine is shared
    expect(await get(next.url, 'k1')).toEqual({ status: 200, body: { key: 'k1', value: 'v1' } });
    expect((await put(next.url, 'k2', 'v2')).status).toBe(200);

    const t1 = performance.now();
    await cluster.restart(leader.id);
    console.log(`restart of ${leader.id} took ${(performance.now() - t1).toFixed(0)} ms`);
    expect(cluster.pids(leader.id)).toHaveLength(1);
    const target = (await cluster.status(next.id)).commitIndex;
    const caughtUp = await eventually(
      async () => cluster.status(leader.id),
      (s) => s.appliedIndex >= target,
      15_000,
    );
    expect(caughtUp.appliedIndex).toBeGreaterThanOrEqual(target);
    // The new leader's stream to the restarted node opens again (after its backoff); POSTs carried the catch-up meanwhile.
    const streams = await eventually(
      async () => (await cluster.status(next.id)).streams,
      (s) => s?.[leader.id] === 'open',
      15_000,
    );
    expect(streams?.[leader.id]).toBe('open');
    // A follower redirects to the leader it knows.
    const viaFollower = await get(leader.url, 'k2');
    expect([200, 307]).toContain(viaFollower.status);
  });

  it('pauses and resumes a follower without losing the cluster', async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    await cluster.pause(follower.id);
    try {
      expect((await put(leader.url, 'k3', 'v3')).status).toBe(200);
    } finally {
      await cluster.resume(follower.id);
    }
    const target = (await cluster.status(leader.id)).commitIndex;
    const s = await eventually(
      async () => cluster.status(follower.id),
      (v) => v.appliedIndex >= target,
      10_000,
    );
    expect(s.appliedIndex).toBeGreaterThanOrEqual(target);
  });

  it('reports a workerd that died without being asked, and restarts it', async () => {
    expect(cluster.crashes()).toEqual([]);
    const leader = await cluster.waitForLeader();
    const victim = cluster.members.find((m) => m.id !== leader.id)!;
    const [pid] = cluster.pids(victim.id);
    process.kill(pid!, 'SIGKILL'); // behind the launcher's back
    const crashes = await eventually(
      async () => cluster.crashes(),
      (c) => c.length > 0,
      5000,
    );
    expect(crashes.map((c) => c.id)).toEqual([victim.id]);
    await cluster.restart(victim.id);
    expect(cluster.pids(victim.id)).toHaveLength(1);
    expect(cluster.crashes()).toHaveLength(1); // reported once
  });

  it('refuses unknown node ids', async () => {
    await expect(cluster.kill('n9')).rejects.toThrow(/no node "n9"/);
    expect(() => cluster.pids('n9')).toThrow(/no node/);
  });
});

describe('node-process arguments', () => {
  const base = ['--id', 'n1', '--port', '8787', '--peers', 'n2=http://127.0.0.1:8788,n3=http://127.0.0.1:8789'];
  const noEnv = {};
  /** A node as the launcher describes it, for the round trips through a node process's arguments. */
  const settings = {
    id: 'n1',
    host: '127.0.0.1',
    port: 8787,
    url: 'http://127.0.0.1:8787',
    peers: [],
    secret: 'abcdefgh',
    dataDir: '/tmp/x/n1',
  };
  /** The settings a node process parses from its arguments and environment. */
  const settingsOf = (argv: string[], env: NodeJS.ProcessEnv) => {
    const a = parseNodeArgs(argv, env);
    if (a.help) throw new Error('help');
    return a.settings;
  };

  it('accepts the documented flags', () => {
    const a = parseNodeArgs(
      [...base, '--data', '/tmp/x/n1', '--secret', 'abcdefgh', '--election-timeout-ms', '300', '--log-level', 'debug'],
      noEnv,
    );
    if (a.help) throw new Error('help');
    expect(a.settings).toMatchObject({
      id: 'n1',
      port: 8787,
      host: '127.0.0.1',
      url: 'http://127.0.0.1:8787',
      dataDir: '/tmp/x/n1',
      electionTimeoutMs: 300,
      logLevel: 'debug',
    });
    expect(a.settings.peers).toEqual([
      { id: 'n2', url: 'http://127.0.0.1:8788' },
      { id: 'n3', url: 'http://127.0.0.1:8789' },
    ]);
    expect(a.secret).toEqual({ value: 'abcdefgh' });
  });

  it("accepts the seed's environment form, with the secret in a shared file", () => {
    const a = parseNodeArgs([], { PORT: '8787', OTHER_PORTS: '8788,8789', PERSISTENCE_FILE_PATH: '/tmp/d/n1', LOG_LEVEL: 'info' });
    if (a.help) throw new Error('help');
    expect(a.settings.id).toBe('n8787');
    expect(a.settings.peers.map((p) => `${p.id}=${p.url}`)).toEqual(['n8788=http://127.0.0.1:8788', 'n8789=http://127.0.0.1:8789']);
    expect(a.settings.dataDir).toBe('/tmp/d/n1');
    expect(a.secret).toEqual({ file: '/tmp/d/cluster-secret' });
  });

  it('carries V8 flags from the launcher to the node process, and none means none', () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv = noEnv) => settingsOf(argv, env).v8Flags;
    expect(parse(base)).toBeUndefined(); // the launcher's default applies
    const passed = nodeProcessArgs({ ...settings, v8Flags: ['--max-semi-space-size=2', '--single-threaded-gc'] });
    expect(parse(passed)).toEqual(['--max-semi-space-size=2', '--single-threaded-gc']);
    expect(parse(nodeProcessArgs({ ...settings, v8Flags: [] }))).toEqual([]);
    expect(parse(base, { V8_FLAGS: '--single-threaded-gc' })).toEqual(['--single-threaded-gc']);
    expect(parse(base, { V8_FLAGS: '' })).toEqual([]);
  });

  it('carries the peer-streams choice from the launcher to the node process and its vars', () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv = noEnv) => settingsOf(argv, env).peerStreams;
    expect(parse(base)).toBeUndefined(); // the node's default (on) applies
    expect(parse(nodeProcessArgs({ ...settings, peerStreams: false }))).toBe(false);
    expect(parse(nodeProcessArgs({ ...settings, peerStreams: true }))).toBe(true);
    expect(parse(base, { PEER_STREAMS: 'OFF' })).toBe(false);
    expect(nodeVars({ ...settings, peerStreams: false }).PEER_STREAMS).toBe('off');
    expect(nodeVars(settings).PEER_STREAMS).toBeUndefined();
  });

  it('carries the compaction thresholds from the launcher to the node process and its vars', () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv = noEnv) => {
      const s = settingsOf(argv, env);
      return { snapshotEvery: s.snapshotEvery, logRetain: s.logRetain };
    };
    expect(parse(base)).toEqual({ snapshotEvery: undefined, logRetain: undefined }); // the node's defaults apply
    expect(parse([...base, '--snapshot-every', '50', '--log-retain', '0'])).toEqual({ snapshotEvery: 50, logRetain: 0 });
    expect(parse(base, { SNAPSHOT_EVERY: '20', LOG_RETAIN: '5' })).toEqual({ snapshotEvery: 20, logRetain: 5 });
    expect(parse([...base, '--snapshot-every', '30'], { SNAPSHOT_EVERY: '20' }).snapshotEvery).toBe(30); // the flag wins
    expect(parse(nodeProcessArgs({ ...settings, snapshotEvery: 50, logRetain: 10 }))).toEqual({ snapshotEvery: 50, logRetain: 10 });
    expect(nodeVars({ ...settings, snapshotEvery: 50, logRetain: 10 })).toMatchObject({ SNAPSHOT_EVERY: '50', LOG_RETAIN: '10' });
    expect(nodeVars(settings).SNAPSHOT_EVERY).toBeUndefined();
    expect(nodeVars(settings).LOG_RETAIN).toBeUndefined();
  });

  it.each([
    [[...base, '--peer-streams', 'maybe'], /--peer-streams must be on or off, got "maybe"/],
    [[...base, '--v8-flags', '--expose-gc'], /--v8-flags needs a value/],
    [[...base, '--v8-flags=semi'], /--v8-flags: "semi" is not a V8 flag/],
    [['--id', 'n1', '--peers='], /missing --port/],
    [['--port', 'abc', '--peers='], /--port must be an integer from 1 to 65535, got "abc"/],
    [['--port', '70000', '--peers='], /--port must be an integer/],
    [['--port', '8787'], /missing --peers/],
    [['--port', '8787', '--peers', 'n2'], /--peers: peer "n2" is not of the form id=url/],
    [['--port', '8787', '--peers', 'n2=ftp://x'], /invalid URL/],
    [['--port', '8787', '--peers', 'n2=http://a:1,n2=http://b:2'], /appears twice/],
    [['--port', '8787', '--peers', 'n2=http://a:1,n3=http://a:1'], /share the URL/],
    [['--id', 'n1', '--port', '8787', '--peers', 'n1=http://127.0.0.1:8788'], /own id "n1"/],
    [['--port', '8787', '--peers', 'n2=http://127.0.0.1:8787'], /own URL/],
    [[...base, '--election-timeout-ms', '100', '--heartbeat-interval-ms', '80'], /at most half/],
    [[...base, '--slowdown', '0'], /--slowdown must be a number greater than 0/],
    [[...base, '--log-level', 'loud'], /--log-level must be one of/],
    [[...base, '--bogus', '1'], /unknown option --bogus/],
    [[...base, '--port', '1'], /given twice/],
    [[...base, '--data'], /--data needs a value/],
    [[...base, 'stray'], /unexpected argument "stray"/],
    [[...base, '--secret', 'short'], /at least 8 characters/],
    [[...base, '--snapshot-every', '0'], /--snapshot-every must be an integer from 1 to 1000000000, got "0"/],
    [[...base, '--log-retain=-1'], /--log-retain must be an integer from 0 to 1000000000, got "-1"/],
    [[...base, '--log-retain', 'many'], /--log-retain must be an integer/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseNodeArgs(argv, noEnv)).toThrow(message);
  });

  it('exits with code 2 and one line on stderr', () => {
    const { command, prefixArgs } = tsxScriptCommand('launcher/node-process.ts');
    const r = spawnSync(command, [...prefixArgs, '--port', 'x', '--peers='], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PORT: '', PEERS: '' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['node-process: --port must be an integer from 1 to 65535, got "x" (see --help)']);
    expect(r.stdout).toBe('');
  });
});
