import { describe, expect, it } from 'vitest';
import { mayWriteAfterSending } from './held-writes';
import { emptyReady } from '../raft/ready';
import type { Ready } from '../raft/ready';
import type { Entry } from '../raft/types';

const entry = (index: number, term = 2): Entry => ({ index, term, kind: 'command', data: `c${index}` });
const ready = (over: Partial<Ready>): Ready => ({ ...emptyReady(0), ...over });

describe('mayWriteAfterSending', () => {
  it("holds back a leader's new entries when nothing else needs them stored first", () => {
    expect(mayWriteAfterSending(ready({ entries: [entry(5), entry(6)] }), 'leader', false)).toBe(true);
    // Older entries may commit in the same Ready: they were stored by an earlier one.
    expect(mayWriteAfterSending(ready({ entries: [entry(5)], committed: [entry(3), entry(4)] }), 'leader', false)).toBe(true);
    // The Ready that makes a node leader carries its no-op entry.
    const elected = ready({ entries: [entry(7)], softState: { role: 'leader', leader: { id: 'n1', url: 'http://a' } } });
    expect(mayWriteAfterSending(elected, 'candidate', false)).toBe(true);
  });

  it('writes at once when there is nothing to hold, or when holding could let something out early', () => {
    expect(mayWriteAfterSending(ready({}), 'leader', false)).toBe(false);
    // A follower acknowledges what it stores: its reply must wait for the write.
    expect(mayWriteAfterSending(ready({ entries: [entry(5)] }), 'follower', false)).toBe(false);
    // Stepping down in the same step.
    const down = ready({ entries: [entry(5)], softState: { role: 'follower', leader: null } });
    expect(mayWriteAfterSending(down, 'leader', false)).toBe(false);
    // A new term or vote must be durable before any message.
    expect(mayWriteAfterSending(ready({ entries: [entry(5)] }), 'leader', true)).toBe(false);
    // Without peers the new entries commit, and would be answered, in this very Ready.
    expect(mayWriteAfterSending(ready({ entries: [entry(5)], committed: [entry(5)] }), 'leader', false)).toBe(false);
  });
});
