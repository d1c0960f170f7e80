/// <reference types="@cloudflare/vitest-pool-workers/types" />
// The structured logger and its throttle (worker/logging.ts).
import { describe, expect, it } from 'vitest';
import { LogThrottle, nodeLogger } from '../../worker/logging';

describe('logging', () => {
  it('writes JSON lines with the live term and role, and filters by level', () => {
    const lines: string[] = [];
    const ctx = { node: 'n1', term: 1, role: 'follower' as const };
    const context: { node: string; term: number; role: 'follower' | 'leader' } = ctx;
    const log = nodeLogger('info', context, (l) => lines.push(l));
    log.log('debug', 'hidden');
    log.log('info', 'hello', { peer: 'n2' });
    context.term = 2;
    context.role = 'leader';
    log.log('warn', 'again');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { level: 'info', msg: 'hello', node: 'n1', term: 1, role: 'follower', peer: 'n2' },
      { level: 'warn', msg: 'again', node: 'n1', term: 2, role: 'leader' },
    ]);
  });

  it('LogThrottle admits one line per key per interval', () => {
    const t = new LogThrottle(100);
    expect([t.admit('a', 0), t.admit('a', 50), t.admit('b', 50), t.admit('a', 99), t.admit('a', 100)]).toEqual([0, null, 0, null, 2]);
  });
});
