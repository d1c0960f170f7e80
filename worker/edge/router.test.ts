// The edge front's routing (router.ts) against scripted members: which member
// each call reaches, what the cache learns, and what the client gets.
import { describe, expect, it } from 'vitest';
import { EdgeClusterApi, LeaderCache, type MemberApi } from './router';
import type { ReadOutcome, StatusReport, WriteOutcome } from '../node-api';
import type { KvRequest } from '../kv/commands';

type Script = (id: string, call: 'write' | 'read') => WriteOutcome | ReadOutcome | Error;

const member = (id: string) => ({ id, url: `http://edge.invalid/c/t/m/${id}` });

function cluster(script: Script, members = ['n1', 'n2', 'n3']) {
  const calls: string[] = [];
  const boots: string[] = [];
  const stub = (id: string): MemberApi => {
    const answer = async <T>(call: 'write' | 'read'): Promise<T> => {
      calls.push(`${call} ${id}`);
      const out = script(id, call);
      if (out instanceof Error) throw out;
      return out as T;
    };
    return {
      boot: async () => void boots.push(id),
      write: (_req: KvRequest) => answer<WriteOutcome>('write'),
      read: (_key: string) => answer<ReadOutcome>('read'),
      status: async () => ({ id, role: 'follower', leader: null, membership: { voters: [], learners: [] } }) as unknown as StatusReport,
      metrics: async () => [],
      view: async () => ({}) as never,
      changeMembership: async () => ({ type: 'timeout' }),
      transferLeadership: async () => ({ type: 'timeout' }),
    };
  };
  const cache = new LeaderCache();
  const api = () => new EdgeClusterApi({ cluster: 't', initialMembers: members, stub }, cache);
  return { api, cache, calls, boots };
}

const write: KvRequest = { cmd: { op: 'set', key: 'k', value: 'v' } };
const ok = { type: 'ok', result: { ok: true, op: 'set' } } as WriteOutcome;

describe('edge front routing', () => {
  it('follows a not-leader answer to the leader it names, inside the call, and remembers it', async () => {
    const c = cluster((id) => (id === 'n3' ? ok : { type: 'notLeader', leader: member('n3') }));
    expect(await c.api().write(write)).toEqual(ok);
    expect(c.calls).toEqual(['write n1', 'write n3']);
    expect(c.cache.leader).toBe('n3');
    // The next request, in another api object of the same isolate, goes straight there; each member is booted once.
    expect(await c.api().write(write)).toEqual(ok);
    expect(c.calls.slice(2)).toEqual(['write n3']);
    expect(c.boots).toEqual(['n1', 'n3']);
  });

  it('asks the other members when one knows no leader (cut off, or just restarted)', async () => {
    const c = cluster((id) =>
      id === 'n1' ? { type: 'notLeader', leader: null } : id === 'n2' ? { type: 'notLeader', leader: member('n3') } : ok,
    );
    expect(await c.api().write(write)).toEqual(ok);
    expect(c.calls).toEqual(['write n1', 'write n2', 'write n3']);
  });

  it('answers no_leader, never a leader to redirect to, when no member leads', async () => {
    // n1 and n2 name each other: a stale view during an election. Each member is asked once.
    const c = cluster((id) => ({ type: 'notLeader', leader: member(id === 'n1' ? 'n2' : 'n1') }));
    expect(await c.api().read('k')).toEqual({ type: 'notLeader', leader: null });
    expect(c.calls).toEqual(['read n1', 'read n2', 'read n3']);
    expect(c.cache.leader).toBeNull();
  });

  it('answers timeout for a write cut off mid-call (its outcome is unknown), and moves a read on', async () => {
    const c = cluster((id) => (id === 'n1' ? new Error('Network connection lost.') : { type: 'ok', value: 'v' }));
    expect(await c.api().write(write)).toEqual({ type: 'timeout' });
    expect(c.calls).toEqual(['write n1']);
    expect(await c.api().read('k')).toEqual({ type: 'ok', value: 'v' });
    expect(c.calls.slice(1)).toEqual(['read n1', 'read n2']);
    // The member that failed is booted again before its next call (it may be a fresh object).
    expect(c.boots.filter((b) => b === 'n1')).toHaveLength(2);
  });
});
