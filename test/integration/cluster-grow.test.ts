// Growing and shrinking a running `npm start` cluster with commands typed on
// its standard input (issue 17): add a node (it starts with --join, is added
// as a learner and promoted), remove an original one (it is removed from the
// configuration, then stopped); the next `npm start` on the same data runs the
// nodes that are members now. Ports 19830-19833.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { tsxScriptCommand, waitGroupGone } from '../../launcher/process';
import { RaftKvClient } from '../../client/client';

const basePort = 19_830;
const url = (i: number) => `http://127.0.0.1:${basePort + i - 1}`;

function launch(dataDir: string) {
  const { command, prefixArgs } = tsxScriptCommand('launcher/cluster.ts');
  const args = ['--base-port', String(basePort), '--data', dataDir, '--election-timeout-ms', '300', '--heartbeat-interval-ms', '60'];
  const child = spawn(command, [...prefixArgs, ...args, '--log-level', 'warn'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  for (const s of [child.stdout!, child.stderr!]) createInterface({ input: s }).on('line', (l) => lines.push(l));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, timeoutMs: number, from = 0): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = lines.slice(from).find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no line matching ${re} within ${timeoutMs} ms:\n${lines.join('\n')}`);
  };
  const type = (line: string): number => {
    const from = lines.length;
    child.stdin!.write(`${line}\n`);
    return from;
  };
  return { child, lines, exit, waitFor, type };
}

describe('npm start: typed add/remove grow and shrink the running cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-kv-grow-'));
  const started: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of started) {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await waitGroupGone(c.pid!, 5000);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds n4 as a voter, removes n1, and a restart runs n2, n3, n4', async () => {
    const run = launch(dir);
    started.push(run.child);
    await run.waitFor(/^leader: n\d /, 90_000);
    const secret = readFileSync(join(dir, 'cluster-secret'), 'utf8').trim();
    const client = new RaftKvClient({ nodes: [1, 2, 3, 4].map(url), adminToken: secret, timeoutMs: 10_000 });
    expect((await client.set('before', 'grow')).ok).toBe(true);

    let from = run.type('add');
    await run.waitFor(/^n4 is a voter$/, 90_000, from);
    from = run.type('remove n1');
    await run.waitFor(/^n1 removed from the cluster and stopped/, 30_000, from);
    from = run.type('frobnicate');
    await run.waitFor(/^unknown command "frobnicate"/, 5_000, from);

    const members = await client.members();
    // The order of GET /cluster's members is not part of its contract (it depends on which node answers).
    expect(members.ok && members.members.map((m) => `${m.id}:${m.role}:${m.url}`).sort()).toEqual([
      `n2:voter:${url(2)}`,
      `n3:voter:${url(3)}`,
      `n4:voter:${url(4)}`,
    ]);
    await expect(fetch(`${url(1)}/status`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow(); // n1's node is stopped
    expect(JSON.parse(readFileSync(join(dir, 'cluster-nodes.json'), 'utf8'))).toEqual({
      nodes: [
        { id: 'n2', port: basePort + 1, joined: false },
        { id: 'n3', port: basePort + 2, joined: false },
        { id: 'n4', port: basePort + 3, joined: true },
      ],
      used: ['n1', 'n2', 'n3', 'n4'],
    });
    expect((await client.set('after', 'grow')).ok).toBe(true);

    process.kill(-run.child.pid!, 'SIGINT');
    expect(await run.exit).toBe(0);

    // Started again on the same data: the nodes of the list, not n1..n3.
    const again = launch(dir);
    started.push(again.child);
    await again.waitFor(/^all nodes up in/, 90_000);
    expect(again.lines.filter((l) => /^node n\d+ http/.test(l))).toEqual([`node n2 ${url(2)}`, `node n3 ${url(3)}`, `node n4 ${url(4)}`]);
    await again.waitFor(/^leader: n[234] /, 30_000);
    // n4, started with --join this time too, serves from the configuration stored in its log.
    const onN4 = await client.get('after', { node: url(4) });
    expect(onN4.ok && onN4.value).toBe('grow');
    process.kill(-again.child.pid!, 'SIGINT');
    expect(await again.exit).toBe(0);
  }, 300_000);
});
