// One Raft node as its own OS process, watched by a Node host: the nodes the
// launcher starts itself (`npm start -- --mode process`, the fault test) and
// any caller that needs the host's extras (exit when the parent is gone,
// SIGTERM turned into exit code 0). `npm run node` and `npm run server` use
// launcher/node.sh instead, which leaves only workerd running. It runs one
// workerd child, prints "node <id> listening on <url>", and stays up until
// SIGTERM or SIGINT. Kill its process group with SIGKILL and run the same
// command again: the node comes back with its data (storage under --data).
import { nodeSettingsFromArgs } from './node-args';
import { isAlive } from './procfs';

/** Set by the launcher: exit when the process that started us is gone (no orphans). */
const exitWithParentVar = 'RAFT_KV_EXIT_WITH_PARENT';

function fail(message: string, code: number): never {
  process.stderr.write(`node-process: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const settings = await nodeSettingsFromArgs(process.argv.slice(2), 'node-process');
  if (settings === null) return;
  // Loaded only now: Miniflare takes seconds to import, and argument errors should be instant.
  const { NodeInstance, readyLines } = await import('./instance');
  const node = new NodeInstance(settings, (line) => process.stdout.write(`${line}\n`));

  let stopping = false;
  let started: Promise<void> = Promise.resolve();
  const stop = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`node-process: ${why}, stopping node ${settings.id}\n`);
    await started.catch(() => {});
    await node.dispose();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGHUP', () => void stop('SIGHUP', 0));

  started = node.start();
  try {
    await started;
  } catch (err) {
    if (stopping) return;
    fail(`node ${settings.id} failed to start: ${(err as Error).message}`, 1);
  }
  if (stopping) return;
  for (const line of readyLines(settings)) process.stdout.write(`${line}\n`);

  const parentPid = process.ppid;
  const watchParent = process.env[exitWithParentVar] === '1';
  setInterval(() => {
    if (stopping) return;
    const pid = node.pid;
    // workerd died under us (crash, OOM, someone killed it): a node without
    // a server must not pretend to be up.
    if (pid !== null && !isAlive(pid)) void stop(`workerd (pid ${pid}) exited unexpectedly`, 1);
    else if (watchParent && process.ppid !== parentPid) void stop('parent process exited', 0);
  }, 500);
}

main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1));
