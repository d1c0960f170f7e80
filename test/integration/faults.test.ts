// A short fault-injection run against a real 3-node cluster (see
// test/faults/): partitions, crashes and pauses for about 35 s, then the
// liveness and linearizability checks. FAULTS_SEED=n replays a schedule.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSafety } from '../faults/check';
import { attempt } from '../faults/kv-http';
import { Network } from '../faults/network';
import { countSnapshotInstalls } from '../faults/report';
import { defaultOptions, killEverything, randomSeed, runFaults } from '../faults/run-faults';

const seedFromEnv = process.env.FAULTS_SEED;
const seed = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) : randomSeed();

describe('link proxies', () => {
  // Two stand-in "nodes" that answer with their own id, and the proxies between them.
  const servers: Server[] = [];
  const network = new Network(
    [
      { id: 'a', port: 19280 },
      { id: 'b', port: 19281 },
    ],
    19284,
  );
  beforeAll(async () => {
    for (const [id, port] of [
      ['a', 19280],
      ['b', 19281],
    ] as const) {
      const s = createServer((req, res) => (req.url === '/slow' ? setTimeout(() => res.end(id), 300) : res.end(id)));
      await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
      servers.push(s);
    }
    await network.start();
  });
  afterAll(async () => {
    await network.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const call = (from: string, to: string, timeoutMs = 400) =>
    attempt({ baseUrl: network.url(from, to), method: 'GET', path: '/', timeoutMs });

  it('forwards, cuts one way or both, and heals', async () => {
    expect(await call('a', 'b')).toMatchObject({ kind: 'answer', status: 200, body: 'b' });
    expect(await call('b', 'a')).toMatchObject({ kind: 'answer', status: 200, body: 'a' });

    network.apply([{ from: 'a', to: 'b', mode: 'reset' }]);
    const started = Date.now();
    // Reset as soon as accepted: usually before the client saw its connection open.
    expect((await call('a', 'b')).kind).not.toBe('answer');
    expect(Date.now() - started).toBeLessThan(300); // a reset is noticed at once
    expect(await call('b', 'a')).toMatchObject({ kind: 'answer', body: 'a' }); // the other direction still works

    network.apply([
      { from: 'a', to: 'b', mode: 'blackhole' },
      { from: 'b', to: 'a', mode: 'blackhole' },
    ]);
    expect(await call('a', 'b', 300)).toMatchObject({ kind: 'noAnswer', reason: 'no answer in 300 ms' });
    expect(await call('b', 'a', 300)).toMatchObject({ kind: 'noAnswer', reason: 'no answer in 300 ms' });
    expect(network.describe()).toBe('a→b blackhole, b→a blackhole');

    network.healAll();
    expect(await call('a', 'b')).toMatchObject({ kind: 'answer', body: 'b' });
    expect(network.describe()).toBe('all open');
  });

  it('breaks a connection that is in flight when the link is cut', async () => {
    const pending = attempt({ baseUrl: network.url('a', 'b'), method: 'GET', path: '/slow', timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 100));
    network.apply([{ from: 'a', to: 'b', mode: 'reset' }]);
    expect(await pending).toMatchObject({ kind: 'noAnswer' }); // sent, so it may have been acted on
    network.healAll();
  });

  it('reports a refused connection as not sent', async () => {
    expect(await attempt({ baseUrl: 'http://127.0.0.1:19283', method: 'GET', path: '/', timeoutMs: 400 })).toMatchObject({
      kind: 'notSent',
    });
  });
});

describe('safety checks', () => {
  it('flag an acknowledged write the final read does not show', () => {
    const r = checkSafety([
      { id: 1, client: 'c1', key: 'k', op: { type: 'set', value: 'c1-1' }, invoke: 0, complete: 10, observed: { type: 'set' } },
      { id: 2, client: 'c2', key: 'k', op: { type: 'set', value: 'c2-1' }, invoke: 20, complete: 30, observed: { type: 'set' } },
      { id: 3, client: 'c3', key: 'k', op: { type: 'set', value: 'c3-1' }, invoke: 25, complete: Infinity, observed: null },
      { id: 4, client: 'final', key: 'k', op: { type: 'get' }, invoke: 40, complete: 50, observed: { type: 'get', value: 'c1-1' } },
    ]);
    expect(r.failures.join('\n')).toMatch(/not linearizable on key k/);
    // c3's unknown write could have come last, so "lost write" cannot be claimed on its own here...
    expect(r.failures.join('\n')).not.toMatch(/lost write/);
    // ...but without it, c2's write was surely the last one.
    const r2 = checkSafety([
      { id: 1, client: 'c1', key: 'k', op: { type: 'set', value: 'c1-1' }, invoke: 0, complete: 10, observed: { type: 'set' } },
      { id: 2, client: 'c2', key: 'k', op: { type: 'delete' }, invoke: 20, complete: 30, observed: { type: 'delete' } },
      { id: 4, client: 'final', key: 'k', op: { type: 'get' }, invoke: 40, complete: 50, observed: { type: 'get', value: 'c1-1' } },
    ]);
    expect(r2.failures.join('\n')).toMatch(/lost write on key k: #2 c2 delete/);
  });
});

describe('snapshot count in the summary', () => {
  it('counts the core\'s "installing a snapshot" lines per node log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-kv-faults-logs-'));
    try {
      const line = (msg: string): string => JSON.stringify({ level: 'info', msg, node: 'n', term: 2, role: 'follower' });
      writeFileSync(
        join(dir, 'n1.log'),
        [line('installing a snapshot'), line('role changed'), line('installing a snapshot'), ''].join('\n'),
      );
      writeFileSync(join(dir, 'n2.log'), `${line('leader changed')}\n`);
      const counts = countSnapshotInstalls([join(dir, 'n1.log'), join(dir, 'n2.log'), join(dir, 'n3.log')]);
      expect([...counts]).toEqual([
        ['n1', 2],
        ['n2', 0],
        ['n3', 0],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs its nodes with small thresholds by default, so faults meet snapshots', () => {
    expect(defaultOptions.snapshotEvery).toBeLessThanOrEqual(50);
    expect(defaultOptions.logRetain).toBeLessThan(defaultOptions.snapshotEvery);
  });
});

describe('fault injection (real processes, partitions, crashes, pauses)', () => {
  it('stays linearizable and recovers after 35 s of faults', async () => {
    let result;
    try {
      result = await runFaults(
        { ...defaultOptions, seed, timeSec: 35, nodes: 3, clients: 5, keys: 4, nodeBasePort: 19100, proxyBasePort: 19200 },
        (line) => process.stdout.write(`${line}\n`),
      );
    } finally {
      killEverything(); // no-op when the run stopped its cluster itself
    }
    const why = result.ok
      ? ''
      : `fault run failed (seed ${result.seed}, run folder ${result.runDir}); replay: ${result.replay}\n${result.failures.join('\n')}`;
    expect(result.ok, why).toBe(true);
  }, 240_000);
});
