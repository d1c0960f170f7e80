// The library inside a Worker: bundled for a neutral platform (a Node-only
// import would fail the build) and run in workerd through Miniflare, talking
// to scripted fake nodes in this process.
import { build } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { leaderScript, redirectTo, startFakeNode } from '../test/doubles/fake-http-node';
import type { FakeNode } from '../test/doubles/fake-http-node';

let leader: FakeNode;
let follower: FakeNode;
let mf: Miniflare | null = null;

const workerSource = `
import { RaftKvClient } from './client';
export default {
  async fetch(_req, env) {
    const c = new RaftKvClient({ nodes: [env.FOLLOWER, env.LEADER], timeoutMs: 5000 });
    const results = [];
    results.push(await c.set('w', 'from a worker'));
    results.push(await c.get('w'));
    results.push(await c.cas('w', 'from a worker', 'swapped'));
    results.push(await c.cas('w', 'nope', 'x'));
    results.push(await c.delete('w'));
    results.push(await c.get('w'));
    return Response.json({ results, leader: c.leader, clientId: c.clientId });
  },
};
`;

beforeAll(async () => {
  leader = await startFakeNode(leaderScript());
  follower = await startFakeNode((req) => redirectTo(leader.url, req.path));
  const out = await build({
    stdin: { contents: workerSource, resolveDir: resolve(__dirname), loader: 'js' },
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0]?.text ?? '';
  mf = new Miniflare({
    modules: [{ type: 'ESModule', path: 'index.js', contents: code }],
    compatibilityDate: '2026-04-26',
    cf: false,
    log: new Log(LogLevel.WARN),
    bindings: { LEADER: leader.url, FOLLOWER: follower.url },
  });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await leader?.close();
  await follower?.close();
});

it('runs in workerd: follows the redirect and maps every answer', async () => {
  if (mf === null) throw new Error('no Miniflare');
  const res = await mf.dispatchFetch('http://worker/');
  const body = (await res.json()) as { results: unknown[]; leader: string; clientId: string };
  expect(body.results).toEqual([
    { ok: true },
    { ok: true, value: 'from a worker' },
    { ok: true, swapped: true },
    { ok: true, swapped: false, current: 'swapped' },
    { ok: true },
    { ok: true, value: null },
  ]);
  expect(body.leader).toBe(leader.url);
  // The first write registered a session (through the follower's redirect) and used it.
  expect(body.clientId).toBe('session-1');
  expect(follower.seen[0]?.path).toBe('/sessions');
  expect(leader.seen.find((r) => r.method === 'PUT')?.headers['client-id']).toBe(body.clientId);
}, 30_000);
