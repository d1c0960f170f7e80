// GET /metrics, /dashboard and the JSON the dashboard polls, served from the
// in-memory node; gathering from peers with a scripted fetch.
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import parse from 'parse-prometheus-text-format';
import { FakeNode, appWith, fakeStatus } from '../../test/doubles/fake-node';
import { gatherCluster } from '../dashboard/gather';

describe('observe routes', () => {
  it('GET /metrics answers the Prometheus text format that a parser reads', async () => {
    const node = new FakeNode();
    node.metricsOf.onWriteOutcome('ok', 3, Date.now());
    const res = await appWith(node).request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = new Map(parse(await res.text()).map((f) => [f.name, f]));
    expect(families.get('raftkv_term')?.metrics).toEqual([{ value: String(fakeStatus.term) }]);
    expect(families.get('raftkv_proposals_total')?.metrics.find((m) => m.labels?.outcome === 'ok')?.value).toBe('1');
    expect(families.get('raftkv_write_duration_seconds')?.type).toBe('HISTOGRAM');
  });

  it('GET /dashboard is one HTML page that loads nothing from elsewhere', async () => {
    const res = await appWith(new FakeNode()).request('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<script>');
    expect(html).toContain('/dashboard/cluster');
    // No src= or href= but inline data (an empty icon, so the browser asks for no favicon).
    expect(html.match(/\b(src|href)\s*=\s*"[^"]*"/gi)).toEqual(['href="data:,"']);
    // The script at least parses (the browser test in test/e2e runs it).
    const script = html.slice(html.indexOf('<script>') + 8, html.indexOf('</script>'));
    expect(() => new Script(script)).not.toThrow(); // compiles, does not run
  });

  it('GET /dashboard/node answers this node alone, and POST is refused', async () => {
    const app = appWith(new FakeNode());
    const res = await app.request('/dashboard/node');
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.status).toEqual(fakeStatus);
    expect(body.view.self).toEqual({ id: 'n1', url: fakeStatus.url });
    expect(body.view.recent).toHaveLength(60);
    expect((await app.request('/dashboard/node', { method: 'POST' })).status).toBe(405);
  });

  it("gathers every member: its own over RPC, each peer's over HTTP, unreachable ones with the reason", async () => {
    const node = new FakeNode();
    const peerReport = { status: { ...fakeStatus, id: 'n2', role: 'follower' }, view: await node.view() };
    const asked: string[] = [];
    const fetchFn = (async (input: RequestInfo | URL) => {
      asked.push(String(input));
      return Response.json(peerReport);
    }) as typeof fetch;
    const report = await gatherCluster(node, fetchFn, 500, () => 42);
    expect(asked).toEqual(['http://127.0.0.1:8788/dashboard/node']);
    expect(report.viewer).toBe('n1');
    expect(report.at).toBe(42);
    expect(report.members.map((m) => [m.id, m.self, m.reachable])).toEqual([
      ['n1', true, true],
      ['n2', false, true],
    ]);

    const refused = (async () => {
      throw new TypeError('connection refused');
    }) as typeof fetch;
    const down = await gatherCluster(node, refused, 500, () => 0);
    expect(down.members[1]).toEqual({ id: 'n2', url: 'http://127.0.0.1:8788', self: false, reachable: false, error: 'connection refused' });

    const silent = ((_: RequestInfo | URL, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)))) as typeof fetch;
    const slow = await gatherCluster(node, silent, 50, () => 0);
    expect(slow.members[1]).toMatchObject({ reachable: false, error: 'no answer within 50 ms' });

    const answers500 = (async () => new Response('x', { status: 500 })) as typeof fetch;
    expect((await gatherCluster(node, answers500, 50, () => 0)).members[1]).toMatchObject({ reachable: false, error: 'HTTP 500' });
  });
});
