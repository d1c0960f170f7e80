import { beforeEach, describe, expect, it } from 'vitest';
import type { Message } from '../raft/messages';
import { FakeNode, TEST_SECRET, appWith } from './fake-node';

const base = 'http://127.0.0.1:8787';

const vote: Message = { type: 'vote', from: 'n2', to: 'n1', term: 4, pre: false, lastLogIndex: 10, lastLogTerm: 3, round: 0 };
const append: Message = {
  type: 'append',
  from: 'n2',
  to: 'n1',
  term: 4,
  leaderUrl: 'http://127.0.0.1:8788',
  prevLogIndex: 10,
  prevLogTerm: 3,
  entries: [
    { index: 11, term: 4, kind: 'noop', data: '' },
    { index: 12, term: 4, kind: 'command', data: '{"cmd":{"op":"delete","key":"k"}}' },
  ],
  commit: 10,
  round: 17,
};
const voteResp: Message = { type: 'voteResp', from: 'n1', to: 'n2', term: 4, pre: false, granted: true, round: 0 };
const appendResp: Message = {
  type: 'appendResp',
  from: 'n1',
  to: 'n2',
  term: 4,
  success: true,
  prevLogIndex: 10,
  matchIndex: 12,
  round: 17,
  lastIndex: 12,
  conflictTerm: 0,
  conflictIndex: 0,
};

let node: FakeNode;

beforeEach(() => {
  node = new FakeNode();
});

function post(body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${TEST_SECRET}` }, secret?: string) {
  return appWith(node, secret).request(`${base}/raft/messages`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

describe('POST /raft/messages', () => {
  it('delivers every message type and returns the replies', async () => {
    node.replies = [voteResp, appendResp];
    const res = await post({ messages: [vote, append, voteResp, appendResp] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ messages: [voteResp, appendResp] });
    expect(node.calls).toEqual([{ method: 'receive', messages: [vote, append, voteResp, appendResp] }]);
  });

  it('accepts an empty batch', async () => {
    const res = await post({ messages: [] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ messages: [] });
  });

  it('accepts the scheme in any case', async () => {
    const res = await post({ messages: [vote] }, { Authorization: `bearer ${TEST_SECRET}` });
    expect(res.status).toBe(200);
  });
});

describe('authentication', () => {
  const refused: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong secret', { Authorization: 'Bearer not-the-secret' }],
    ['the secret with a suffix', { Authorization: `Bearer ${TEST_SECRET}x` }],
    ['a prefix of the secret', { Authorization: `Bearer ${TEST_SECRET.slice(0, -1)}` }],
    ['another scheme', { Authorization: `Basic ${TEST_SECRET}` }],
    ['a bare secret', { Authorization: TEST_SECRET }],
    ['an empty bearer', { Authorization: 'Bearer ' }],
  ];

  it.each(refused)('%s → 401 JSON and nothing delivered', async (_, headers) => {
    const res = await post({ messages: [vote] }, headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    expect(node.calls).toEqual([]);
  });

  it('is checked before the body, so a stranger learns nothing from validation', async () => {
    const res = await post('not json', {});
    expect(res.status).toBe(401);
  });

  it('refuses all peer traffic with 503 when no secret is configured', async () => {
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer ' }, { Authorization: 'Bearer anything' }];
    for (const headers of attempts) {
      const res = await post({ messages: [vote] }, headers, '');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        error: 'cluster_secret_not_configured',
        message: expect.stringContaining('cluster secret not configured'),
      });
    }
    expect(node.calls).toEqual([]);
  });
});

describe('validation (authenticated)', () => {
  const bad: [string, unknown][] = [
    ['malformed JSON', '{"messages": ['],
    ['an empty body', ''],
    ['messages missing', {}],
    ['messages not an array', { messages: vote }],
    ['an unknown message type', { messages: [{ ...vote, type: 'snapshot' }] }],
    ['an extra field', { messages: [{ ...vote, extra: 1 }] }],
    ['an extra top-level field', { messages: [vote], from: 'n2' }],
    ['a missing field', { messages: [{ ...append, round: undefined }] }],
    ['a negative term', { messages: [{ ...vote, term: -1 }] }],
    ['a fractional index', { messages: [{ ...vote, lastLogIndex: 1.5 }] }],
    ['a term as a string', { messages: [{ ...vote, term: '4' }] }],
    ['an empty sender id', { messages: [{ ...vote, from: '' }] }],
    ['an entry of unknown kind', { messages: [{ ...append, entries: [{ index: 11, term: 4, kind: 'x', data: '' }] }] }],
    ['entry data not a string', { messages: [{ ...append, entries: [{ index: 11, term: 4, kind: 'noop', data: 1 }] }] }],
    ['one bad message among good ones', { messages: [vote, { ...voteResp, granted: 'yes' }] }],
    // Terms and indexes a node could store but never increment and send again (issue 20).
    ['an append in term 2^53-1', { messages: [{ ...append, term: 2 ** 53 - 1 }] }],
    ['a vote in term 2^50+1', { messages: [{ ...vote, term: 2 ** 50 + 1 }] }],
    ['an entry index past 2^50', { messages: [{ ...append, entries: [{ index: 2 ** 50 + 1, term: 4, kind: 'noop', data: '' }] }] }],
    ['a reply matchIndex past 2^50', { messages: [{ ...appendResp, matchIndex: 2 ** 50 + 1 }] }],
  ];

  it('accepts terms and indexes up to 2^50', async () => {
    const res = await post({ messages: [{ ...vote, term: 2 ** 50, lastLogIndex: 2 ** 50 }, { ...appendResp, matchIndex: 2 ** 50 }] });
    expect(res.status).toBe(200);
  });

  it.each(bad)('%s → 400 JSON and nothing delivered', async (_, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; message: string };
    expect(json.error).toBe('bad_request');
    expect(json.message.length).toBeGreaterThan(0);
    expect(node.calls).toEqual([]);
  });
});

describe('GET /raft/stream (a peer opening its WebSocket)', () => {
  const open = (headers: Record<string, string>, secret?: string) => appWith(node, secret).request(`${base}/raft/stream`, { headers });
  const auth = { Authorization: `Bearer ${TEST_SECRET}` };

  it('hands an authenticated upgrade to the node, which accepts the socket', async () => {
    const res = await open({ ...auth, Upgrade: 'websocket' });
    expect(res.status).toBe(200); // the double's stand-in for the node's 101
    expect(node.calls).toEqual([{ method: 'fetch', url: `${base}/raft/stream` }]);
  });

  it.each([
    ['no secret', { Upgrade: 'websocket' }, 401, 'unauthorized'],
    ['a wrong secret', { Upgrade: 'websocket', Authorization: 'Bearer nope' }, 401, 'unauthorized'],
    ['no upgrade', auth, 426, 'upgrade_required'],
    ['an upgrade to something else', { ...auth, Upgrade: 'h2c' }, 426, 'upgrade_required'],
  ])('refuses %s with %i, and the node never sees it', async (_, headers, status, error) => {
    const res = await open(headers);
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error });
    expect(node.calls).toEqual([]);
  });

  it('refuses with 503 when no secret is configured', async () => {
    const res = await open({ ...auth, Upgrade: 'websocket' }, '');
    expect(res.status).toBe(503);
    expect(node.calls).toEqual([]);
  });
});
