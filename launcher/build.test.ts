// The launcher's JavaScript build (launcher/build.mjs, run.mjs): when it counts
// as out of date, where the repository root is from a built file, and that the
// npm scripts start the host the way process mode does.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launcherEntries, repoRoot, staleReason, type LauncherManifest } from './build.mjs';
import { bundleWorker, findRepoRoot } from './bundle';
import { hostNodeFlags, nodeProcessCommand } from './process';
import { commandLine, processTree } from './procfs';

const print = (file: string): string => {
  const s = statSync(join(repoRoot, file));
  return `${s.size}:${s.mtimeMs}`;
};

function manifest(inputs: Record<string, string>): LauncherManifest {
  // Outputs that exist, so only the inputs decide.
  return { version: 1, entries: launcherEntries, commands: { cluster: 'package.json' }, worker: 'package.json', inputs };
}

describe('staleReason', () => {
  it('is null while every input has the size and time it had at the build', () => {
    expect(staleReason(manifest({ 'package.json': print('package.json'), 'launcher/run.mjs': print('launcher/run.mjs') }))).toBeNull();
  });

  it('names the input that changed', () => {
    expect(staleReason(manifest({ 'package.json': '1:2' }))).toBe('package.json changed');
  });

  it('names an input that is gone', () => {
    expect(staleReason(manifest({ 'launcher/no-such-file.ts': '1:2' }))).toBe('launcher/no-such-file.ts is gone');
  });

  it('rebuilds when there is no build, an output is missing, or the entries differ', () => {
    expect(staleReason(null)).toBe('no build yet');
    expect(staleReason({ ...manifest({}), worker: 'dist/nothing.js' })).toBe('dist/nothing.js is missing');
    expect(staleReason({ ...manifest({}), entries: { cluster: 'x.ts' } })).toBe('the entry list changed');
  });
});

describe('findRepoRoot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-kv-root-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the folder with package.json from a built file two levels down', () => {
    writeFileSync(join(dir, 'package.json'), '{}');
    mkdirSync(join(dir, 'dist', 'build-1-2'), { recursive: true });
    expect(findRepoRoot(join(dir, 'dist', 'build-1-2'))).toBe(dir);
    expect(findRepoRoot(join(repoRoot, 'launcher'))).toBe(repoRoot);
  });
});

describe('npm scripts', () => {
  const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  it('run the built launcher on plain node with the host flags process mode uses', () => {
    const { command, prefixArgs } = nodeProcessCommand();
    expect(command).toBe(process.execPath);
    const expected = `exec node ${hostNodeFlags.join(' ')} launcher/run.mjs`;
    expect(scripts.start).toBe(`${expected} cluster`);
    // npm run node / server: a shell that prepares with the same host flags, then becomes workerd.
    expect(scripts.node).toBe('exec sh launcher/node.sh');
    expect(scripts.server).toBe('exec sh launcher/node.sh');
    expect(readFileSync(join(repoRoot, 'launcher/node.sh'), 'utf8')).toContain(
      `node ${hostNodeFlags.join(' ')} "$here/run.mjs" node-exec "$@"`,
    );
    expect(prefixArgs).toEqual([...hostNodeFlags, join(repoRoot, 'launcher/run.mjs'), 'node-process']);
    expect(scripts.prepare).toBe('node launcher/build.mjs');
  });

  it("leave the host WebAssembly, which Node's fetch needs (npm start's host fetches /status)", () => {
    const r = spawnSync(process.execPath, [...hostNodeFlags, '-e', 'process.stdout.write(typeof WebAssembly)'], { encoding: 'utf8' });
    expect(r.stdout).toBe('object');
  });
});

describe('bundleWorker from source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-kv-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves no esbuild service process behind once the bundle is made', async () => {
    const entry = join(dir, 'stub-worker.ts');
    writeFileSync(entry, 'export default { fetch: (): Response => new Response("ok") };\n');
    const bundle = await bundleWorker(entry);
    expect(bundle.code).toContain('ok');
    const esbuilds = (): number[] =>
      processTree(process.pid)
        .slice(1)
        .filter((pid) => /esbuild/.test(commandLine(pid)));
    // stop() resolves once esbuild is told to exit; the process may take a moment to end and be
    // reaped on a loaded machine, so allow it two seconds (a resident service stays far longer).
    for (let i = 0; i < 40 && esbuilds().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(esbuilds()).toEqual([]);
  });
});
