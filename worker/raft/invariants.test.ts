import { describe, expect, it } from 'vitest';
import { configFor } from '../../test/fixtures/raft-cluster';
import { logOf } from '../../test/fixtures/stored-log';
import { Core } from './core';
import { checkInvariants, InvariantError } from './invariants';
import { silentLogger } from './logger';
import { emptyReady } from './ready';
import type { Entry } from './types';

const entries: Entry[] = [1, 2, 3].map((index) => ({ index, term: 1, kind: 'command', data: `c${index}` }));

function core(): Core {
  const { log } = logOf(entries);
  return new Core(configFor(1, 3), log, { term: 1, vote: null, commit: 2 }, () => 0.5, silentLogger, 0);
}

describe('core invariants (checked at the end of every step)', () => {
  it('hold for a node loaded from a consistent log', () => {
    expect(() => checkInvariants(core(), emptyReady(10))).not.toThrow();
  });

  it('§5.3: commit never passes the last log index', () => {
    const c = core();
    c.commit = 4;
    expect(() => checkInvariants(c, emptyReady(10))).toThrow(InvariantError);
  });

  it('§5.4.2: nothing is handed out to apply past commit', () => {
    const c = core();
    c.handedOut = 3;
    expect(() => checkInvariants(c, emptyReady(10))).toThrow(/handed out 3 past commit 2/);
  });

  it("a leader's view of a follower never passes its own log", () => {
    const c = core();
    c.vote = c.id;
    c.becomeLeader(0);
    expect(() => checkInvariants(c, emptyReady(10))).not.toThrow();
    for (const pr of c.progress.values()) pr.match = 7;
    expect(() => checkInvariants(c, emptyReady(10))).toThrow(/match 7/);
  });

  it('a Ready hands out committed entries without gaps, ending at what was handed out', () => {
    const c = core();
    c.handedOut = 2;
    const out = emptyReady(10);
    out.committed = [entries[0]!, entries[2]!];
    expect(() => checkInvariants(c, out)).toThrow(/not contiguous/);
  });

  it('a read is released only at an index already handed out (thesis §6.4)', () => {
    const c = core();
    c.handedOut = 1;
    const out = emptyReady(10);
    out.reads = [{ ref: 1, index: 2 }];
    expect(() => checkInvariants(c, out)).toThrow(/read 1 released at 2/);
  });
});
