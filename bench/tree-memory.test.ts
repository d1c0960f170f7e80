// Naming the processes of a raft-kv (or etcd) command, and the table of their memory.
import { describe, expect, it } from 'vitest';
import { formatTreeMemory, parseTreeArgs, processKind } from './tree-memory';

describe('processKind', () => {
  it('names every process a user command starts', () => {
    expect(processKind('npm run node')).toBe('npm');
    expect(processKind('node /usr/lib/node_modules/npm/bin/npm-cli.js run node')).toBe('npm');
    expect(processKind('sh -c tsx launcher/node-process.ts')).toBe('shell');
    expect(processKind('node /r/node_modules/.bin/tsx launcher/node-process.ts --id n1')).toBe('tsx wrapper');
    expect(processKind('node /r/node_modules/tsx/dist/cli.mjs launcher/cluster.ts')).toBe('tsx wrapper');
    expect(
      processKind(
        '/usr/bin/node --require /r/node_modules/tsx/dist/preflight.cjs --import file:///r/node_modules/tsx/dist/loader.mjs launcher/x.ts',
      ),
    ).toBe('node host (tsx loader)');
    expect(processKind('node --max-semi-space-size=1 launcher/run.mjs node-process --id n1')).toBe('node host');
    expect(processKind('/r/node_modules/@esbuild/linux-x64/bin/esbuild --service=0.27.3 --ping')).toBe('esbuild');
    expect(processKind('/r/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve --binary -')).toBe('workerd');
    expect(processKind('/usr/bin/etcd --name m1')).toBe('etcd');
  });
});

describe('formatTreeMemory', () => {
  it('sums per kind and in all', () => {
    const text = formatTreeMemory([
      { pid: 1, kind: 'npm', rssMiB: 50, pssMiB: 10 },
      { pid: 2, kind: 'workerd', rssMiB: 80, pssMiB: 60 },
      { pid: 3, kind: 'workerd', rssMiB: 90, pssMiB: 70 },
    ]);
    expect(text).toMatch(/total\s+170\s+130\s+workerd \(2\)/);
    expect(text).toMatch(/total\s+220\s+140\s+all 3 processes/);
  });
});

describe('parseTreeArgs', () => {
  it('takes pids and ports, and wants at least one', () => {
    expect(parseTreeArgs(['--pid', '12', '--port', '8787', '--pid', '13'])).toEqual({ pids: [12, 13], ports: [8787] });
    expect(() => parseTreeArgs([])).toThrow(/at least one/);
    expect(() => parseTreeArgs(['--port', 'x'])).toThrow(/--port/);
  });
});
