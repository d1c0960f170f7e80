// The CLI as a child process against a real 3-node cluster: the shell driven
// through stdin/stdout (the seed's command forms included), one-shot commands
// and their exit codes, --json, and the terminal shell under `script`.
// Most runs use the CLI bundled once with esbuild (plain `node`, fast start on
// a busy machine); one test goes through `npm run client` and tsx as users do.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../../launcher/start-cluster';
import type { Cluster } from '../../launcher/start-cluster';
import { closedPortUrl } from '../doubles/fake-http-node';

const root = resolve(__dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const home = mkdtempSync(join(tmpdir(), 'raft-kv-cli-'));
const bundled = join(home, 'cli.mjs');
const basePort = 18_830;
let cluster: Cluster;
let nodesFlag: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input = '', command: string[] = [process.execPath, bundled]): Promise<Run> {
  return new Promise((done, fail) => {
    const [bin, ...pre] = command;
    const child = spawn(bin ?? tsx, [...pre, ...args], {
      cwd: root,
      env: { ...process.env, RAFT_KV_NODES: nodesFlag, RAFT_KV_HISTORY: join(home, 'history') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

beforeAll(async () => {
  await build({
    entryPoints: [join(root, 'client/cli/cli.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundled,
    logLevel: 'silent',
  });
  cluster = await startCluster({ nodes: 3, basePort, electionTimeoutMs: 300, heartbeatIntervalMs: 50, requestTimeoutMs: 1000 });
  nodesFlag = cluster.members.map((m) => m.url).join(',');
  await cluster.waitForLeader();
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(home, { recursive: true, force: true });
});

async function ports(): Promise<{ leader: string; follower: string }> {
  const leader = await cluster.waitForLeader(15_000);
  const follower = cluster.members.find((m) => m.id !== leader.id);
  if (follower === undefined) throw new Error('no follower');
  return { leader: new URL(leader.url).port, follower: new URL(follower.url).port };
}

describe('shell over a pipe', () => {
  it("accepts the seed's commands, with and without PORT, and quoted values", async () => {
    const { leader, follower } = await ports();
    const script = [
      `set a 1 ${follower} 1`, // a follower: not followed, the leader is named
      `set a 1 ${leader} 1`,
      `get a ${leader} 2`,
      `set a 1 ${leader} 1`, // the same REQUEST_ID again: a retry, answered from the session
      `delete a ${leader} 3`,
      `get a ${leader}`,
      'set b "x y"',
      'get b',
      "cas b 'x y' z",
      'cas b nope q',
      'cas c - first',
      'get c',
      'delete b',
      'get b',
      'bogus',
      'set b "unterminated',
      'exit',
      'get c', // never runs
    ].join('\n');
    const r = await cli(['42'], `${script}\n`);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'ok',
      '1',
      'ok',
      'ok',
      '(not found)',
      'ok',
      'x y',
      'ok',
      'mismatch: current value is z',
      'ok',
      'first',
      'ok',
      '(not found)',
    ]);
    const [note, ...err] = lines(r.stderr);
    expect(note).toBe(
      'note: client id 42 is not sent: the cluster takes only session ids it hands out (docs/sessions.md), ' +
        'so this shell registers one on its first write',
    );
    expect(err[0]).toBe(
      `http://127.0.0.1:${follower} is not the leader; the leader is http://127.0.0.1:${leader} (send to PORT ${leader}, or leave PORT out)`,
    );
    expect(err.slice(1)).toEqual(['error: unknown command "bogus" (try help)', 'error: unterminated double quote']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a restarted shell continues its session with --client-id; reusing a serial there is told so', async () => {
    const leader = await cluster.waitForLeader(15_000);
    const reg = await fetch(`${leader.url}/sessions`, { method: 'POST' });
    const { clientId } = (await reg.json()) as { clientId: string };
    const first = await cli(['--client-id', clientId], 'set s one\n');
    expect(first.stdout).toBe('ok\n');
    const again = await cli(['--client-id', clientId], 'set s two\n');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/^error \(session\): set "s": serial_reused: .*use a new REQUEST_ID, or a higher --first-serial/);
    const continued = await cli(['--client-id', clientId, '--first-serial', '2'], 'set s two\nget s\n');
    expect(continued.stdout).toBe('ok\ntwo\n');
  });

  it('an id the cluster did not hand out is a usage error, before anything is sent', async () => {
    const r = await cli(['--client-id', 'bob', 'set', 'k', 'v'], '');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--client-id needs a registered session id/);
  });

  it('status prints a table of every node', async () => {
    await cluster.waitForLeader(15_000);
    const r = await cli([], 'status\n');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(5);
    expect(out[0]).toMatch(/^NODE\s+URL\s+ROLE\s+MEMBER\s+TERM\s+COMMIT\s+APPLIED\s+SNAPSHOT\s+FIRST\s+LEADER\s+PEERS$/);
    const rows = out.slice(1, 4).map((l) => l.split(/\s+/));
    expect(rows.map((cells) => cells[0]).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const cells of rows) {
      expect(cells[2]).toMatch(/^(leader|follower|candidate|precandidate)$/);
      expect(cells[3]).toBe('voter');
      expect(cells.slice(4, 9).every((n) => /^\d+$/.test(n))).toBe(true);
      // Only the leader lists its peers, each with its replication state.
      if (cells[2] === 'leader')
        expect(cells.slice(10)).toEqual([
          expect.stringMatching(/^n[123]:(probe|replicate|snapshot)$/),
          expect.stringMatching(/^n[123]:(probe|replicate|snapshot)$/),
        ]);
      else expect(cells.slice(10)).toEqual(['-']);
    }
    // The leader as the nodes saw it a moment ago (an election may be under way on a loaded machine).
    expect(out[4]).toMatch(/^leader: (n[123] at http:\/\/127\.0\.0\.1:\d+|none known)$/);
  });

  it('--json prints one object per result', async () => {
    const r = await cli(['--json'], 'set j "1 2"\nget j\ncas j 0 1\nget nothing-here\nget\n');
    expect(lines(r.stdout).map((l) => JSON.parse(l) as unknown)).toEqual([
      { ok: true, command: 'set', key: 'j' },
      { ok: true, command: 'get', key: 'j', value: '1 2' },
      { ok: true, command: 'cas', key: 'j', swapped: false, current: '1 2' },
      { ok: true, command: 'get', key: 'nothing-here', value: null },
      { ok: false, error: { type: 'usage', message: 'usage: get KEY [PORT [REQUEST_ID]]' } },
    ]);
  });
});

describe('one-shot commands and exit codes', () => {
  it('0 ok, 1 not found', async () => {
    const set = await cli(['set', 'one', 'two words']);
    expect([set.code, set.stdout]).toEqual([0, 'ok\n']);
    const get = await cli(['get', 'one']);
    expect([get.code, get.stdout]).toEqual([0, 'two words\n']);
    const missing = await cli(['get', 'never-set']);
    expect([missing.code, missing.stdout]).toEqual([1, '(not found)\n']);
  });

  it('1 for a cas mismatch, 0 for a swap (--json), 2 for usage errors', async () => {
    expect((await cli(['set', 'one', 'two words'])).code).toBe(0);
    const mismatch = await cli(['cas', 'one', 'other', 'x']);
    expect([mismatch.code, mismatch.stdout]).toEqual([1, 'mismatch: current value is "two words"\n']);
    const swapped = await cli(['--json', 'cas', 'one', 'two words', 'x']);
    expect(swapped.code).toBe(0);
    expect(JSON.parse(swapped.stdout)).toEqual({ ok: true, command: 'cas', key: 'one', swapped: true });
    const usage = await cli(['get']);
    expect([usage.code, usage.stderr]).toEqual([2, 'error: usage: get KEY [PORT [REQUEST_ID]]\n']);
    const badFlag = await cli(['--frob', 'get', 'k']);
    expect(badFlag.code).toBe(2);
  });

  it('3 when the cluster cannot be reached, one line, no stack trace', async () => {
    const r = await cli(['--nodes', await closedPortUrl(), '--timeout-ms', '3000', 'set', 'k', 'v']);
    expect(r.code).toBe(3);
    expect(lines(r.stderr)).toHaveLength(1);
    // The write waits for a session, so what fails is the registration; the line says so, with no
    // "outcome unknown": the write itself was never sent.
    expect(r.stderr).toMatch(
      /^error \(unavailable\): set "k": could not register a session: register a session failed after \d+ attempts? in \d+ ms: .*connection refused/,
    );
    expect(r.stderr).not.toContain('outcome unknown');
  });

  it('3 for a follower named by PORT, which reports the leader', async () => {
    const { leader, follower } = await ports();
    const r = await cli(['get', 'one', follower]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`the leader is http://127.0.0.1:${leader}`);
  });

  it('npm run client works as documented', async () => {
    const r = await cli(['get', 'one'], '', ['npm', 'run', '-s', 'client', '--']);
    expect([r.code, r.stdout]).toEqual([0, 'x\n']);
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe.runIf(hasScript)('shell on a terminal (under script(1))', () => {
  it('shows the prompt, runs commands and keeps history', async () => {
    const cmd = `${process.execPath} ${bundled}`;
    // Type slowly, as a person would: each line after the previous answer.
    const input = ['set t "tty value"', 'get t', 'exit'];
    const r = await new Promise<Run>((done, fail) => {
      const child = spawn('script', ['-qec', cmd, '/dev/null'], {
        cwd: root,
        env: { ...process.env, RAFT_KV_NODES: nodesFlag, RAFT_KV_HISTORY: join(home, 'tty-history') },
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', fail);
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr: '' });
      });
      let sent = 0;
      const poll = setInterval(() => {
        const prompts = stdout.split('raft-kv> ').length - 1;
        if (prompts > sent && sent < input.length) child.stdin.write(`${input[sent++]}\r`);
        if (sent === input.length) clearInterval(poll);
      }, 50);
      child.on('close', () => clearInterval(poll));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('raft-kv shell: client id (registered on the first write)');
    expect(r.stdout).toContain('raft-kv> ');
    expect(r.stdout).toMatch(/\r?\nok\r?\n/);
    expect(r.stdout).toMatch(/\r?\ntty value\r?\n/);
    expect(readFileSync(join(home, 'tty-history'), 'utf8')).toBe('set t "tty value"\nget t\nexit\n');
  });
});
