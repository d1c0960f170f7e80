// Bundles the Worker (worker/front/index.ts) into one ES module for the Miniflare API,
// and reads the few wrangler.toml settings Miniflare needs. Node-side only.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerBuildOptions } from './build.mjs';

/** The folder holding package.json, above `from`: the folder above launcher/ from source, above dist/build-NNN/ when built. */
export function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(resolve(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The repository root. */
export const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * The Worker's entry. RAFT_KV_WORKER_ENTRY overrides it (used to develop the
 * launcher against a stub Worker); everything else uses worker/front/index.ts.
 */
export function workerEntryPath(): string {
  const override = process.env.RAFT_KV_WORKER_ENTRY;
  return override ? resolve(override) : resolve(repoRoot, 'worker/front/index.ts');
}

export interface WorkerBundle {
  /** The bundled ES module source. */
  code: string;
  /** Where it was bundled from. */
  entry: string;
  /** Milliseconds esbuild took. */
  buildMs: number;
}

// One bundle per entry per process: every node of an in-process cluster, and
// every restart, reuses it.
const cache = new Map<string, Promise<WorkerBundle>>();

/**
 * Set by the process-mode launcher: a bundle it already built for this run,
 * so each node process skips esbuild (a noticeable share of a start's CPU).
 */
export const prebuiltBundleVar = 'RAFT_KV_WORKER_BUNDLE';

export function bundleWorker(entry: string = workerEntryPath()): Promise<WorkerBundle> {
  const prebuilt = process.env[prebuiltBundleVar];
  let pending = cache.get(entry);
  if (!pending) {
    pending = prebuilt && existsSync(prebuilt) ? readPrebuilt(prebuilt) : buildBundle(entry);
    cache.set(entry, pending);
    // A failed build is not cached, so a fixed file can be retried.
    pending.catch(() => cache.delete(entry));
  }
  return pending;
}

async function readPrebuilt(file: string): Promise<WorkerBundle> {
  return { code: readFileSync(file, 'utf8'), entry: file, buildMs: 0 };
}

/** Bundles (or reuses the cached bundle) and writes it to file; returns the file. */
export async function writeWorkerBundle(file: string, entry: string = workerEntryPath()): Promise<string> {
  const bundle = await bundleWorker(entry);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, bundle.code);
  return file;
}

/** Bundles in flight in this process: esbuild's service is stopped when none is left. */
let building = 0;

async function buildBundle(entry: string): Promise<WorkerBundle> {
  if (!existsSync(entry)) throw new Error(`Worker entry not found: ${entry}`);
  // Loaded only here: a launcher run from dist/ serves a prebuilt bundle and never needs it.
  const { build, stop } = await import('esbuild');
  const started = performance.now();
  building++;
  try {
    const result = await build({ ...workerBuildOptions(entry), write: false });
    const file = result.outputFiles?.[0];
    if (!file) throw new Error(`esbuild produced no output for ${entry}`);
    return { code: file.text, entry, buildMs: Math.round(performance.now() - started) };
  } finally {
    // esbuild's service process would otherwise stay resident beside the node for its whole life.
    if (--building === 0) await stop();
  }
}

export interface WorkerSettings {
  compatibilityDate: string;
  compatibilityFlags: string[];
}

/** The settings Miniflare must share with wrangler dev; wrangler.toml wins when present. */
export function readWorkerSettings(tomlPath: string = resolve(repoRoot, 'wrangler.toml')): WorkerSettings {
  const settings: WorkerSettings = { compatibilityDate: '2026-04-26', compatibilityFlags: [] };
  if (!existsSync(tomlPath)) return settings;
  // Only top-level keys matter here, so a line scan up to the first [table] is enough.
  for (const line of readFileSync(tomlPath, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('[')) break;
    const date = /^compatibility_date\s*=\s*"([^"]+)"/.exec(trimmed);
    if (date?.[1]) settings.compatibilityDate = date[1];
    const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/.exec(trimmed);
    if (flags?.[1] !== undefined) {
      settings.compatibilityFlags = [...flags[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    }
  }
  return settings;
}
