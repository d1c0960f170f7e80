/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The node's configuration from its vars (worker/node/config.ts), and a node
// object that refuses every call when that configuration is bad.
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../worker/env';
import { describeConfigErrors, parseNodeConfig } from '../../worker/node/config';
import { RaftNodeObject } from '../../worker/node/node-object';
import { nodeNamed } from './nodes';

const bindings = env as unknown as Env;

const goodVars = {
  NODE_ID: 'n1',
  NODE_URL: 'http://127.0.0.1:8787/',
  PEERS: ' n2=http://127.0.0.1:8788 , n3=http://10.0.0.3:9000/,',
  CLUSTER_SECRET: 's3cret',
};

describe('parseNodeConfig', () => {
  it('parses a full configuration and scales every timeout by SLOWDOWN', () => {
    const r = parseNodeConfig({
      ...goodVars,
      ELECTION_TIMEOUT_MS: '300',
      HEARTBEAT_INTERVAL_MS: '50',
      REQUEST_TIMEOUT_MS: '1000',
      SLOWDOWN: '2.5',
      LOG_LEVEL: 'DEBUG',
      COALESCE_REQUESTS: ' ON ',
      PEER_STREAMS: 'Off',
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.raft.self).toEqual({ id: 'n1', url: 'http://127.0.0.1:8787' });
    expect(r.settings.raft.peers).toEqual([
      { id: 'n2', url: 'http://127.0.0.1:8788' },
      { id: 'n3', url: 'http://10.0.0.3:9000' },
    ]);
    expect(r.settings.raft.electionTimeoutMs).toBe(750);
    expect(r.settings.raft.heartbeatIntervalMs).toBe(125);
    expect(r.settings.requestTimeoutMs).toBe(2500);
    expect(r.settings.peerRequestTimeoutMs).toBe(750);
    expect(r.settings).toMatchObject({
      clusterSecret: 's3cret',
      slowdown: 2.5,
      logLevel: 'debug',
      coalesceRequests: true,
      peerStreams: false,
    });
  });

  it('JOIN: a joining node (RaftConfig.join, no peers); it excludes PEERS and must be a URL', () => {
    const r = parseNodeConfig({ ...goodVars, PEERS: '', JOIN: 'http://127.0.0.1:8787/' });
    expect(r.ok && r.settings.join).toBe('http://127.0.0.1:8787');
    expect(r.ok && r.settings.raft).toMatchObject({ join: true, peers: [] });
    const both = parseNodeConfig({ ...goodVars, JOIN: 'http://127.0.0.1:8787' });
    expect(!both.ok && both.errors.join('; ')).toMatch(/JOIN and PEERS exclude each other/);
    const bad = parseNodeConfig({ ...goodVars, PEERS: '', JOIN: 'somewhere' });
    expect(!bad.ok && bad.errors.join('; ')).toMatch(/JOIN must be the http\(s\) URL/);
    const plain = parseNodeConfig(goodVars);
    expect(plain.ok && [plain.settings.join, plain.settings.raft.join]).toEqual([null, false]);
  });

  it('PEER_ROUTES: routes by member id or by configured URL; malformed items are named', () => {
    const r = parseNodeConfig({ ...goodVars, PEER_ROUTES: ' n2=http://10.0.0.2:1/ , http://127.0.0.1:8789/=http://127.0.0.1:19601,' });
    expect(r.ok && [...r.settings.peerRoutes.byId]).toEqual([['n2', 'http://10.0.0.2:1']]);
    expect(r.ok && [...r.settings.peerRoutes.byUrl]).toEqual([['http://127.0.0.1:8789', 'http://127.0.0.1:19601']]);
    const none = parseNodeConfig(goodVars);
    expect(none.ok && none.settings.peerRoutes.byId.size + none.settings.peerRoutes.byUrl.size).toBe(0);
    const bad = parseNodeConfig({ ...goodVars, PEER_ROUTES: 'n2, n3=ftp://x, n4=http://a:1, n4=http://b:1' });
    const errors = !bad.ok && bad.errors.join('; ');
    expect(errors).toMatch(/PEER_ROUTES item "n2" must look like/);
    expect(errors).toMatch(/PEER_ROUTES item "n3=ftp:\/\/x" must look like/);
    expect(errors).toMatch(/PEER_ROUTES names "n4" twice/);
  });

  it('ADMIN_TOKEN: optional, at least 8 characters', () => {
    const r = parseNodeConfig({ ...goodVars, ADMIN_TOKEN: ' admin-token-1 ' });
    expect(r.ok && r.settings.adminToken).toBe('admin-token-1');
    const none = parseNodeConfig(goodVars);
    expect(none.ok && none.settings.adminToken).toBeNull();
    const short = parseNodeConfig({ ...goodVars, ADMIN_TOKEN: 'short' });
    expect(!short.ok && short.errors.join('; ')).toMatch(/ADMIN_TOKEN must be at least 8/);
  });

  it('fills in defaults, and an empty PEERS means a single-node cluster', () => {
    const r = parseNodeConfig({ ...goodVars, PEERS: '' });
    expect(r.ok && r.settings).toMatchObject({
      raft: { peers: [], electionTimeoutMs: 400, heartbeatIntervalMs: 80 },
      requestTimeoutMs: 3000,
      slowdown: 1,
      logLevel: 'info',
      coalesceRequests: false,
      peerStreams: true,
    });
  });

  it('reports every problem at once, naming the var', () => {
    const r = parseNodeConfig({
      NODE_URL: ' ',
      PEERS: 'n2,=http://x:1',
      ELECTION_TIMEOUT_MS: 'abc',
      HEARTBEAT_INTERVAL_MS: '0',
      SLOWDOWN: '-1',
      LOG_LEVEL: 'toString',
      COALESCE_REQUESTS: 'yes',
      PEER_STREAMS: '1',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = describeConfigErrors(r.errors);
    expect(text).toMatch(/^invalid node configuration: /);
    for (const name of [
      'NODE_ID',
      'NODE_URL',
      'CLUSTER_SECRET',
      'ELECTION_TIMEOUT_MS',
      'HEARTBEAT_INTERVAL_MS',
      'SLOWDOWN',
      'LOG_LEVEL',
      'COALESCE_REQUESTS',
      'PEER_STREAMS',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toContain('PEERS item "n2"');
    expect(text).toContain('PEERS item "=http://x:1"');
    expect(r.errors).toHaveLength(11); // each problem once, no echoes from the core's own checks
  });

  it.each([
    [{ PEERS: 'n1=http://127.0.0.1:8788' }, /duplicate member id "n1"/],
    [{ PEERS: 'n2=http://127.0.0.1:8787' }, /"n1" and "n2" share the URL/],
    [{ PEERS: 'n2=ftp://127.0.0.1:21' }, /"n2" has an invalid URL/],
    [{ NODE_ID: 'n 1' }, /NODE_ID "n 1" must not contain/],
    [
      { ELECTION_TIMEOUT_MS: '100', HEARTBEAT_INTERVAL_MS: '80' },
      /HEARTBEAT_INTERVAL_MS \(80\) must be at most half of ELECTION_TIMEOUT_MS \(100\)$/,
    ],
  ])('refuses %j', (override, message) => {
    const r = parseNodeConfig({ ...goodVars, ...override });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(describeConfigErrors(r.errors)).toMatch(message);
  });

  it('a misconfigured node object fails every call with the reason', async () => {
    await runInDurableObject(nodeNamed('bad-config'), async (_obj, state) => {
      const lines: string[] = [];
      const log = console.log;
      console.log = (line: string) => lines.push(line);
      let bad: RaftNodeObject;
      try {
        bad = new RaftNodeObject(state, { ...bindings, NODE_URL: 'not a url', SLOWDOWN: 'fast' });
      } finally {
        console.log = log;
      }
      const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; node: string });
      expect(logged).toMatchObject([{ level: 'error', node: 'n1' }]);
      expect(logged[0]?.msg).toMatch(/SLOWDOWN must be a positive number.*invalid URL "not a url"/);
      for (const call of [() => bad.status(), () => bad.read('k'), () => bad.receive([])]) {
        await expect(call()).rejects.toThrow(/invalid node configuration: SLOWDOWN/);
      }
      await expect(bad.alarm()).resolves.toBeUndefined(); // nothing scheduled, nothing to do
    });
  });
});
