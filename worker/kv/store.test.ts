import { describe, expect, it } from 'vitest';
import { KvStateMachine } from './store';
import { encodeCommand, encodeRequest } from './commands';
import { fingerprint } from './sessions';
import type { KvCommand, KvRequest } from './commands';
import type { Entry } from '../raft/types';

/** Feeds requests to a machine as consecutive log entries, the way the host applies them. */
function feeder(machine = new KvStateMachine(), lastIndex = 0) {
  let index = lastIndex;
  const entry = (kind: Entry['kind'], data = ''): Entry => ({ index: ++index, term: 1, kind, data });
  return {
    machine,
    req: (req: KvRequest) => machine.apply(entry('command', encodeRequest(req))),
    cmd: (cmd: KvCommand) => machine.apply(entry('command', encodeRequest({ cmd }))),
    as: (clientId: string, serial: number, cmd: KvCommand) =>
      machine.apply(entry('command', encodeRequest({ cmd, session: { clientId, serial } }))),
    other: (kind: 'noop' | 'config', data = '') => machine.apply(entry(kind, data)),
  };
}

const set = (key: string, value: string): KvCommand => ({ op: 'set', key, value });
const del = (key: string): KvCommand => ({ op: 'delete', key });
const cas = (key: string, expected: string | null, value: string): KvCommand => ({ op: 'cas', key, expected, value });

