// Shell lines and process arguments → commands and options. Table-driven.
import { describe, expect, it } from 'vitest';
import { parseLine, tokenize } from './parse';
import type { Command } from './parse';
import { defaultNodes, parseArgs } from './args';
import { errorLine, membersTable, showValue, statusTable } from './format';

const p8788 = 'http://127.0.0.1:8788';

describe('tokenize', () => {
  it.each<[string, string[]]>([
    ['set k v', ['set', 'k', 'v']],
    ['  set   k\tv  ', ['set', 'k', 'v']],
    ['set k "a b"', ['set', 'k', 'a b']],
    ["set k 'a b'", ['set', 'k', 'a b']],
    [`set k "say \\"hi\\""`, ['set', 'k', 'say "hi"']],
    [`set k 'back\\slash'`, ['set', 'k', 'back\\slash']],
    [`set k "it's"`, ['set', 'k', "it's"]],
    [`set k 'say "x"'`, ['set', 'k', 'say "x"']],
    ['set k a\\ b', ['set', 'k', 'a b']],
    ['set k ab"c d"e', ['set', 'k', 'abc de']],
    ['set k ""', ['set', 'k', '']],
    ['set k "line\\nbreak"', ['set', 'k', 'line\nbreak']],
    ['', []],
  ])('%s', (line, words) => {
    const t = tokenize(line);
    expect(t.ok && t.tokens.map((x) => x.text)).toEqual(words);
  });

  it('refuses unterminated quotes', () => {
    expect(tokenize('set k "a b')).toEqual({ ok: false, message: 'unterminated double quote' });
    expect(tokenize("set k 'a b")).toEqual({ ok: false, message: 'unterminated single quote' });
  });
});

describe('parseLine', () => {
  it.each<[string, Command]>([
    // The seed's forms, exactly.
    ['get a 8788 3', { type: 'get', key: 'a', node: p8788 }],
    ['set a 1 8788 3', { type: 'set', key: 'a', value: '1', node: p8788, serial: 3 }],
    ['delete a 8788 3', { type: 'delete', key: 'a', node: p8788, serial: 3 }],
    ['get a 8788', { type: 'get', key: 'a', node: p8788 }],
    ['set a 1 8788', { type: 'set', key: 'a', value: '1', node: p8788 }],
    ['delete a 8788', { type: 'delete', key: 'a', node: p8788 }],
    // Without PORT: the client finds the leader.
    ['get a', { type: 'get', key: 'a' }],
    ['set a "x y"', { type: 'set', key: 'a', value: 'x y' }],
    ['delete a', { type: 'delete', key: 'a' }],
    ['set a 1 - 9', { type: 'set', key: 'a', value: '1', serial: 9 }],
    ['set a 1 http://127.0.0.1:8788/ 9', { type: 'set', key: 'a', value: '1', node: p8788, serial: 9 }],
    ['SET a 1', { type: 'set', key: 'a', value: '1' }],
    ['del a', { type: 'delete', key: 'a' }],
    // cas: unquoted - and null mean absent; quoted they are strings.
    ['cas a - 1', { type: 'cas', key: 'a', expected: null, value: '1' }],
    ['cas a null 1', { type: 'cas', key: 'a', expected: null, value: '1' }],
    ['cas a "null" 1', { type: 'cas', key: 'a', expected: 'null', value: '1' }],
    ["cas a '-' 1", { type: 'cas', key: 'a', expected: '-', value: '1' }],
    ['cas a "old v" "new v" 8788 4', { type: 'cas', key: 'a', expected: 'old v', value: 'new v', node: p8788, serial: 4 }],
    ['status', { type: 'status' }],
    ['help', { type: 'help' }],
    ['exit', { type: 'exit' }],
    ['quit', { type: 'exit' }],
    ['', { type: 'empty' }],
    ['   # a comment', { type: 'empty' }],
  ])('%s', (line, command) => {
    expect(parseLine(line)).toEqual({ ok: true, command });
  });

  it.each<[string, RegExp]>([
    ['get', /usage: get KEY/],
    ['get a 8788 3 4', /usage: get KEY/],
    ['set a', /usage: set KEY VALUE/],
    ['cas a b', /usage: cas KEY EXPECTED VALUE/],
    ['set a 1 notaport', /PORT must be/],
    ['set a 1 70000', /PORT must be/],
    ['set a 1 8788 x', /REQUEST_ID must be a positive integer/],
    ['set a 1 8788 0', /REQUEST_ID must be a positive integer/],
    ['set "" 1', /KEY must not be empty/],
    ['status now', /takes no arguments/],
    ['frobnicate', /unknown command "frobnicate"/],
    ['set a "b', /unterminated/],
  ])('%s is refused', (line, message) => {
    const r = parseLine(line);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.message).toMatch(message);
  });
});

