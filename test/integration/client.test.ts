// RaftKvClient against a real 3-node Miniflare cluster: leader discovery from
// a follower, failover while writing (no acknowledged write lost, none applied
// twice), and timeouts whose outcome is unknown, resolved by a retry with the
// same serial.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../launcher/start-cluster';
import type { Cluster } from '../../launcher/start-cluster';
import { RaftKvClient } from '../../client/client';

let cluster: Cluster;
let urls: string[];

beforeAll(async () => {
  cluster = await startCluster({
    nodes: 3,
    basePort: 18_810,
    electionTimeoutMs: 300,
    heartbeatIntervalMs: 50,
    requestTimeoutMs: 1000,
  });
  urls = cluster.members.map((m) => m.url);
  await cluster.waitForLeader();
});

afterAll(async () => {
  await cluster?.stop();
});

async function healthyLeader(): Promise<{ id: string; url: string }> {
  return cluster.waitForLeader(15_000);
}

describe('client against a cluster', () => {
  it('finds the leader starting from a follower and remembers it', async () => {
    const leader = await healthyLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id);
    if (follower === undefined) throw new Error('no follower');
    const c = new RaftKvClient({ nodes: [follower.url] });
    expect(await c.set('from-follower', 'hello world')).toEqual({ ok: true });
    expect(c.leader).toBe(leader.url);
    expect(await c.get('from-follower')).toEqual({ ok: true, value: 'hello world' });
    expect(await c.cas('from-follower', 'nope', 'x')).toEqual({ ok: true, swapped: false, current: 'hello world' });
    expect(await c.cas('from-follower', 'hello world', 'x')).toEqual({ ok: true, swapped: true });
    expect(await c.delete('from-follower')).toEqual({ ok: true });
    expect(await c.get('from-follower')).toEqual({ ok: true, value: null });
    // Keys are percent-encoded; odd characters survive the round trip and the redirect.
    const odd = 'a/b c?d#e%f';
    expect(await new RaftKvClient({ nodes: [follower.url] }).set(odd, 'v')).toEqual({ ok: true });
    expect(await c.get(odd)).toEqual({ ok: true, value: 'v' });
  });

  it('with followRedirects false a follower is reported, not followed', async () => {
    const leader = await healthyLeader();
    const follower = cluster.members.find((m) => m.id !== leader.id);
    if (follower === undefined) throw new Error('no follower');
    const c = new RaftKvClient({ nodes: urls });
    const r = await c.set('pinned', 'v', { node: follower.url, followRedirects: false });
    expect(r).toMatchObject({ ok: false, error: { type: 'not_leader', leader: leader.url, outcomeUnknown: false } });
  });

  it('status lists every node and the leader', async () => {
    const c = new RaftKvClient({ nodes: urls });
    // Status is a snapshot; on a loaded machine an election may be under way. Poll until it is settled.
    let settled: { leader: unknown; expected: unknown; roles: string[]; reachable: boolean[] } | null = null;
    for (let i = 0; i < 20; i++) {
      const leader = await healthyLeader();
      const s = await c.status();
      const roles = s.nodes.map((n) => (n.reachable ? n.status.role : '?')).sort();
      settled = { leader: s.leader, expected: leader, roles, reachable: s.nodes.map((n) => n.reachable) };
      if (JSON.stringify(s.leader) === JSON.stringify(leader) && roles.join() === 'follower,follower,leader') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(settled?.reachable).toEqual([true, true, true]);
    expect(settled?.leader).toEqual(settled?.expected);
    expect(settled?.roles).toEqual(['follower', 'follower', 'leader']);
  });

  it('a retried serial is not applied twice, even through a new leader', async () => {
    const c = new RaftKvClient({ nodes: urls }); // registers a session on its first write
    expect(await c.set('dedup', 'first', { serial: 5 })).toEqual({ ok: true });
    expect(await c.set('dedup', 'second')).toEqual({ ok: true });
    const old = await healthyLeader();
    await cluster.kill(old.id);
    // The retry of serial 5 reaches the new leader; the replicated session returns the saved result.
    expect(await c.set('dedup', 'first', { serial: 5 })).toEqual({ ok: true });
    expect(c.leader).not.toBe(old.url);
    expect(await c.get('dedup')).toEqual({ ok: true, value: 'second' });
    // The same serial for a different command is refused, never silently dropped.
    const reused = await c.set('dedup', 'third', { serial: 5 });
    expect(reused).toMatchObject({ ok: false, error: { type: 'session', code: 'serial_reused', outcomeUnknown: false } });
    await cluster.restart(old.id);
  });

  it('failover while writing: no acknowledged write lost, no increment applied twice', async () => {
    const leader = await healthyLeader();
    const counter = new RaftKvClient({ nodes: urls, timeoutMs: 8000 });
    const setter = new RaftKvClient({ nodes: urls, timeoutMs: 8000 });
    let acked = 0;
    let unknown = 0;
    let notApplied = 0;
    let ownWriteReportedAsMismatch = 0;
    let killed: Promise<void> | null = null;

    // A second client writes distinct keys meanwhile; every acknowledged one must survive.
    const ackedKeys: string[] = [];
    let stopSetter = false;
    const setterLoop = (async () => {
      for (let i = 0; i < 400 && !stopSetter; i++) {
        const r = await setter.set(`fo-${i}`, `v${i}`);
        if (r.ok) ackedKeys.push(`fo-${i}`);
      }
    })();

    for (let i = 0; i < 40; i++) {
      const read = await counter.get('counter');
      if (!read.ok) continue;
      const next = String(Number(read.value ?? '0') + 1);
      const r = await counter.cas('counter', read.value, next);
      if (r.ok && r.swapped) acked++;
      else if (r.ok) {
        // Single writer: a mismatch showing our own value means a retry was applied twice.
        if (r.current === next) ownWriteReportedAsMismatch++;
      } else if (r.error.outcomeUnknown) unknown++;
      else notApplied++;
      // Crash the leader while the next increment is in flight.
      if (acked === 10 && killed === null) killed = cluster.kill(leader.id);
    }
    stopSetter = true;
    await setterLoop;
    await killed;

    const fresh = new RaftKvClient({ nodes: urls });
    const final = await fresh.get('counter');
    expect(final.ok).toBe(true);
    const value = Number(final.ok ? final.value : NaN);
    expect(ownWriteReportedAsMismatch).toBe(0);
    expect(value).toBeGreaterThanOrEqual(acked);
    expect(value).toBeLessThanOrEqual(acked + unknown);
    expect(acked).toBeGreaterThanOrEqual(40 - unknown - notApplied - 5);
    expect(killed).not.toBeNull();
    const newLeader = await healthyLeader();
    expect(newLeader.id).not.toBe(leader.id);

    expect(ackedKeys.length).toBeGreaterThan(0);
    for (const key of ackedKeys) {
      expect(await fresh.get(key)).toEqual({ ok: true, value: `v${key.slice(3)}` });
    }
    await cluster.restart(leader.id);
  });

  it('a majority paused: timeout with unknown outcome, then a retry with the same serial applies once', async () => {
    const leader = await healthyLeader();
    const followers = cluster.members.filter((m) => m.id !== leader.id);
    const c = new RaftKvClient({ nodes: urls, timeoutMs: 2500, attemptTimeoutMs: 800 });
    // Register the session while the cluster is whole, so the write itself is what cannot commit.
    expect(await c.set('before-pause', 'x')).toEqual({ ok: true });
    // Settle any restart catch-up so the paused followers are the only obstacle.
    await new Promise((r) => setTimeout(r, 300));
    for (const f of followers) await cluster.pause(f.id);
    try {
      const t0 = Date.now();
      const r = await c.cas('once', null, 'applied');
      const elapsed = Date.now() - t0;
      expect(r).toMatchObject({ ok: false, error: { type: 'timeout', outcomeUnknown: true } });
      expect(elapsed).toBeGreaterThanOrEqual(2400);
      expect(elapsed).toBeLessThan(6000);
      const serial = r.ok ? 0 : r.error.serial;
      expect(serial).toBe(2);

      // A read cannot be confirmed either, but a read changes nothing: outcome known.
      const read = await c.get('once', { timeoutMs: 1000 });
      expect(read).toMatchObject({ ok: false, error: { outcomeUnknown: false } });

      // A new client must register first; that cannot commit, so its write is never sent: outcome known.
      const newcomer = new RaftKvClient({ nodes: urls, timeoutMs: 1500, attemptTimeoutMs: 700 });
      const unsent = await newcomer.set('never-sent', 'v');
      expect(unsent).toMatchObject({ ok: false, error: { type: 'timeout', outcomeUnknown: false } });
      expect(unsent.ok ? '' : unsent.error.message).toMatch(/^set "never-sent": could not register a session: /);
      expect(newcomer.clientId).toBeNull();

      for (const f of followers) await cluster.resume(f.id);
      await healthyLeader();
      // Whether or not the first attempt was committed, the retry succeeds exactly once.
      expect(await c.cas('once', null, 'applied', { serial })).toEqual({ ok: true, swapped: true });
      expect(await c.get('once')).toEqual({ ok: true, value: 'applied' });
      expect(await c.get('never-sent')).toEqual({ ok: true, value: null });
    } finally {
      for (const f of followers) await cluster.resume(f.id);
    }
  });
});
