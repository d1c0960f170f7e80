// `npm start` (launcher/cluster.ts) as a user runs it: prints the nodes and the
// leader, keeps data and secret across restarts, and Ctrl-C / SIGTERM leave
// no process behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launcherCommand, waitGroupGone } from '../../launcher/process';
import { processGroupMembers } from '../../launcher/procfs';

const basePort = 18_730;

interface Run {
  child: ChildProcess;
  lines: string[];
  exit: Promise<number | null>;
  /** Resolves with the first line matching re (rejects after timeoutMs). */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
}

function startClusterCommand(dataDir: string): Run {
  const { command, prefixArgs } = launcherCommand('cluster');
  const args = [
    '--base-port',
    String(basePort),
    '--data',
    dataDir,
    '--election-timeout-ms',
    '150',
    '--heartbeat-interval-ms',
    '30',
    '--log-level',
    'warn',
  ];
  const child = spawn(command, [...prefixArgs, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  for (const s of [child.stdout, child.stderr]) {
    createInterface({ input: s }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.filter((x) => x.re.test(line))) w.resolve(line);
    });
  }
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    exit,
    waitFor: (re, timeoutMs) =>
      new Promise<string>((resolve, reject) => {
        const seen = lines.find((l) => re.test(l));
        if (seen) return resolve(seen);
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} in ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exit.then((code) => reject(new Error(`exited (${code}) before ${re}:\n${lines.join('\n')}`)));
      }),
  };
}

describe('npm start (launcher/cluster.ts)', () => {
  let dir: string;
  const started: ChildProcess[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'raft-kv-start-'));
  });

  afterAll(async () => {
    for (const c of started) {
      if (!c.pid) continue;
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await waitGroupGone(c.pid, 5000);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the nodes and the leader, and Ctrl-C stops every process', async () => {
    const run = startClusterCommand(dir);
    started.push(run.child);
    await run.waitFor(/^all nodes up in/, 90_000);
    expect(run.lines).toContain(`node n1 http://127.0.0.1:${basePort}`);
    expect(run.lines).toContain(`node n3 http://127.0.0.1:${basePort + 2}`);
    const leaderLine = await run.waitFor(/^leader: n\d /, 20_000);
    const leaderUrl = leaderLine.split(' ')[2]!;
    const res = await fetch(`${leaderUrl}/kv/kept`, { method: 'PUT', body: 'across restarts', signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);

    const pgid = run.child.pid!;
    expect(processGroupMembers(pgid).length).toBeGreaterThanOrEqual(4); // node + 3 workerd
    process.kill(-pgid, 'SIGINT'); // what a terminal does on Ctrl-C
    expect(await run.exit).toBe(0);
    expect(run.lines).toContain('stopped');
    expect(await waitGroupGone(pgid, 5000)).toBe(true);
    for (let i = 0; i < 3; i++) {
      await expect(fetch(`http://127.0.0.1:${basePort + i}/status`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
    }
  });

  it('restarts with the same secret and data, and stops on SIGTERM', async () => {
    const secretBefore = readFileSync(join(dir, 'cluster-secret'), 'utf8');
    const run = startClusterCommand(dir);
    started.push(run.child);
    const leaderLine = await run.waitFor(/^leader: n\d /, 90_000);
    expect(readFileSync(join(dir, 'cluster-secret'), 'utf8')).toBe(secretBefore);
    const res = await fetch(`${leaderLine.split(' ')[2]}/kv/kept`, { signal: AbortSignal.timeout(5000) });
    expect(await res.json()).toEqual({ key: 'kept', value: 'across restarts' });

    const pgid = run.child.pid!;
    process.kill(pgid, 'SIGTERM'); // the process only, as a service manager would
    expect(await run.exit).toBe(0);
    expect(await waitGroupGone(pgid, 5000)).toBe(true);
  });

  it('refuses bad options with exit code 2', () => {
    const { command, prefixArgs } = launcherCommand('cluster');
    const r = spawnSync(command, [...prefixArgs, '--nodes', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('cluster: --nodes must be an integer from 1 to 15, got "0" (see --help)');
    const s = spawnSync(command, [...prefixArgs, '--snapshot-every', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(s.status).toBe(2);
    expect(s.stderr.trim()).toBe('cluster: --snapshot-every must be an integer from 1 to 1000000000, got "0" (see --help)');
  });
});