describe('parseArgs', () => {
  const words = (argv: string[]) => {
    const r = parseArgs(argv, {});
    return r.ok ? r.options.command.map((t) => t.text) : r.message;
  };

  it('defaults: the three local nodes, a shell', () => {
    expect(parseArgs([], {})).toEqual({ ok: true, options: { nodes: defaultNodes, json: false, help: false, command: [] } });
  });

  it('RAFT_KV_NODES, then --nodes', () => {
    const env = { RAFT_KV_NODES: 'http://h:1,http://h:2' };
    expect(parseArgs([], env)).toMatchObject({ ok: true, options: { nodes: ['http://h:1', 'http://h:2'] } });
    expect(parseArgs(['--nodes', '9001,9002'], env)).toMatchObject({ ok: true, options: { nodes: ['9001', '9002'] } });
    expect(parseArgs(['--nodes=http://x:1'], env)).toMatchObject({ ok: true, options: { nodes: ['http://x:1'] } });
  });

  it("the seed's `client CLIENT_ID`: a shell; the number is kept apart, never sent as the Client-Id", () => {
    const seed = parseArgs(['7'], {});
    expect(seed).toMatchObject({ ok: true, options: { seedClientId: '7', command: [] } });
    expect(seed.ok && seed.options.clientId).toBeUndefined();
    expect(parseArgs(['--client-id', 'session-4', '7'], {})).toMatchObject({ ok: false });
  });

  it('--client-id takes only a registered session id; --first-serial needs one', () => {
    for (const id of ['bob', '7', 'seed-7', 'session-0']) {
      expect(parseArgs(['--client-id', id], {})).toMatchObject({ ok: false, message: expect.stringMatching(/registered session id/) });
    }
    expect(parseArgs(['--first-serial', '5'], {})).toMatchObject({ ok: false, message: expect.stringMatching(/--client-id/) });
  });

  it('one-shot commands, flags anywhere, -- ends the flags', () => {
    expect(words(['set', 'k', 'a b'])).toEqual(['set', 'k', 'a b']);
    expect(words(['get', 'k', '--json'])).toEqual(['get', 'k']);
    expect(words(['--json', 'set', 'k', '--', '--v'])).toEqual(['set', 'k', '--v']);
    expect(parseArgs(['--json', 'status'], {})).toMatchObject({ ok: true, options: { json: true } });
    expect(parseArgs(['--client-id', 'session-31', '--timeout-ms', '500', '--first-serial', '100', 'get', 'k'], {})).toMatchObject({
      ok: true,
      options: { clientId: 'session-31', timeoutMs: 500, firstSerial: 100 },
    });
  });

  it.each([['--bogus'], ['--nodes'], ['--timeout-ms', 'soon'], ['--client-id', ''], ['--first-serial', '0']])(
    '%s is a usage error',
    (...argv) => {
      expect(parseArgs(argv, {}).ok).toBe(false);
    },
  );
});