describe('commands', () => {
  it('set, get, delete', () => {
    const f = feeder();
    expect(f.machine.get('k')).toBeNull();
    expect(f.cmd(set('k', 'a'))).toEqual({ ok: true, op: 'set' });
    expect(f.cmd(set('k', 'b'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('b');
    expect(f.machine.size()).toBe(1);
    expect(f.cmd(del('k'))).toEqual({ ok: true, op: 'delete', existed: true });
    expect(f.cmd(del('k'))).toEqual({ ok: true, op: 'delete', existed: false });
    expect(f.machine.get('k')).toBeNull();
    expect(f.machine.size()).toBe(0);
  });

  it('an empty string is a value, not absence', () => {
    const f = feeder();
    f.cmd(set('k', ''));
    expect(f.machine.get('k')).toBe('');
    expect(f.cmd(cas('k', null, 'x'))).toEqual({ ok: true, op: 'cas', swapped: false, current: '' });
  });

  it('cas with expected null swaps only when the key is absent', () => {
    const f = feeder();
    expect(f.cmd(cas('k', null, 'a'))).toEqual({ ok: true, op: 'cas', swapped: true, current: 'a' });
    expect(f.machine.get('k')).toBe('a');
    expect(f.cmd(cas('k', null, 'b'))).toEqual({ ok: true, op: 'cas', swapped: false, current: 'a' });
    expect(f.machine.get('k')).toBe('a');
  });

  it('cas with a value swaps on a match and reports the current value on a mismatch', () => {
    const f = feeder();
    expect(f.cmd(cas('k', 'a', 'b'))).toEqual({ ok: true, op: 'cas', swapped: false, current: null });
    expect(f.machine.get('k')).toBeNull();
    f.cmd(set('k', 'a'));
    expect(f.cmd(cas('k', 'x', 'b'))).toEqual({ ok: true, op: 'cas', swapped: false, current: 'a' });
    expect(f.cmd(cas('k', 'a', 'b'))).toEqual({ ok: true, op: 'cas', swapped: true, current: 'b' });
    expect(f.machine.get('k')).toBe('b');
  });

  it('noop and config entries return null and change nothing', () => {
    const f = feeder();
    f.cmd(set('k', 'a'));
    const before = f.machine.snapshot();
    expect(f.other('noop')).toBeNull();
    expect(f.other('config', '{"members":[]}')).toBeNull();
    expect(f.machine.snapshot()).toBe(before);
  });

  it('throws on a command entry that is not a valid request (a bug upstream)', () => {
    const m = new KvStateMachine();
    expect(() => m.apply({ index: 1, term: 1, kind: 'command', data: 'garbage' })).toThrow(/invalid kv request/);
  });

  it('requests without a session are applied every time', () => {
    const f = feeder();
    f.cmd(cas('n', null, '1'));
    f.cmd(del('n'));
    expect(f.cmd(cas('n', null, '1'))).toMatchObject({ swapped: true });
    expect(f.machine.sessionCount()).toBe(0);
  });
});

describe('sessions (thesis §6.3)', () => {
  it('a retry returns the saved result without applying again', () => {
    const f = feeder();
    expect(f.as('c', 1, set('k', 'a'))).toEqual({ ok: true, op: 'set' });
    f.as('c', 2, set('k', 'b'));
    expect(f.as('c', 1, set('k', 'a'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('b');
  });

  it('a retried cas returns its original outcome, not a fresh evaluation', () => {
    const f = feeder();
    expect(f.as('c', 1, cas('k', null, 'a'))).toEqual({ ok: true, op: 'cas', swapped: true, current: 'a' });
    // Evaluated again it would fail; the saved success is what the client must see.
    expect(f.as('c', 1, cas('k', null, 'a'))).toEqual({ ok: true, op: 'cas', swapped: true, current: 'a' });
    f.as('c', 2, del('k'));
    expect(f.as('c', 2, del('k'))).toEqual({ ok: true, op: 'delete', existed: true });
  });

  it('a request whose entry carries the digest is applied with it, the same as one hashed when applied', () => {
    const f = feeder();
    const digest = fingerprint(encodeCommand(set('k', 'a')));
    expect(f.req({ cmd: set('k', 'a'), session: { clientId: 'c', serial: 1 }, digest })).toEqual({ ok: true, op: 'set' });
    // A retry without the digest is hashed here: same digest, so a retry.
    expect(f.as('c', 1, set('k', 'a'))).toEqual({ ok: true, op: 'set' });
    expect(f.as('c', 1, set('k', 'z'))).toMatchObject({ ok: false, error: 'serial_reused' });
    // The carried digest is what counts: nothing hashes the command again (here it names another command).
    f.req({ cmd: set('k', 'b'), session: { clientId: 'c', serial: 2 }, digest: fingerprint(encodeCommand(set('k', 'other'))) });
    expect(f.as('c', 2, set('k', 'other'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('b');
  });

  it('a reused serial with a different command is refused, not silently dropped', () => {
    const f = feeder();
    f.as('c', 1, set('k', 'a'));
    const r = f.as('c', 1, set('k', 'z'));
    expect(r).toMatchObject({ ok: false, error: 'serial_reused' });
    expect(r?.ok === false && r.message).toContain('"c"');
    expect(f.machine.get('k')).toBe('a');
  });

  it('a serial at or below highest - 64 is refused as stale', () => {
    const f = feeder();
    f.as('c', 1, set('k', '1'));
    f.as('c', 65, set('k', '65'));
    expect(f.as('c', 1, set('k', '1'))).toMatchObject({ ok: false, error: 'stale_serial' });
    expect(f.as('c', 1, set('k', 'x'))).toMatchObject({ ok: false, error: 'stale_serial' });
    expect(f.machine.get('k')).toBe('65');
    expect(f.as('c', 2, set('k', '2'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('2');
  });

  it('serials inside the window may commit out of order, and each is then remembered', () => {
    const f = feeder();
    f.as('c', 8, set('a', '8'));
    f.as('c', 7, set('b', '7'));
    expect(f.machine.get('b')).toBe('7');
    f.as('c', 9, set('b', '9'));
    expect(f.as('c', 7, set('b', '7'))).toEqual({ ok: true, op: 'set' }); // retry of 7: not re-applied
    expect(f.machine.get('b')).toBe('9');
  });

  it('sessions are per client', () => {
    const f = feeder();
    f.as('c1', 1, set('k', 'a'));
    expect(f.as('c2', 1, set('k', 'b'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('b');
    expect(f.machine.sessionCount()).toBe(2);
  });

  it('evicts the least recently used session when full', () => {
    const f = feeder(new KvStateMachine({ sessionLimits: { maxSessions: 2 } }));
    f.as('a', 1, set('x', 'a1'));
    f.as('b', 1, set('x', 'b1'));
    f.as('a', 2, set('y', 'a2')); // a is now more recent than b
    f.as('c', 1, set('x', 'c1')); // evicts b
    expect(f.machine.sessionCount()).toBe(2);
    f.as('a', 1, set('x', 'a1')); // a is remembered: a retry, not applied
    expect(f.machine.get('x')).toBe('c1');
    f.as('b', 1, set('x', 'b1')); // b was evicted: treated as a new session and applied again
    expect(f.machine.get('x')).toBe('b1');
  });
});

describe('determinism and snapshots', () => {
  /** A fixed pseudo-random workload: many clients, retries, reuses, out-of-order serials, evictions. */
  function workload(seed: number, count: number): KvRequest[] {
    let s = seed >>> 0;
    const next = (n: number) => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s >>> 16) % n; // the low bits of an LCG cycle quickly; use the high ones
    };
    const out: KvRequest[] = [];
    const serials = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const key = `k${next(20)}`;
      const cmds: KvCommand[] = [set(key, `v${i}`), del(key), cas(key, next(2) ? null : `v${next(i + 1)}`, `v${i}`)];
      const cmd = cmds[next(3)] as KvCommand;
      if (next(8) === 0) {
        out.push({ cmd });
        continue;
      }
      const clientId = `client-${next(40)}`;
      const highest = serials.get(clientId) ?? 0;
      // Mostly new, sometimes a repeat or an older serial, now and then one far behind.
      const serial = Math.max(1, next(16) === 0 ? highest - 10 : highest + next(4) - 1);
      serials.set(clientId, Math.max(highest, serial));
      out.push({ cmd, session: { clientId, serial } });
    }
    return out;
  }

  const feedAll = (f: ReturnType<typeof feeder>, reqs: KvRequest[]) => reqs.map((r) => f.req(r));
  const small = { sessionLimits: { maxSessions: 16, window: 8 } };

  it('two machines fed the same entries have equal results and snapshots, with evictions', () => {
    const reqs = workload(42, 3000);
    const a = feeder(new KvStateMachine(small));
    const b = feeder(new KvStateMachine(small));
    const resultsA = feedAll(a, reqs);
    expect(feedAll(b, reqs)).toEqual(resultsA);
    expect(b.machine.snapshot()).toBe(a.machine.snapshot());
    expect(a.machine.sessionCount()).toBe(16); // the table filled up, so eviction happened
    // The workload exercises every session outcome, not just the happy path.
    const errors = new Set(resultsA.map((r) => (r?.ok === false ? r.error : 'ok')));
    expect([...errors].sort()).toEqual(['ok', 'serial_reused', 'stale_serial']);
  });

  it('restore(snapshot()) gives a machine that behaves identically from then on', () => {
    const reqs = workload(7, 2000);
    const original = feeder(new KvStateMachine(small));
    feedAll(original, reqs.slice(0, 1000));
    const restored = feeder(new KvStateMachine(small), 1000); // continues at the same log index
    restored.machine.restore(original.machine.snapshot());
    expect(restored.machine.snapshot()).toBe(original.machine.snapshot());
    // Continuing both shows the hidden state (saved results, LRU order) came across too.
    const rest = reqs.slice(1000);
    expect(feedAll(restored, rest)).toEqual(feedAll(original, rest));
    expect(restored.machine.snapshot()).toBe(original.machine.snapshot());
  });

  it('restore replaces any previous state', () => {
    const empty = new KvStateMachine().snapshot();
    const f = feeder();
    f.as('c', 1, set('k', 'a'));
    f.machine.restore(empty);
    expect(f.machine.get('k')).toBeNull();
    expect(f.machine.sessionCount()).toBe(0);
    expect(f.as('c', 1, set('k', 'b'))).toEqual({ ok: true, op: 'set' });
    expect(f.machine.get('k')).toBe('b');
  });

  it('restore throws on a malformed snapshot and keeps the old state', () => {
    const f = feeder();
    f.cmd(set('k', 'a'));
    const v = (JSON.parse(f.machine.snapshot().split('\n')[0]!) as { version: number }).version;
    const head = (keys: number, sessions = 0) => `{"version":${v},"keys":${keys},"sessions":${sessions}}\n`;
    const bad = [
      'nope',
      `{"version":${v + 1},"keys":0,"sessions":0}\n`,
      `{"version":${v - 1},"keys":0,"sessions":0}\n`,
      `{"version":${v},"keys":-1,"sessions":0}\n`,
      `${head(1)}["k",1]\n`,
      `${head(2)}["k","a"]\n["k","b"]\n`, // repeated
      `${head(2)}["b","a"]\n["a","b"]\n`, // out of order
      `${head(2)}["a","a"]\n`, // fewer than counted
      `${head(0)}["a","a"]\n`, // more than counted
      `${head(1)}["a","a"]`, // no final newline: cut short
      `${head(0, 1)}["c",1,5,"x"]\n`,
      `${head(0, 2)}["c",1,5,[]]\n["d",1,5,[]]\n`, // not in recency order
    ];
    for (const s of bad) expect(() => f.machine.restore(s), s).toThrow(/invalid kv snapshot/);
    expect(f.machine.get('k')).toBe('a');
  });

  it('keys are in code point order (UTF-8 byte order, as SQLite sorts), not UTF-16 order', () => {
    const f = feeder();
    for (const k of ['\u{1F600}', '\uFF21', 'b', 'a', '']) f.cmd(set(k, k));
    const keys = f.machine
      .snapshot()
      .split('\n')
      .slice(1, 6)
      .map((l) => (JSON.parse(l) as string[])[0]);
    expect(keys).toEqual(['', 'a', 'b', '\uFF21', '\u{1F600}']);
    const copy = new KvStateMachine();
    copy.restore(f.machine.snapshot());
    expect(copy.snapshot()).toBe(f.machine.snapshot());
  });

  it('a snapshot with more sessions than this machine allows is refused', () => {
    const f = feeder();
    f.as('a', 1, set('k', 'a'));
    f.as('b', 1, set('k', 'b'));
    const tight = new KvStateMachine({ sessionLimits: { maxSessions: 1 } });
    expect(() => tight.restore(f.machine.snapshot())).toThrow(/limit/);
  });
});

describe('registered sessions (thesis §6.3: a register entry whose index names the session)', () => {
  const setK = (value: string): KvCommand => ({ op: 'set', key: 'k', value });

  it('a register entry opens "session-<index>", and its requests are exactly-once', () => {
    const f = feeder();
    f.cmd(setK('x')); // index 1
    const reg = f.req({ register: true }); // index 2
    expect(reg).toEqual({ ok: true, op: 'register', clientId: 'session-2' });
    expect(f.as('session-2', 1, setK('a'))).toEqual({ ok: true, op: 'set' });
    f.cmd(setK('b'));
    expect(f.as('session-2', 1, setK('a'))).toEqual({ ok: true, op: 'set' }); // a retry: not applied again
    expect(f.machine.get('k')).toBe('b');
  });

  it('a request of a registered session the machine does not hold is refused and never applied', () => {
    const f = feeder();
    f.req({ register: true }); // session-1
    expect(f.as('session-7', 1, setK('a'))).toMatchObject({ ok: false, error: 'session_expired' });
    expect(f.machine.get('k')).toBeNull();
    expect(f.machine.sessionCount()).toBe(1); // the refusal opened nothing
  });

  it('after eviction, a retry of an applied write is refused, not applied a second time', () => {
    const f = feeder(new KvStateMachine({ sessionLimits: { maxSessions: 2 } }));
    const { clientId } = f.req({ register: true }) as { clientId: string };
    expect(f.as(clientId, 1, { op: 'delete', key: 'k' })).toMatchObject({ ok: true, existed: false });
    f.cmd(setK('written after the delete'));
    f.req({ register: true });
    f.req({ register: true }); // evicts the first session, the least recently used
    const retry = f.as(clientId, 1, { op: 'delete', key: 'k' });
    expect(retry).toMatchObject({ ok: false, error: 'session_expired' });
    expect(f.machine.get('k')).toBe('written after the delete');
  });

  it('named sessions keep working as before, side by side with registered ones', () => {
    const f = feeder();
    f.req({ register: true });
    expect(f.as('alice', 5, setK('a'))).toEqual({ ok: true, op: 'set' });
    expect(f.as('alice', 5, setK('b'))).toMatchObject({ ok: false, error: 'serial_reused' });
  });

  it('snapshots keep registered sessions, including one that has applied nothing yet', () => {
    const f = feeder();
    f.req({ register: true }); // session-1, no request yet
    f.req({ register: true }); // session-2
    f.as('session-2', 1, setK('a'));
    const copy = new KvStateMachine();
    copy.restore(f.machine.snapshot());
    expect(copy.snapshot()).toBe(f.machine.snapshot());
    const g = feeder(copy, 3);
    expect(g.as('session-1', 1, setK('b'))).toEqual({ ok: true, op: 'set' });
    expect(g.as('session-2', 1, setK('a'))).toEqual({ ok: true, op: 'set' });
    expect(copy.get('k')).toBe('b');
  });

  it('replicas given the same entries give the same results and snapshots', () => {
    const run = () => {
      const f = feeder(new KvStateMachine({ sessionLimits: { maxSessions: 3, window: 4 } }));
      const out: unknown[] = [];
      for (let i = 0; i < 40; i++) {
        if (i % 5 === 0) out.push(f.req({ register: true }));
        else out.push(f.as(`session-${1 + 5 * ((i * 7) % 9)}`, 1 + (i % 6), setK(`v${i % 3}`)));
      }
      return { out, snapshot: f.machine.snapshot() };
    };
    expect(run()).toEqual(run());
  });

  it('decodeRequest refuses a register request with other fields', () => {
    const f = feeder();
    const entry = { index: 1, term: 1, kind: 'command' as const, data: '{"register":true,"cmd":{"op":"delete","key":"k"}}' };
    expect(() => f.machine.apply(entry)).toThrow(/register/);
  });
});
