// The dashboard in a real browser: Debian's headless Chromium, driven by
// playwright-core, against a real 3-node in-process cluster. Opened on a
// follower, the page must list three members and the leader the cluster
// agrees on; after the leader is killed it must name the new leader within
// 3 s. Screenshots go to test-output/ (git-ignored).
// Ports 19800-19802.
import { mkdirSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import parse from 'parse-prometheus-text-format';
import { startCluster, type Cluster } from '../../launcher/start-cluster';
import { put, read, sleep, timing } from '../integration/cluster-http';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const outDir = resolve(import.meta.dirname, '../../test-output');

describe('dashboard in headless Chromium', () => {
  let cluster: Cluster;
  let browser: Browser;
  let page: Page;
  /** Script errors and console errors of the page; none are expected. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium (.ci/run does)`);
    mkdirSync(outDir, { recursive: true });
    try {
      cluster = await startCluster({ nodes: 3, basePort: 19_800, ...timing, logLevel: 'warn' });
    } catch (err) {
      await cluster?.stop();
      throw err;
    }
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  it('GET /metrics of a real node parses as Prometheus text and counts what the node did', async () => {
    await cluster.waitForLeader(30_000);
    const urls = cluster.members.map((m) => m.url);
    for (let i = 0; i < 5; i++) await put(urls, `m${i}`, 'x');
    await read(urls, 'm0');
    const scrape = async (url: string) => {
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const families = parse(await res.text());
      const value = (name: string, labels: Record<string, string> = {}) =>
        Number(
          families.find((f) => f.name === name)?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels))?.value,
        );
      return { families, value };
    };
    // Leadership may move on a loaded machine; scrape until the agreed leader says so itself.
    let leaderId = '';
    await expect
      .poll(
        async () => {
          leaderId = (await cluster.waitForLeader(10_000)).id;
          return (await scrape(cluster.members.find((m) => m.id === leaderId)!.url)).value('raftkv_role', { role: 'leader' });
        },
        { timeout: 20_000 },
      )
      .toBe(1);
    const all = await Promise.all(cluster.members.map(async (m) => ({ id: m.id, ...(await scrape(m.url)) })));
    const sum = (name: string, labels: Record<string, string> = {}) => all.reduce((n, s) => n + s.value(name, labels), 0);
    // Whichever node led when: the cluster as a whole served the writes and the read.
    expect(sum('raftkv_proposals_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(5);
    expect(sum('raftkv_reads_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sum('raftkv_elections_started_total', { kind: 'vote' })).toBeGreaterThanOrEqual(1);
    const l = all.find((s) => s.id === leaderId)!;
    expect(l.value('raftkv_log_entries')).toBeGreaterThanOrEqual(6);
    expect(l.value('raftkv_log_bytes')).toBeGreaterThan(0);
    expect(l.value('raftkv_leader_changes_total')).toBeGreaterThanOrEqual(1);
    expect(l.families.find((f) => f.name === 'raftkv_write_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(Number(l.families.find((f) => f.name === 'raftkv_storage_write_duration_seconds')!.metrics[0]!.count)).toBeGreaterThan(0);
    for (const peer of cluster.members.filter((m) => m.id !== leaderId)) {
      expect(l.value('raftkv_append_entries_sent_total', { peer: peer.id })).toBeGreaterThan(0);
      expect(l.value('raftkv_peer_sent_bytes_total', { peer: peer.id })).toBeGreaterThan(0);
    }
  });

  const shownLeader = () => page.locator('#leader').getAttribute('data-leader');
  const leaderRow = () => page.locator('tr.leader').getAttribute('data-member');

  it('shows three members and the leader from a follower, and the new leader within 3 s of killing it', async () => {
    let leader = await cluster.waitForLeader(30_000);
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    // Steady traffic from one client through the whole test, so the charts have something to draw.
    const urls = cluster.members.map((m) => m.url);
    let stop = false;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        await put(urls, `k${i % 5}`, `v${i}`).catch(() => {});
        await read(urls, `k${i % 5}`).catch(() => {});
        await sleep(20);
      }
    })();
    await sleep(2500);

    await page.goto(`${follower.url}/dashboard`);
    await expect
      .poll(() => page.locator('tr[data-member]').count(), { timeout: 5000, message: `page errors: ${pageErrors.join('; ')}` })
      .toBe(3);
    // The page must agree with the cluster; re-asked each time, as leadership may move on a loaded machine.
    await expect
      .poll(
        async () => {
          leader = await cluster.waitForLeader(10_000);
          return (await shownLeader()) === leader.id && (await leaderRow()) === leader.id;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
    expect(leader.id, 'the page is opened on a follower').not.toBe(follower.id);
    // Live: the page's "updated" time changes at least twice within a second.
    const seen = new Set<string>();
    for (const until = Date.now() + 1000; Date.now() < until;) {
      seen.add((await page.locator('#fresh').textContent()) ?? '');
      await sleep(50);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);
    expect(await page.locator(`tr[data-member="${follower.id}"] .you`).count()).toBe(1);
    expect(await page.locator('[data-role="leader"]').count()).toBe(1);
    expect(await page.locator('[data-role="follower"]').count()).toBe(2);
    await page.screenshot({ path: resolve(outDir, 'dashboard.png'), fullPage: true });

    await cluster.kill(leader.id);
    const killedAt = Date.now();
    await expect
      .poll(
        async () => {
          const shown = await shownLeader();
          return shown !== '' && shown !== leader.id ? shown : null;
        },
        { timeout: 3000, interval: 50 },
      )
      .not.toBeNull();
    const seenAfterMs = Date.now() - killedAt;
    const newLeader = await shownLeader();
    expect(newLeader).not.toBe(leader.id);
    // The page's leader is the one the surviving majority agrees on.
    expect((await cluster.waitForLeader(10_000)).id).toBe(newLeader);
    expect(await page.locator(`tr[data-member="${leader.id}"] [data-role="unreachable"]`).count()).toBe(1);
    await expect.poll(() => page.locator('#banner').textContent()).toContain(`cannot reach ${leader.id}`);
    await page.waitForTimeout(2500); // whole seconds of the new leader's traffic in the charts
    await page.screenshot({ path: resolve(outDir, 'dashboard-after-kill.png'), fullPage: true });
    stop = true;
    await traffic;
    console.log(`dashboard showed the new leader ${newLeader} ${seenAfterMs} ms after ${leader.id} was killed`);

    // Cut the page's node off from the last other member: it must say it cannot reach a majority.
    const other = cluster.members.find((m) => m.id !== leader.id && m.id !== follower.id)!;
    await cluster.pause(other.id);
    try {
      await expect
        .poll(() => page.locator('#banner').textContent(), { timeout: 5000 })
        .toContain(`${follower.id} cannot reach a majority of the cluster`);
      await expect.poll(() => page.locator('[data-role="unreachable"]').count(), { timeout: 5000 }).toBe(2);
      await page.screenshot({ path: resolve(outDir, 'dashboard-cut-off.png'), fullPage: true });
    } finally {
      await cluster.resume(other.id);
    }
    expect(pageErrors).toEqual([]);
  });
});
