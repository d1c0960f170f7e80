// The hand-written peer message check must agree with the zod schema on every
// input: valid messages of each type, and each of them broken one field at a time.
import { describe, expect, it } from 'vitest';
import { isPeerRequest, peerRequestSchema } from './message-schemas';

const entry = { index: 4, term: 2, kind: 'command', data: '{"op":"set"}' };

const valid: Record<string, unknown>[] = [
  { type: 'vote', from: 'n1', to: 'n2', term: 3, pre: false, transfer: false, lastLogIndex: 9, lastLogTerm: 2, round: 0 },
  { type: 'voteResp', from: 'n2', to: 'n1', term: 3, pre: true, granted: true, round: 4 },
  {
    type: 'append',
    from: 'n1',
    to: 'n2',
    term: 3,
    leaderUrl: 'http://127.0.0.1:8787',
    prevLogIndex: 3,
    prevLogTerm: 2,
    entries: [entry, { ...entry, index: 5, kind: 'noop', data: '' }],
    commit: 3,
    round: 7,
  },
  { type: 'append', from: 'n1', to: 'n2', term: 0, leaderUrl: 'u', prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0, round: 0 },
  {
    type: 'appendResp',
    from: 'n2',
    to: 'n1',
    term: 3,
    success: false,
    prevLogIndex: 3,
    matchIndex: 0,
    round: 7,
    lastIndex: 2,
    conflictTerm: 1,
    conflictIndex: 2,
  },
  {
    type: 'snapshot',
    from: 'n1',
    to: 'n2',
    term: 3,
    leaderUrl: 'http://127.0.0.1:8787',
    index: 120,
    lastTerm: 2,
    chunk: 1,
    data: '{"kv":[]}',
    done: true,
    membership: { voters: [{ id: 'n1', url: 'http://127.0.0.1:8787' }], learners: [] },
  },
  { type: 'snapshotResp', from: 'n2', to: 'n1', term: 3, index: 120, lastTerm: 2, nextChunk: 0, installed: true, matchIndex: 120 },
];

const badValues: unknown[] = [undefined, null, -1, 1.5, 2 ** 50 + 1, 2 ** 53 - 1, 2 ** 53, '1', '', true, {}, [], 'other'];

/** Every message with one field removed, replaced by a bad value, or one unknown field added. */
function* broken(m: Record<string, unknown>): Generator<Record<string, unknown>> {
  for (const key of Object.keys(m)) {
    const { [key]: _dropped, ...rest } = m;
    yield rest;
    for (const v of badValues) yield { ...m, [key]: v };
  }
  yield { ...m, extra: 1 };
  if (Array.isArray(m.entries) && m.entries.length > 0) {
    for (const e of broken(entry)) yield { ...m, entries: [e] };
  }
}

function agree(body: unknown): void {
  expect({ body, fast: isPeerRequest(body) }).toEqual({ body, fast: peerRequestSchema.safeParse(body).success });
}

describe('isPeerRequest', () => {
  it('accepts every valid message, alone and together', () => {
    for (const m of valid) expect(isPeerRequest({ messages: [m] })).toBe(true);
    expect(isPeerRequest({ messages: valid })).toBe(true);
    expect(isPeerRequest({ messages: [] })).toBe(true);
  });

  it('agrees with the schema on each message broken one field at a time', () => {
    let cases = 0;
    for (const m of valid) {
      for (const b of broken(m)) {
        agree({ messages: [b] });
        agree({ messages: [valid[0], b] });
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(300);
  });

  it('agrees with the schema on malformed envelopes', () => {
    for (const body of [null, [], 'x', 3, {}, { messages: null }, { messages: {} }, { messages: [], more: 1 }, { messages: [null] }]) {
      agree(body);
    }
  });
});
