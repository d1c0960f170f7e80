// Types of launcher/build.mjs (plain JavaScript: it runs before anything is compiled).
import type { BuildOptions } from 'esbuild';

export declare const repoRoot: string;
export declare const distDir: string;
export declare const launcherEntries: Record<string, string>;
export declare const workerEntry: string;
export declare function workerBuildOptions(entry: string): BuildOptions;

export interface LauncherManifest {
  version: number;
  entries: Record<string, string>;
  /** Built command files, relative to the repository. */
  commands: Record<string, string>;
  /** The built Worker bundle, relative to the repository. */
  worker: string;
  /** Every source file read, with its size and modification time. */
  inputs: Record<string, string>;
}

export declare function readManifest(): LauncherManifest | null;
export declare function staleReason(manifest?: LauncherManifest | null): string | null;
export declare function buildAll(): Promise<LauncherManifest>;
export declare function ensureBuilt(log?: (line: string) => void): Promise<LauncherManifest>;
