// `npm start` and `npm run node`: `node launcher/run.mjs <command> [flags]`.
// Runs the command from its JavaScript build in dist/ (rebuilt first when a
// source changed, see build.mjs), in this same process, with the Worker
// bundle that build made, so nothing compiles while the node runs.
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { ensureBuilt, launcherEntries, repoRoot } from './build.mjs';

/** Read by launcher/bundle.ts: the Worker bundle to serve instead of building one. */
const prebuiltBundleVar = 'RAFT_KV_WORKER_BUNDLE';

const command = process.argv[2];
if (command === undefined || !Object.hasOwn(launcherEntries, command)) {
  process.stderr.write(`run.mjs: the command must be one of ${Object.keys(launcherEntries).join(', ')}\n`);
  process.exit(2);
}
let manifest;
try {
  manifest = await ensureBuilt((line) => process.stderr.write(`${line}\n`));
} catch (err) {
  process.stderr.write(`run.mjs: could not build the launcher: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
// A Worker entry given for development (RAFT_KV_WORKER_ENTRY) is bundled by the launcher as before.
if (process.env.RAFT_KV_WORKER_ENTRY === undefined && process.env[prebuiltBundleVar] === undefined) {
  process.env[prebuiltBundleVar] = join(repoRoot, manifest.worker);
}
// The command reads its own flags from argv[2] on.
process.argv.splice(2, 1);
await import(pathToFileURL(join(repoRoot, manifest.commands[command])).href);
