import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from './status';

describe('fetchStatus', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok/status') res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"n1","role":"leader","term":3}');
      else if (req.url === '/down/status') res.writeHead(503).end('{"error":"stopping"}');
      // /slow/status never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('parses a 200 answer', async () => {
    expect(await fetchStatus(`${base}/ok`)).toEqual({ id: 'n1', role: 'leader', term: 3 });
  });

  it('throws with the status and body of any other answer', async () => {
    await expect(fetchStatus(`${base}/down`)).rejects.toThrow(`GET ${base}/down/status answered 503: {"error":"stopping"}`);
  });

  it('gives up after its time limit', async () => {
    const t0 = Date.now();
    await expect(fetchStatus(`${base}/slow`, 200)).rejects.toThrow('no answer within 200 ms');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('throws when nothing listens', async () => {
    await expect(fetchStatus('http://127.0.0.1:1', 500)).rejects.toThrow();
  });
});
