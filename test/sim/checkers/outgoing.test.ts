import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../worker/raft/config';
import type { Message } from '../../../worker/raft/messages';
import type { Entry } from '../../../worker/raft/types';
import { checkOutgoing, type NodeDisk } from './outgoing';

const result = validateConfig({
  self: { id: 'n1', url: 'http://n1.sim' },
  peers: [{ id: 'n2', url: 'http://n2.sim' }],
  maxEntriesPerMessage: 2,
  maxBytesPerMessage: 10,
});
if (!result.ok) throw new Error(result.errors.join());
const cfg = result.config;
const entry = (index: number, data = 'x'): Entry => ({ index, term: 1, kind: 'command', data });
const disk = (term: number, vote: string | null, entries: Entry[] = []): NodeDisk => ({ hardState: { term, vote, commit: 0 }, entries });

const grant = (term: number): Message => ({ type: 'voteResp', from: 'n1', to: 'n2', term, pre: false, granted: true, round: 0 });
const ack = (matchIndex: number): Message => ({
  type: 'appendResp',
  from: 'n1',
  to: 'n2',
  term: 1,
  success: true,
  prevLogIndex: 0,
  matchIndex,
  round: 0,
  lastIndex: matchIndex,
  conflictTerm: 0,
  conflictIndex: 0,
});
const append = (entries: Entry[]): Message => ({
  type: 'append',
  from: 'n1',
  to: 'n2',
  term: 1,
  leaderUrl: 'http://n1.sim',
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries,
  commit: 0,
  round: 0,
});

describe('checkOutgoing', () => {
  it('accepts a vote that is already on disk', () => {
    expect(() => checkOutgoing(cfg, disk(3, 'n2'), grant(3), 0)).not.toThrow();
  });

  it('catches a vote granted before it was persisted', () => {
    expect(() => checkOutgoing(cfg, disk(3, null), grant(3), 0)).toThrow(/persisted/);
    expect(() => checkOutgoing(cfg, disk(2, 'n2'), grant(3), 0)).toThrow(/term/);
  });

  it('allows pre-votes to name a future term', () => {
    const pre: Message = {
      type: 'vote',
      from: 'n1',
      to: 'n2',
      term: 5,
      pre: true,
      transfer: false,
      lastLogIndex: 0,
      lastLogTerm: 0,
      round: 1,
    };
    expect(() => checkOutgoing(cfg, disk(4, null), pre, 0)).not.toThrow();
  });

  it('catches an acknowledgement of entries not on disk', () => {
    expect(() => checkOutgoing(cfg, disk(1, null, [entry(1)]), ack(1), 0)).not.toThrow();
    expect(() => checkOutgoing(cfg, disk(1, null, [entry(1)]), ack(2), 0)).toThrow(/on disk/);
  });

  it('enforces the batching limits, but always lets one entry through', () => {
    expect(() => checkOutgoing(cfg, disk(1, null), append([entry(1), entry(2), entry(3)]), 0)).toThrow(/entries/);
    expect(() => checkOutgoing(cfg, disk(1, null), append([entry(1, '123456'), entry(2, '123456')]), 0)).toThrow(/bytes/);
    expect(() => checkOutgoing(cfg, disk(1, null), append([entry(1, 'a very long single entry')]), 0)).not.toThrow();
  });
});
