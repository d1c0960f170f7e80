// The launcher host starts workerd itself from a config Miniflare made in a
// short-lived process (workerd-launch.ts, workerd-config.mjs), so Miniflare's
// code never stays resident beside a running node.
import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launcherEntries, repoRoot } from './build.mjs';
import { parsePlan, planWorkerd } from './workerd-launch';
import { nodeMiniflareOptions } from './instance';
import { readV8Flags } from './workerd-v8-flags';

describe('the launcher host', () => {
  it('imports no Miniflare in the commands npm start and npm run node run', async () => {
    // As build.mjs builds them: packages stay imports, so every package a command can load shows up.
    const result = await build({
      absWorkingDir: repoRoot,
      entryPoints: launcherEntries,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      outdir: join(tmpdir(), 'unused'),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const packages = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    expect(packages.filter((p) => !p.startsWith('node:'))).not.toContain('miniflare');
  });
});

describe('planWorkerd', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-kv-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("returns a node's workerd command and config without starting workerd, and only paths that outlive Miniflare", async () => {
    const warnings: string[] = [];
    const settings = {
      id: 'n1',
      host: '127.0.0.1',
      port: 18_999,
      url: 'http://127.0.0.1:18999',
      peers: [],
      dataDir: dir,
      secret: 'test secret',
    };
    const worker = { compatibilityDate: '2025-01-01', compatibilityFlags: [] };
    const code = 'export default { fetch: () => new Response("ok") };';
    const plan = await planWorkerd(nodeMiniflareOptions(settings, code, worker), (line) => warnings.push(line));
    expect(plan.command).toMatch(/workerd$/);
    expect(existsSync(plan.command)).toBe(true);
    expect(plan.args[0]).toBe('serve');
    expect(plan.args.at(-1)).toBe('-');
    expect(plan.args).toContain('--control-fd=3');
    // A well-formed workerd Config message (the V8 flags patcher reads its root struct).
    expect(readV8Flags(plan.config)).toEqual([]);
    // Nothing in the config may point into Miniflare's temporary folder: it is deleted when that process exits.
    expect(plan.config.toString('latin1')).not.toMatch(/miniflare-[0-9a-f]{32}/);
    expect(warnings.filter((w) => /error/i.test(w))).toEqual([]);
  }, 30_000);

  it('reports what Miniflare refused, with its message', async () => {
    await expect(planWorkerd({ name: 'w', modules: 'not a module list' }, () => {})).rejects.toThrow(
      /could not make workerd's config \(exit 1\)/,
    );
  }, 30_000);

  it('refuses a line that is not a plan', () => {
    expect(() => parsePlan('{"command":"workerd","args":"serve"}')).toThrow(/unexpected line/);
    expect(parsePlan('{"command":"w","args":["serve","-"],"config":"AAEC"}').config).toEqual(Buffer.from([0, 1, 2]));
  });
});
