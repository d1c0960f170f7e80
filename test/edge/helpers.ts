// What the edge suites share: requests to the front (SELF, the edge Worker in
// this workerd), the cluster's own report of its members, member resets, and a
// recorder that turns client calls into the history the project's
// linearizability checker reads (test/sim/checkers/history.ts).
import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { RaftKvClient } from '../../client/client';
import type { Operation, KvOp, KvObserved } from '../sim/checkers/history';
import type { Prng } from '../sim/prng';

export const ADMIN_TOKEN = 'edge-test-admin-token';

export const baseOf = (cluster: string): string => `http://edge.test/c/${cluster}`;

/** fetch through the edge Worker's own entry. */
export const fetchSelf: typeof fetch = (input, init) => SELF.fetch(input as Request | string, init);

export interface MemberReport {
  id: string;
  role?: string;
  term?: number;
  leader?: string | null;
  commitIndex?: number;
  error?: string;
}

export async function membersOf(cluster: string): Promise<{ leader: string | null; members: MemberReport[] }> {
  const res = await fetchSelf(`${baseOf(cluster)}/edge/members`);
  expect(res.status).toBe(200);
  return res.json();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until a majority of the members name the same leader; fails the test after `timeoutMs`. */
export async function waitForLeader(cluster: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const report = await membersOf(cluster);
    const backing = report.members.filter((m) => m.leader === report.leader).length;
    if (report.leader !== null && backing > report.members.length / 2) return report.leader;
    last = JSON.stringify(report.members);
    await sleep(50);
  }
  throw new Error(`no leader in ${cluster} within ${timeoutMs} ms: ${last}`);
}

/** Resets a member's object (ctx.abort) through the front's admin route; `leader` resets whoever leads. */
export async function resetMember(cluster: string, who: string | 'leader'): Promise<string> {
  const path = who === 'leader' ? '/edge/leader/reset' : `/edge/members/${who}/reset`;
  let res: Response;
  let body: { reset?: string };
  for (let tries = 0; ; tries++) {
    res = await fetchSelf(`${baseOf(cluster)}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    body = (await res.json()) as { reset?: string };
    // Resetting "the leader" during an election waits for one.
    if (res.status !== 503 || tries >= 100) break;
    await sleep(50);
  }
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.reset!;
}

export function clientFor(cluster: string, rng: Prng): RaftKvClient {
  return new RaftKvClient({
    nodes: [baseOf(cluster)],
    fetch: fetchSelf,
    timeoutMs: 4000,
    attemptTimeoutMs: 1500,
    backoff: { initialMs: 10, maxMs: 100 },
    random: () => rng.float(),
  });
}

/**
 * Records operations with a logical clock: one tick per invocation and per
 * answer, in the order they happen in this (single-threaded) test. workerd's
 * Date.now() stands still between I/O, so wall-clock stamps would tie.
 */
export class Recorder {
  readonly history: Operation[] = [];
  private clock = 0;
  private nextId = 1;

  /** Runs one operation; returns what was observed (null: unknown outcome or no answer). */
  async run(client: RaftKvClient, name: string, key: string, op: KvOp): Promise<KvObserved | null> {
    const invoke = ++this.clock;
    const observed = await observe(client, key, op);
    const complete = ++this.clock;
    if (observed === 'failed') return null; // a definite failure: the operation took no effect
    const rec: Operation = {
      id: this.nextId++,
      client: name,
      key,
      op,
      invoke,
      complete: observed === null ? Infinity : complete,
      observed,
    };
    // A read with no answer says nothing; only writes of unknown outcome stay in the history.
    if (observed !== null || op.type !== 'get') this.history.push(rec);
    return observed;
  }
}

async function observe(client: RaftKvClient, key: string, op: KvOp): Promise<KvObserved | null | 'failed'> {
  switch (op.type) {
    case 'get': {
      const r = await client.get(key);
      return r.ok ? { type: 'get', value: r.value } : null;
    }
    case 'set': {
      const r = await client.set(key, op.value);
      return r.ok ? { type: 'set' } : r.error.outcomeUnknown ? null : 'failed';
    }
    case 'delete': {
      const r = await client.delete(key);
      return r.ok ? { type: 'delete' } : r.error.outcomeUnknown ? null : 'failed';
    }
    case 'cas': {
      const r = await client.cas(key, op.expected, op.value);
      if (r.ok) return r.swapped ? { type: 'cas', swapped: true, current: op.value } : { type: 'cas', swapped: false, current: r.current };
      return r.error.outcomeUnknown ? null : 'failed';
    }
  }
}