describe('formatting', () => {
  it('values: plain as is, odd ones JSON-quoted, absent marked', () => {
    expect(showValue('abc')).toBe('abc');
    expect(showValue('a b')).toBe('"a b"');
    expect(showValue('')).toBe('""');
    expect(showValue(null)).toBe('(absent)');
  });

  it('error lines say what to do', () => {
    expect(errorLine({ type: 'timeout', message: 'set "k" failed', outcomeUnknown: true, serial: 5 })).toBe(
      'error (timeout): set "k" failed; outcome unknown: the write may have been applied. Retrying it with REQUEST_ID 5 is safe',
    );
    expect(errorLine({ type: 'timeout', message: 'set "k" failed', outcomeUnknown: true, serial: 5, clientId: 'session-9' })).toBe(
      'error (timeout): set "k" failed; outcome unknown: the write may have been applied. Retrying it with REQUEST_ID 5 is safe' +
        ' (after a restart: --client-id session-9)',
    );
    // A retry in a new session would be a new write, so it is not called safe.
    const expired = { type: 'session', code: 'session_expired', message: 'set "k": gone', serial: 5, clientId: 'session-9' } as const;
    expect(errorLine({ ...expired, outcomeUnknown: true })).toBe(
      'error (session): set "k": gone; outcome unknown: an earlier attempt may have been applied before the session expired;' +
        ' read the key before writing again. The next write registers a new session',
    );
    expect(errorLine({ ...expired, outcomeUnknown: false })).toBe(
      'error (session): set "k": gone; the write was not applied. The next write registers a new session',
    );
    expect(
      errorLine({
        type: 'not_leader',
        message: 'x is not the leader; the leader is http://127.0.0.1:8788',
        outcomeUnknown: false,
        leader: p8788,
      }),
    ).toBe('x is not the leader; the leader is http://127.0.0.1:8788 (send to PORT 8788, or leave PORT out)');
  });

  it('status table', () => {
    const lines = statusTable({
      leader: { id: 'n1', url: 'http://127.0.0.1:8787' },
      nodes: [
        {
          url: 'http://127.0.0.1:8787',
          reachable: true,
          status: {
            id: 'n1',
            url: 'http://127.0.0.1:8787',
            role: 'leader',
            term: 3,
            leader: { id: 'n1', url: 'http://127.0.0.1:8787' },
            commitIndex: 912,
            appliedIndex: 912,
            lastLogIndex: 912,
            lastLogTerm: 3,
            firstLogIndex: 801,
            snapshotIndex: 800,
            membership: { voters: [{ id: 'n1', url: 'http://127.0.0.1:8787' }], learners: [] },
            configIndex: 0,
            peers: [
              { id: 'n2', url: p8788, matchIndex: 912, nextIndex: 913, lastContactMs: 10, state: 'replicate' },
              { id: 'n3', url: 'http://127.0.0.1:8789', matchIndex: 0, nextIndex: 1, lastContactMs: null, state: 'snapshot' },
            ],
          },
        },
        {
          url: p8788,
          reachable: true,
          status: {
            id: 'n2',
            url: p8788,
            role: 'follower',
            term: 3,
            leader: { id: 'n1', url: 'http://127.0.0.1:8787' },
            commitIndex: 912,
            appliedIndex: 910,
            lastLogIndex: 912,
            lastLogTerm: 3,
            firstLogIndex: 851,
            snapshotIndex: 850,
            membership: { voters: [{ id: 'n1', url: 'http://127.0.0.1:8787' }], learners: [{ id: 'n2', url: p8788 }] },
            configIndex: 0,
            peers: [],
          },
        },
        { url: 'http://127.0.0.1:8789', reachable: false, error: 'connection refused' },
      ],
    });
    expect(lines).toEqual([
      'NODE  URL                    ROLE         MEMBER   TERM  COMMIT  APPLIED  SNAPSHOT  FIRST  LEADER  PEERS',
      'n1    http://127.0.0.1:8787  leader       voter    3     912     912      800       801    n1      n2:replicate n3:snapshot',
      'n2    http://127.0.0.1:8788  follower     learner  3     912     910      850       851    n1      -',
      '?     http://127.0.0.1:8789  unreachable  -        -     -       -        -         -      -       connection refused',
      'leader: n1 at http://127.0.0.1:8787',
    ]);
  });
});

describe('membership commands', () => {
  it.each<[string, Command]>([
    ['members', { type: 'members' }],
    ['add n4 http://127.0.0.1:8790', { type: 'add', id: 'n4', url: 'http://127.0.0.1:8790', role: 'learner' }],
    ['add n4 8790 --voter', { type: 'add', id: 'n4', url: 'http://127.0.0.1:8790', role: 'voter' }],
    ['add --voter n4 8790', { type: 'add', id: 'n4', url: 'http://127.0.0.1:8790', role: 'voter' }],
    ['promote n4', { type: 'promote', id: 'n4' }],
    ['remove n1', { type: 'remove', id: 'n1' }],
    ['transfer n5', { type: 'transfer', id: 'n5' }],
  ])('%s', (line, command) => {
    expect(parseLine(line)).toEqual({ ok: true, command });
  });

  it.each([
    ['members x', /usage: members/],
    ['add n4', /usage: add ID URL/],
    ['add n4 ftp://x', /URL must be/],
    ['add "n 4" 8790', /ID must be/],
    ['promote', /usage: promote ID/],
    ['transfer a b', /usage: transfer ID/],
  ])('refuses %s', (line, message) => {
    const r = parseLine(line);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });

  it('--voter and --admin-token on the command line', () => {
    const r = parseArgs(['add', 'n4', '8790', '--voter', '--admin-token', 'tok-12345'], {});
    expect(r.ok && r.options.command.map((t) => t.text)).toEqual(['add', 'n4', '8790', '--voter']);
    expect(r.ok && r.options.adminToken).toBe('tok-12345');
    const fromEnv = parseArgs(['members'], { RAFT_ADMIN_TOKEN: 'env-token' });
    expect(fromEnv.ok && fromEnv.options.adminToken).toBe('env-token');
  });

  it('members table marks the leader', () => {
    const lines = membersTable({
      leader: { id: 'n1', url: 'http://127.0.0.1:8787' },
      members: [
        { id: 'n1', url: 'http://127.0.0.1:8787', role: 'voter', matchIndex: 12 },
        { id: 'n4', url: 'http://127.0.0.1:8790', role: 'learner', matchIndex: null },
      ],
      configIndex: 9,
    });
    expect(lines).toEqual([
      'ID   URL                    ROLE     MATCH',
      'n1*  http://127.0.0.1:8787  voter    12',
      'n4   http://127.0.0.1:8790  learner  -',
      'leader: n1 (*); configuration at index 9',
    ]);
  });
});
