// Peer messages that are well-formed but that no correct leader sends are
// refused before they reach the node, on a POST (peer-routes.test.ts) and on a
// peer stream alike; these are the stream's frames.
import { describe, expect, it } from 'vitest';
import { parseFrame } from '../adapters/peer-stream-server';
import type { AppendRequest } from '../raft/messages';
import type { Entry } from '../raft/types';

const append = (entries: Entry[]): AppendRequest => ({
  type: 'append',
  from: 'n1',
  to: 'n2',
  term: 1,
  leaderUrl: 'http://n1:1',
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries,
  commit: 0,
  round: 1,
});
const noop = (index: number): Entry => ({ index, term: 1, kind: 'noop', data: '' });
const frame = (a: AppendRequest) => JSON.stringify({ seq: 2, messages: [a] });

describe('parseFrame refuses inconsistent messages as a POST would be refused', () => {
  it('entries with a repeat', () => {
    expect(parseFrame(frame(append([noop(1), noop(1)])))).toEqual({
      ok: false,
      inconsistent: true,
      message: 'append from n1: entry 1 has index 1; entries must be contiguous from prevLogIndex + 1 (2)',
    });
  });

  it('command data that is not a command, and an oversized entry', () => {
    expect(parseFrame(frame(append([{ index: 1, term: 1, kind: 'command', data: '{}' }])))).toMatchObject({
      ok: false,
      inconsistent: true,
    });
    const big = append([{ index: 1, term: 1, kind: 'noop', data: 'é'.repeat(600 * 1024) }]);
    expect(parseFrame(frame(big))).toEqual({
      ok: false,
      inconsistent: true,
      message: 'append from n1: entry 1 carries 1228800 bytes of data; the limit is 1048576',
    });
  });

  it('still accepts a consistent append', () => {
    const ok = append([noop(1), { index: 2, term: 1, kind: 'command', data: '{"cmd":{"op":"delete","key":"k"}}' }]);
    expect(parseFrame(frame(ok))).toEqual({ ok: true, seq: 2, messages: [ok] });
  });
});
