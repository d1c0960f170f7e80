// One Raft node as its own OS process (`npm run node -- ...`, or the seed's
// `PORT=... OTHER_PORTS=... PERSISTENCE_FILE_PATH=... npm run server`).
// It runs one Miniflare instance (one workerd child), prints
// "node <id> listening on <url>", and stays up until SIGTERM or SIGINT.
// Kill its process group with SIGKILL and run the same command again: the
// node comes back with its data (Durable Object storage under --data).
import { UsageError } from '../common/args';
import { nodeUsage, parseNodeArgs } from './node-args';
import { isAlive } from './procfs';
import { loadOrCreateSecret } from './secret';

/** Set by the launcher: exit when the process that started us is gone (no orphans). */
const exitWithParentVar = 'RAFT_KV_EXIT_WITH_PARENT';

function fail(message: string, code: number): never {
  process.stderr.write(`node-process: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseNodeArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) fail(`${err.message} (see --help)`, 2);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${nodeUsage}\n`);
    return;
  }
  let secret: string;
  if ('value' in args.secret) {
    secret = args.secret.value;
  } else {
    const loaded = await loadOrCreateSecret(args.secret.file);
    secret = loaded.secret;
    process.stderr.write(`node-process: cluster secret ${loaded.created ? 'created in' : 'read from'} ${args.secret.file}\n`);
  }
  const settings = { ...args.settings, secret };
  // Loaded only now: Miniflare takes seconds to import, and argument errors should be instant.
  const { NodeInstance } = await import('./instance');
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
  const where =
    settings.url === `http://${settings.host}:${settings.port}`
      ? settings.url
      : `http://${settings.host}:${settings.port} (advertised as ${settings.url})`;
  process.stdout.write(`node ${settings.id} listening on ${where}\n`);
  if (settings.join !== undefined) {
    // Starting a node never changes the cluster: an operator adds it (docs/membership.md).
    process.stdout.write(
      `node ${settings.id} waits to join the cluster of ${settings.join}; add it, then promote it once caught up:\n` +
        `  npm run client -- --nodes ${settings.join} add ${settings.id} ${settings.url}\n` +
        `  npm run client -- --nodes ${settings.join} promote ${settings.id}\n`,
    );
  }

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
