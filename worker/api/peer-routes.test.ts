import { beforeEach, describe, expect, it } from 'vitest';
import type { Message } from '../raft/messages';
import { FakeNode, TEST_SECRET, appWith } from '../../test/doubles/fake-node';

const base = 'http://127.0.0.1:8787';

const vote: Message = {
  type: 'vote',
  from: 'n2',
  to: 'n1',
  term: 4,
  pre: false,
  transfer: false,
  lastLogIndex: 10,
  lastLogTerm: 3,
  round: 0,
};
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
    const res = await post({
      messages: [
        { ...vote, term: 2 ** 50, lastLogIndex: 2 ** 50 },
        { ...appendResp, matchIndex: 2 ** 50 },
      ],
    });
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

describe('consistency (well-formed, but no correct leader sends it)', () => {
  const cmd = (index: number, term = 4, data = '{"cmd":{"op":"set","key":"k","value":"v"}}') => ({
    index,
    term,
    kind: 'command' as const,
    data,
  });
  const refused: [string, Message, RegExp][] = [
    [
      'a duplicate entry',
      { ...append, entries: [cmd(11), cmd(11)] },
      /entry 1 has index 11; entries must be contiguous from prevLogIndex \+ 1 \(12\)/,
    ],
    ['a hole between entries', { ...append, entries: [cmd(11), cmd(13)] }, /entry 1 has index 13/],
    ['entries starting past prevLogIndex + 1', { ...append, entries: [cmd(12)] }, /entry 0 has index 12/],
    ['entries starting before prevLogIndex + 1', { ...append, entries: [cmd(10)] }, /entry 0 has index 10/],
    ['an entry from a later term than the message', { ...append, entries: [cmd(11, 5)] }, /entry 11 has term 5/],
    ['entry terms going back', { ...append, entries: [cmd(11, 4), cmd(12, 3)] }, /entry 12 has term 3/],
    ['an entry older than prevLogTerm', { ...append, entries: [cmd(11, 2)] }, /entry 11 has term 2/],
    ['prevLogTerm after the term', { ...append, prevLogTerm: 5, entries: [] }, /prevLogTerm 5 is after the term 4/],
    [
      'an entry over the size limit',
      { ...append, entries: [{ index: 11, term: 4, kind: 'noop', data: 'x'.repeat(1024 * 1024 + 1) }] },
      /carries 1048577 bytes of data; the limit is 1048576/,
    ],
    ['command data that is not JSON', { ...append, entries: [cmd(11, 4, 'not json')] }, /entry 11 is not a command/],
    [
      'command data that is not a command',
      { ...append, entries: [cmd(11, 4, '{"cmd":{"op":"drop","key":"k"}}')] },
      /entry 11 is not a command/,
    ],
    ['a vote whose last log term is after its term', { ...vote, lastLogTerm: 5 }, /lastLogTerm 5 is after the term 4/],
  ];

  it.each(refused)('%s → 400 naming the problem, nothing delivered', async (_, message, problem) => {
    const res = await post({ messages: [vote, message] });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; message: string };
    expect(json.error).toBe('bad_request');
    expect(json.message).toMatch(problem);
    expect(node.calls).toEqual([]);
  });

  it('accepts an entry of exactly the size limit, and config and noop entries whatever their data', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const entries = [
      { index: 11, term: 4, kind: 'noop' as const, data: big },
      { index: 12, term: 4, kind: 'config' as const, data: '{}' },
    ];
    const res = await post({ messages: [{ ...append, entries }] });
    expect(res.status).toBe(200);
  });

  it("answers a node's own failure with a 500 that does not echo its internals", async () => {
    node.receiveError = new Error('invariant: something internal in term 4');
    const res = await post({ messages: [append] });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: 'internal' });
    expect(text).not.toMatch(/invariant|term 4/);
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
