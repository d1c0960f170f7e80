// A 3-node cluster of node processes whose peer links go through the
// test/faults proxies: the leader cut off from its peers never serves a stale
// read, neither while cut off nor after the links heal.
// Ports 19705-19716. Every wait is a bounded poll; no timing is asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultCluster } from '../faults/cluster';
import { eventually, http, identity, put, read, runId, sleep, timing } from './cluster-http';

describe('3 node processes behind link proxies: a partitioned leader', () => {
  let cluster: FaultCluster;
  let runDir = '';
  const t0 = performance.now();
  const killNow = (): void => cluster?.killNow();

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), 'raft-kv-cluster-api-'));
    process.on('exit', killNow);
    cluster = new FaultCluster({
      nodes: 3,
      slots: 3,
      nodeBasePort: 19_705,
      proxyBasePort: 19_708, // proxies 19708..19716
      runDir,
      secret: `cluster-api-secret-${runId}`,
      ...timing,
      logLevel: 'warn',
      startTimeoutMs: 45_000,
      now: () => performance.now() - t0,
    });
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    process.off('exit', killNow);
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  it('answers 503/504 while cut off, and never the old value after the majority moved on, cut off or healed', async () => {
    const urls = [...cluster.urls().values()];
    const key = `part-${runId}`;
    const oldId = await cluster.waitForLeader(30_000);
    expect(oldId).not.toBeNull();
    expect((await put(urls, key, 'old')).status).toBe(200);
    // The write went to whoever led; make sure that is still the node we cut off.
    const old = (await cluster.waitForLeader(30_000))!;
    const oldUrl = cluster.node(old).url;
    const others = cluster.ids.filter((id) => id !== old);
    const oldStatus = (await cluster.status(old))!;
    expect(oldStatus.role).toBe('leader');

    cluster.applyCuts(
      others.flatMap((o) => [
        { from: old, to: o, mode: 'blackhole' as const },
        { from: o, to: old, mode: 'blackhole' as const },
      ]),
    );
    try {
      // Cut off: it cannot confirm it still leads, so no read is served.
      const cutOff = await http(`${oldUrl}/kv/${key}`);
      expect([503, 504, 307], `read on the cut-off leader: ${cutOff.status} ${cutOff.text}`).toContain(cutOff.status);
      // A write there cannot commit (its outcome is unknown to the client; we check below it never applies).
      const ghost = await http(`${oldUrl}/kv/${key}`, { method: 'PUT', body: 'ghost', headers: await identity(urls) }); // the session was registered by the put above
      expect([503, 504, 307]).toContain(ghost.status);

      // The majority elects a new leader in a later term and takes a new value.
      const majority = await eventually(
        async () => Promise.all(others.map((id) => cluster.status(id))),
        (all) =>
          all.some(
            (s) =>
              s?.role === 'leader' &&
              s.term > oldStatus.term &&
              all.every((o) => o?.term === s.term && (o.id === s.id || o.leader?.id === s.id)),
          ),
        30_000,
      );
      const next = majority?.find((s) => s?.role === 'leader');
      expect(next, `no new leader among ${others.join(', ')}`).toBeDefined();
      expect(next!.term).toBeGreaterThan(oldStatus.term);
      const otherUrls = others.map((id) => cluster.node(id).url);
      expect((await put(otherUrls, key, 'new')).status).toBe(200);

      // Still cut off: any number of reads, none served.
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const a = await http(`${oldUrl}/kv/${key}`);
        expect([503, 504, 307], `read on the cut-off old leader: ${a.status} ${a.text}`).toContain(a.status);
      }
      const s = await cluster.status(old);
      expect(s?.term ?? 0, 'pre-vote keeps the cut-off node from inflating its term').toBeLessThanOrEqual(next!.term);
    } finally {
      cluster.healNetwork();
    }

    // Healed: it learns of the new term; it redirects or (if it leads again) serves the new value.
    let redirected = false;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const a = await http(`${oldUrl}/kv/${key}`).catch(() => null);
      if (a !== null) {
        expect(a.status === 200 && a.json?.value === 'old', 'stale read after healing').toBe(false);
        expect([200, 307, 503, 504]).toContain(a.status);
        if (a.status === 200) expect(a.json).toEqual({ key, value: 'new' });
        if (a.status === 307) {
          expect(a.headers.get('Location')).toBe(`${a.json.leader}/kv/${key}`);
          redirected = true;
        }
        if (redirected && Date.now() > until - 13_000) break;
      }
      await sleep(100);
    }
    expect(redirected || (await cluster.leader()) === old, 'the healed old leader redirects to the new one').toBe(true);
    // Through any node: the new value; the ghost write of the cut-off leader was never applied.
    for (const u of urls) expect((await read([u], key)).json).toEqual({ key, value: 'new' });
    expect(cluster.crashes).toEqual([]);
  });
});
