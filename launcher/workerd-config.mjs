// Asks Miniflare for the workerd command line and config message of one node,
// without starting workerd: `node launcher/workerd-config.mjs < options.json`.
// Reads Miniflare's options as JSON on stdin and prints one JSON line on stdout:
// {"command": ..., "args": [...], "config": "<base64 capnp message>"}.
//
// It runs in a short-lived process of its own so that the long-lived launcher
// host never loads Miniflare's code (most of the host's memory otherwise); the
// host then starts workerd from what this prints (launcher/workerd-launch.ts).
// Plain JavaScript: the host runs it with `node` whether it runs from dist/ or
// from source.
import childProcess from 'node:child_process';
import { Buffer } from 'node:buffer';
import { writeSync } from 'node:fs';
import process from 'node:process';

/** Miniflare's own warnings go to stderr, as plain lines the host forwards to the node's log. */
function stderrLine(text) {
  writeSync(2, `${text}\n`);
}

function fail(message) {
  stderrLine(`workerd-config: ${message}`);
  process.exit(1);
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** `workerd serve --binary ... -`: the command Miniflare runs, with its config on stdin. */
function isWorkerdServe(command, args) {
  return typeof command === 'string' && Array.isArray(args) && args[0] === 'serve' && args.includes('--binary') && args.at(-1) === '-';
}

const options = JSON.parse(await readStdin());

// Miniflare looks up child_process.spawn at call time; this one records the
// workerd command and, instead of workerd, starts a process that exits at once.
// The config is the first (and only) chunk Miniflare writes to its stdin.
// Once it has the config, Miniflare's failures (it talks to a process that is
// not workerd) are of no interest: stdout is flushed and the process exits.
let captured = false;
const spawn = childProcess.spawn;
childProcess.spawn = function (command, args, spawnOptions) {
  if (!isWorkerdServe(command, args)) return spawn.call(this, command, args, spawnOptions);
  const child = spawn.call(this, process.execPath, ['-e', ''], spawnOptions);
  child.stdin.write = (chunk) => {
    if (!(chunk instanceof Uint8Array)) fail('expected Miniflare to write one binary config message');
    if (captured) return true;
    captured = true;
    const out = JSON.stringify({ command, args, config: Buffer.from(chunk).toString('base64') });
    process.stdout.write(`${out}\n`, () => process.exit(0));
    return true;
  };
  return child;
};

const { Log, LogLevel, Miniflare } = await import('miniflare');
class StderrLog extends Log {
  constructor() {
    super(LogLevel.WARN);
  }
  log(message) {
    if (captured) return;
    // eslint-disable-next-line no-control-regex
    for (const line of message.split('\n')) stderrLine(`[miniflare] ${line.replace(/\x1b\[[0-9;]*m/g, '')}`);
  }
}
try {
  const mf = new Miniflare({ ...options, log: new StderrLog() });
  await mf.ready;
  if (!captured) fail('Miniflare became ready without starting workerd');
} catch (err) {
  if (!captured) fail(err instanceof Error ? err.message : String(err));
}
