// A real 5-node in-process cluster (one Miniflare/workerd per node) refusing
// what it must: the bad-input table and peer authentication against real
// nodes, with nothing reaching the log.
// Ports 19720-19724. Every wait is a bounded poll; no timing is asserted.
import { describe, expect, it } from 'vitest';
import { http, read, sleep, timing, type Send } from './cluster-http';
import { fiveNodeCluster } from './five-nodes';

describe('5-node in-process cluster', () => {
  const five = fiveNodeCluster(19_720);
  const { status, leader, followerOf } = five;

  it('refuses bad input with a JSON 4xx and appends nothing to the log', async () => {
    const kb64 = 64 * 1024;
    const json = (body: string) => ({ method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    const withIds = (headers: Record<string, string>) => ({ method: 'PUT', body: 'v', headers });
    const cases: [name: string, path: string, init: Send, status: number, error: string][] = [
      ['cas: malformed JSON', '/kv/k/cas', json('{"expected":'), 400, 'bad_request'],
      ['cas: empty body', '/kv/k/cas', json(''), 400, 'bad_request'],
      ['cas: wrong types', '/kv/k/cas', json('{"expected":1,"value":2}'), 400, 'bad_request'],
      ['cas: unknown field', '/kv/k/cas', json('{"expected":null,"value":"v","extra":1}'), 400, 'bad_request'],
      ['empty key (PUT /kv/)', '/kv/', { method: 'PUT', body: 'v' }, 400, 'bad_request'],
      ['empty key (GET /kv)', '/kv', {}, 400, 'bad_request'],
      ['key of 600 bytes', `/kv/${'k'.repeat(600)}`, { method: 'PUT', body: 'v' }, 400, 'bad_request'],
      ['bad percent-encoding', '/kv/%E0%A4', { method: 'PUT', body: 'v' }, 400, 'bad_request'],
      ['value of 64 KiB + 1', '/kv/k', { method: 'PUT', body: 'x'.repeat(kb64 + 1) }, 413, 'payload_too_large'],
      [
        'cas value of 64 KiB + 1',
        '/kv/k/cas',
        json(JSON.stringify({ expected: null, value: 'x'.repeat(kb64 + 1) })),
        413,
        'payload_too_large',
      ],
      ['unknown route', '/nope', {}, 404, 'not_found_route'],
      ['unknown route under /kv', '/kv/a/b', { method: 'PUT', body: 'v' }, 404, 'not_found_route'],
      ['wrong method (PATCH /kv/:key)', '/kv/k', { method: 'PATCH', body: 'v' }, 405, 'method_not_allowed'],
      ['wrong method (GET /kv/:key/cas)', '/kv/k/cas', {}, 405, 'method_not_allowed'],
      ['Client-Id without Request-Serial', '/kv/k', withIds({ 'Client-Id': 'session-1' }), 400, 'bad_request'],
      ['Request-Serial without Client-Id', '/kv/k', withIds({ 'Request-Serial': '1' }), 400, 'bad_request'],
      ['Request-Serial 0', '/kv/k', withIds({ 'Client-Id': 'session-1', 'Request-Serial': '0' }), 400, 'bad_request'],
      ['a Client-Id the cluster did not hand out', '/kv/k', withIds({ 'Client-Id': 'c', 'Request-Serial': '1' }), 400, 'bad_request'],
      [
        'Request-Serial not a number',
        '/kv/k',
        { method: 'DELETE', headers: { 'Client-Id': 'session-1', 'Request-Serial': 'x' } },
        400,
        'bad_request',
      ],
      ['seed /set: malformed JSON', '/set/k', { method: 'POST', body: '{', headers: { 'Content-Type': 'text/plain' } }, 400, 'bad_request'],
      ['seed /set: wrong types', '/set/k', { method: 'POST', body: '{"clientId":"a","value":1,"requestSerial":-1}' }, 400, 'bad_request'],
    ];

    // The table runs against the leader (where an accepted write would be appended) and a follower.
    // An election in the middle would append a no-op; then the comparison is meaningless, so run again.
    for (let round = 0; ; round++) {
      const l = await leader();
      const f = followerOf(l);
      const before = await status(l.id);
      for (const target of [l, f]) {
        for (const [name, path, init, code, error] of cases) {
          const a = await http(`${target.url}${path}`, init);
          expect(a.status, `${name} on ${target.id}: ${a.text.slice(0, 200)}`).toBe(code);
          expect(a.headers.get('Content-Type'), name).toMatch(/^application\/json/);
          expect(a.json?.error, name).toBe(error);
          expect(typeof a.json?.message, name).toBe('string');
        }
      }
      const wrongMethod = await http(`${l.url}/kv/k`, { method: 'PATCH' });
      expect(wrongMethod.headers.get('Allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PUT']);
      await sleep(3 * timing.heartbeatIntervalMs); // let anything wrongly appended show up in commitIndex
      const after = await status(l.id);
      if ((after.term !== before.term || after.role !== 'leader') && round < 3) continue;
      expect(after.term).toBe(before.term);
      expect(after.lastLogIndex).toBe(before.lastLogIndex);
      expect(after.commitIndex).toBe(before.commitIndex);
      break;
    }
    // And no key "k" was ever written by any of them.
    expect((await read(five.urls, 'k')).status).toBe(404);
  });

  it('authenticates peers: 401 without or with a wrong secret, 400 for a garbage body; a forged vote moves no term', async () => {
    const forgedVote = (to: string) =>
      JSON.stringify({
        messages: [
          { type: 'vote', from: 'n1', to, term: 1_000_000_000, pre: false, lastLogIndex: 1_000_000, lastLogTerm: 1_000_000_000, round: 0 },
        ],
      });
    for (let round = 0; ; round++) {
      const l = await leader();
      const targets = [l, followerOf(l)];
      const before = await Promise.all(targets.map((t) => status(t.id)));
      for (const t of targets) {
        const peer = `${t.url}/raft/messages`;
        const cases: [name: string, headers: Record<string, string>, body: string, code: number, error: string][] = [
          ['no Authorization', { 'Content-Type': 'application/json' }, forgedVote(t.id), 401, 'unauthorized'],
          ['wrong secret', { Authorization: 'Bearer not-the-secret-at-all' }, forgedVote(t.id), 401, 'unauthorized'],
          ['secret with another scheme', { Authorization: `Basic ${five.cluster.secret}` }, forgedVote(t.id), 401, 'unauthorized'],
          ['right secret, garbage body', { Authorization: `Bearer ${five.cluster.secret}` }, 'garbage{', 400, 'bad_request'],
          [
            'right secret, wrong shape',
            { Authorization: `Bearer ${five.cluster.secret}` },
            '{"messages":[{"type":"vote"}]}',
            400,
            'bad_request',
          ],
        ];
        for (const [name, headers, body, code, error] of cases) {
          const a = await http(peer, { method: 'POST', headers, body });
          expect(a.status, `${name} on ${t.id}: ${a.text.slice(0, 200)}`).toBe(code);
          expect(a.json?.error, name).toBe(error);
          if (code === 401) expect(a.headers.get('WWW-Authenticate')).toBe('Bearer');
        }
      }
      await sleep(3 * timing.heartbeatIntervalMs);
      const after = await Promise.all(targets.map((t) => status(t.id)));
      for (const s of after) expect(s.term).toBeLessThan(1_000_000_000);
      const moved = after.some((s, i) => s.term !== before[i]!.term || s.lastLogIndex !== before[i]!.lastLogIndex);
      if (moved && round < 3) continue; // an ordinary election happened meanwhile: try again
      expect(after.map((s) => s.term)).toEqual(before.map((s) => s.term));
      expect(after.map((s) => s.lastLogIndex)).toEqual(before.map((s) => s.lastLogIndex));
      break;
    }
  });
});
