// `npm run node` (and the seed's `npm run server`) without a resident Node
// host: launcher/node.sh runs this, then replaces itself with workerd, so a
// running node is one workerd process under npm, not workerd plus a Node
// process watching it (docs/launcher-memory.md: ~60 MiB saved per node).
//
// This step checks the flags, loads the cluster secret, has Miniflare make
// workerd's config (in a short-lived process, as NodeInstance does), adds the
// V8 flags, and writes into the folder node.sh made ($RAFT_KV_EXEC_PLAN):
// config.bin (read by workerd on stdin) and exec.sh (sourced by node.sh: the
// exec of workerd, every word quoted). It also starts node-wake.ts in the
// background: it wakes the Durable Object and prints the "listening" line.
// Nodes the launcher starts itself (npm start --mode process, the fault
// test) keep node-process.ts, which watches its workerd and its parent.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './bundle';
import { planNode, readyLines } from './instance';
import { nodeSettingsFromArgs } from './node-args';
import { portIsFree } from './port-free';
import { execScript, planVar, shellPidVar, wakeVar, type WakeOrder } from './node-exec-plan';
import { defaultV8Flags, withV8Flags } from './workerd-v8-flags';

function fail(message: string, code: number): never {
  process.stderr.write(`node: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const dir = process.env[planVar];
  const shellPid = Number(process.env[shellPidVar]);
  if (dir === undefined || !Number.isInteger(shellPid) || shellPid <= 0) {
    fail(`${planVar} and ${shellPidVar} are set by launcher/node.sh; run the node with npm run node`, 2);
  }
  const settings = await nodeSettingsFromArgs(process.argv.slice(2), 'node');
  if (settings === null) return; // --help: node.sh finds no exec.sh and stops
  // workerd would die on a taken port with a C++ stack trace; say it plainly instead.
  if (!(await portIsFree(settings.port, settings.host))) fail(`port ${settings.port} on ${settings.host} is already in use`, 1);
  const plan = await planNode(settings, (line) => process.stderr.write(`${line}\n`));
  const flags = settings.v8Flags ?? defaultV8Flags;
  writeFileSync(join(dir, 'config.bin'), flags.length > 0 ? withV8Flags(plan.config, flags) : plan.config);
  const order: WakeOrder = {
    id: settings.id,
    host: settings.host,
    port: settings.port,
    pid: shellPid,
    lines: readyLines(settings),
    timeoutMs: 30_000,
  };
  const waker = spawn(process.execPath, [join(repoRoot, 'launcher/run.mjs'), 'node-wake'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [wakeVar]: JSON.stringify(order) },
  });
  waker.unref();
  // Written last: node.sh runs workerd only if everything above worked.
  writeFileSync(join(dir, 'exec.sh'), execScript(dir, plan.command, plan.args));
}

main().catch((err: unknown) => fail(`could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1));
