// Builds `npm start` and `npm run node` (launcher/cluster.ts, launcher/node-process.ts)
// and the Worker they serve into plain JavaScript under dist/, so that a node runs
// on `node` alone: no TypeScript loader, no tsx wrapper process and no esbuild
// service stay resident beside it (each cost tens of MiB per node).
//
// `npm install` runs it (the prepare script); launcher/run.mjs runs it again
// whenever a file the last build read has changed since, so an edit shows up at
// the next start as it did when tsx compiled on the fly.
//
// Plain JavaScript on purpose: it is what runs before anything is compiled.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(repoRoot, 'dist');
const manifestPath = join(distDir, 'launcher.json');
/** Bump when the layout of dist/ or the manifest changes. */
const formatVersion = 1;

/** The commands built, by output name. */
export const launcherEntries = {
  cluster: 'launcher/cluster.ts',
  'node-process': 'launcher/node-process.ts',
  'node-exec': 'launcher/node-exec.ts',
  'node-wake': 'launcher/node-wake.ts',
};
/** The Worker's entry (launcher/bundle.ts's default). */
export const workerEntry = 'worker/front/index.ts';

/** esbuild options for the Worker as workerd loads it (one ES module). */
export function workerBuildOptions(entry) {
  return {
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['cloudflare:*', 'node:*'],
    sourcemap: false,
    logLevel: 'silent',
  };
}

/** esbuild options for the launcher's commands: Node, packages left to node_modules, lazy imports kept lazy. */
function launcherBuildOptions(outdir) {
  return {
    absWorkingDir: repoRoot,
    entryPoints: launcherEntries,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    metafile: true,
    logLevel: 'silent',
  };
}

/** A file's size and modification time: enough to notice an edit. */
function fingerprint(file) {
  const s = statSync(join(repoRoot, file));
  return `${s.size}:${s.mtimeMs}`;
}

/** The current build's manifest, or null. */
export function readManifest() {
  try {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
    return m && m.version === formatVersion ? m : null;
  } catch {
    return null;
  }
}

/** Why dist/ is out of date (a short phrase), or null when it is current. */
export function staleReason(manifest = readManifest()) {
  if (manifest === null) return 'no build yet';
  if (JSON.stringify(manifest.entries) !== JSON.stringify(launcherEntries)) return 'the entry list changed';
  for (const [file, print] of Object.entries(manifest.inputs)) {
    let now;
    try {
      now = fingerprint(file);
    } catch {
      return `${file} is gone`;
    }
    if (now !== print) return `${file} changed`;
  }
  for (const file of [...Object.values(manifest.commands), manifest.worker]) {
    if (!existsSync(join(repoRoot, file))) return `${file} is missing`;
  }
  return null;
}

/** Source paths (relative to the repository) that an esbuild metafile lists as read. */
function inputsOf(metafile) {
  return Object.keys(metafile.inputs).filter((f) => !f.startsWith('node_modules/') && !f.includes(':'));
}

/**
 * Builds into a fresh folder dist/build-<time>-<pid>/ and then points the
 * manifest at it (written whole, then renamed), so a node starting meanwhile
 * reads either the old build or the new one, never half of one. Returns the manifest.
 */
export async function buildAll() {
  const { build, stop } = await import('esbuild');
  const name = `build-${Date.now()}-${process.pid}`;
  const outdir = join(distDir, name);
  mkdirSync(outdir, { recursive: true });
  try {
    const launcher = await build(launcherBuildOptions(outdir));
    const worker = await build({
      ...workerBuildOptions(join(repoRoot, workerEntry)),
      absWorkingDir: repoRoot,
      metafile: true,
      write: false,
    });
    const code = worker.outputFiles[0];
    if (!code) throw new Error(`esbuild produced no output for ${workerEntry}`);
    writeFileSync(join(outdir, 'worker.js'), code.text);
    const inputs = {};
    for (const f of [...inputsOf(launcher.metafile), ...inputsOf(worker.metafile), relative(repoRoot, fileURLToPath(import.meta.url))]) {
      inputs[f] = fingerprint(f);
    }
    const rel = (file) => relative(repoRoot, join(outdir, file));
    const manifest = {
      version: formatVersion,
      entries: launcherEntries,
      commands: Object.fromEntries(Object.keys(launcherEntries).map((k) => [k, rel(`${k}.js`)])),
      worker: rel('worker.js'),
      inputs,
    };
    const tmp = `${manifestPath}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(manifest, null, 1)}\n`);
    renameSync(tmp, manifestPath);
    removeOldBuilds(name);
    return manifest;
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  } finally {
    // The service process would otherwise live as long as this one.
    await stop();
  }
}

/** Earlier builds, once old enough that no process can still be loading from them. */
function removeOldBuilds(keep, minAgeMs = 10 * 60_000) {
  for (const d of readdirSync(distDir)) {
    if (d === keep || !d.startsWith('build-')) continue;
    const at = Number(d.split('-')[1]);
    if (Number.isFinite(at) && Date.now() - at > minAgeMs) rmSync(join(distDir, d), { recursive: true, force: true });
  }
}

/** The manifest of a current build, building first if needed. */
export async function ensureBuilt(log = () => {}) {
  const manifest = readManifest();
  const why = staleReason(manifest);
  if (why === null) return manifest;
  log(`building the launcher into dist/ (${why})`);
  return buildAll();
}

// `node launcher/build.mjs`: build now (the prepare script).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildAll().then(
    (m) => process.stdout.write(`launcher built: ${Object.values(m.commands).join(', ')}, ${m.worker}\n`),
    (err) => {
      process.stderr.write(`launcher build failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
