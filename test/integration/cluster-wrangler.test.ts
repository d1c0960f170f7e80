// `npm run dev:cluster` (launcher/dev-cluster.ts): three `wrangler dev`
// processes, one per node, elect a leader and serve the API; Ctrl-C stops
// every process tree. Heavy (several processes per node), so one cluster only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsxScriptCommand } from '../../launcher/process';
import { isAlive, processTree } from '../../launcher/procfs';

const basePort = 18_740;
const inspectorBasePort = 18_750;

describe('npm run dev:cluster (wrangler dev per node)', () => {
  let dir: string;
  let child: ChildProcess | null = null;
  let tree: number[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'raft-kv-wrangler-'));
  });

  afterAll(async () => {
    if (child?.pid && isAlive(child.pid)) {
      process.kill(child.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 10_000));
    }
    for (const pid of tree.filter(isAlive)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('prints the single-node commands', () => {
    const { command, prefixArgs } = tsxScriptCommand('launcher/dev-cluster.ts');
    const r = spawnSync(
      command,
      [
        ...prefixArgs,
        '--print-commands',
        '--base-port',
        String(basePort),
        '--inspector-base-port',
        String(inspectorBasePort),
        '--data',
        dir,
        '--snapshot-every',
        '50',
        '--log-retain',
        '10',
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(r.status).toBe(0);
    const n2 = r.stdout.split('\n').find((l) => l.includes('--var NODE_ID:n2'));
    expect(n2).toContain('CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true');
    expect(n2).toContain(
      `npx wrangler dev --ip 127.0.0.1 --port ${basePort + 1} --inspector-port ${inspectorBasePort + 1} --persist-to ${join(dir, 'n2')}`,
    );
    expect(n2).toContain(`--var PEERS:n1=http://127.0.0.1:${basePort},n3=http://127.0.0.1:${basePort + 2}`);
    expect(n2).toContain(`--var "CLUSTER_SECRET:$(cat ${join(dir, 'cluster-secret')})"`);
    expect(n2).toContain('--var SNAPSHOT_EVERY:50 --var LOG_RETAIN:10');
    expect(n2).toContain('--show-interactive-dev-session=false --log-level warn < /dev/null');
  });

  // wrangler dev is a large external tool that has, on a loaded machine, come up without electing anyone in
  // time. One retry, with the nodes' logs in the error, rather than a red build with nothing to go on.
  it('elects a leader, serves writes and reads, and Ctrl-C stops every wrangler tree', { timeout: 200_000, retry: 1 }, async () => {
    const { command, prefixArgs } = tsxScriptCommand('launcher/dev-cluster.ts');
    const args = [
      '--base-port',
      String(basePort),
      '--inspector-base-port',
      String(inspectorBasePort),
      '--data',
      dir,
      '--election-timeout-ms',
      '300',
      '--heartbeat-interval-ms',
      '50',
    ];
    const c = spawn(command, [...prefixArgs, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const lines: string[] = [];
    const exit = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    const leaderLine = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no leader:\n${lines.join('\n')}`)), 90_000);
      for (const s of [c.stdout, c.stderr]) {
        createInterface({ input: s }).on('line', (line) => {
          lines.push(line);
          if (line.startsWith('leader: ')) {
            clearTimeout(timer);
            resolve(line);
          }
        });
      }
      void exit.then((code) => reject(new Error(`exited (${code}):\n${lines.join('\n')}`)));
    }).catch((err: Error) => {
      // Stop this attempt's processes (the retry needs the ports) and say what the nodes logged.
      for (const pid of processTree(c.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      throw new Error(`${err.message}\n${nodeLogTails(dir)}`);
    });
    console.log(leaderLine);
    tree = processTree(c.pid!);
    const leaderUrl = leaderLine.split(' ')[2]!;
    const follower = [0, 1, 2].map((i) => `http://127.0.0.1:${basePort + i}`).find((u) => u !== leaderUrl)!;

    const put = await fetch(`${leaderUrl}/kv/w`, { method: 'PUT', body: 'wrangler', signal: AbortSignal.timeout(10_000) });
    expect(put.status).toBe(200);
    const redirected = await fetch(`${follower}/kv/w`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get('location')).toBe(`${leaderUrl}/kv/w`);
    const got = await fetch(`${follower}/kv/w`, { signal: AbortSignal.timeout(10_000) });
    expect(await got.json()).toEqual({ key: 'w', value: 'wrangler' });

    expect(tree.length).toBeGreaterThan(6); // dev-cluster + 3 × (wrangler, its node child, workerd...)
    process.kill(-c.pid!, 'SIGINT');
    expect(await exit).toBe(0);
    expect(lines).toContain('stopped');
    expect(tree.filter(isAlive)).toEqual([]);
  });
});

/** The last lines of each node's log (dev-cluster writes DIR/logs/<id>.log). */
function nodeLogTails(dir: string): string {
  const logs = join(dir, 'logs');
  if (!existsSync(logs)) return '(no node logs)';
  return readdirSync(logs)
    .map((f) => `--- ${f}\n${readFileSync(join(logs, f), 'utf8').split('\n').slice(-30).join('\n')}`)
    .join('\n');
}
