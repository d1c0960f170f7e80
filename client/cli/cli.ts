// The raft-kv command line: `npm run client -- [options] [command...]`.
//
// With a command it runs it once and exits with a status code (see
// cli-run.ts: exitCodes). Without one it is a shell: line editing, history
// (kept in ~/.raft_kv_history or $RAFT_KV_HISTORY) and the prompt
// `raft-kv> ` on a terminal; plain line-by-line reading until EOF when stdin
// is piped. Every error is printed as one line; no stack traces.
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { RaftKvClient } from '../client';
import type { RaftKvClientOptions } from '../client-types';
import { cliUsage, parseArgs } from './args';
import type { CliOptions } from './args';
import { parseLine, parseTokens, usage } from './parse';
import { exitCodes, runCommand, usageError } from './run';
import type { Output } from './run';

const historyLimit = 1000;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), process.env);
  if (!args.ok) {
    emit(usageError(`${args.message} (see --help)`, process.argv.includes('--json')));
    return exitCodes.usage;
  }
  const options = args.options;
  if (options.help) {
    process.stdout.write(`${cliUsage}\n\n${usage}\n`);
    return exitCodes.ok;
  }
  let client: RaftKvClient;
  try {
    client = new RaftKvClient(clientOptions(options));
  } catch (err) {
    emit(usageError(err instanceof Error ? err.message : String(err), options.json));
    return exitCodes.usage;
  }
  if (options.seedClientId !== undefined) {
    process.stderr.write(
      `note: client id ${options.seedClientId} is not sent: the cluster takes only session ids it hands out ` +
        '(docs/sessions.md), so this shell registers one on its first write\n',
    );
  }
  if (options.command.length > 0) {
    const parsed = parseTokens(options.command);
    const out = parsed.ok ? await runCommand(client, parsed.command, options.json) : usageError(parsed.message, options.json);
    emit(out);
    return out.exitCode;
  }
  return shell(client, options);
}

function clientOptions(o: CliOptions): RaftKvClientOptions {
  const opts: RaftKvClientOptions = { nodes: o.nodes };
  if (o.clientId !== undefined) opts.clientId = o.clientId;
  if (o.timeoutMs !== undefined) opts.timeoutMs = o.timeoutMs;
  if (o.firstSerial !== undefined) opts.firstSerial = o.firstSerial;
  const adminToken = o.adminToken ?? localClusterSecret();
  if (adminToken !== undefined) opts.adminToken = adminToken;
  return opts;
}

/** The secret `npm start` and `npm run node` keep in .data/cluster-secret (launcher/secret.ts), if there is one here. */
function localClusterSecret(): string | undefined {
  try {
    const secret = readFileSync(join('.data', 'cluster-secret'), 'utf8').trim();
    return secret === '' ? undefined : secret;
  } catch {
    return undefined;
  }
}

async function shell(client: RaftKvClient, options: CliOptions): Promise<number> {
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const historyFile = process.env.RAFT_KV_HISTORY ?? join(homedir(), '.raft_kv_history');
  let history = tty ? loadHistory(historyFile) : [];
  const rl = readline.createInterface({
    input: process.stdin,
    ...(tty ? { output: process.stdout, terminal: true, history, historySize: historyLimit } : { terminal: false }),
    prompt: 'raft-kv> ',
    removeHistoryDuplicates: true,
  });
  if (tty) {
    rl.on('history', (h: string[]) => {
      history = h;
    });
    // Ctrl-C leaves the shell (readline would only pause otherwise).
    rl.on('SIGINT', () => rl.close());
    process.stdout.write(
      `raft-kv shell: client id ${client.clientId ?? '(registered on the first write)'}, nodes ${client.nodes.join(', ')}\n` +
        'type help for the commands, exit to leave\n',
    );
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      const parsed = parseLine(line);
      const out = parsed.ok ? await runCommand(client, parsed.command, options.json) : usageError(parsed.message, options.json);
      emit(out);
      if (out.exit === true) break;
      if (tty) rl.prompt();
    }
  } finally {
    rl.close();
  }
  if (tty) {
    process.stdout.write('\n');
    saveHistory(historyFile, history);
  }
  return exitCodes.ok;
}

function emit(out: Output): void {
  if (out.out.length > 0) process.stdout.write(`${out.out.join('\n')}\n`);
  if (out.err.length > 0) process.stderr.write(`${out.err.join('\n')}\n`);
}

/** readline wants the newest entry first; the file keeps the oldest first, like a shell's. */
function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .reverse()
      .slice(0, historyLimit);
  } catch {
    return [];
  }
}

function saveHistory(file: string, newestFirst: string[]): void {
  try {
    writeFileSync(file, `${[...newestFirst].slice(0, historyLimit).reverse().join('\n')}\n`, { mode: 0o600 });
  } catch {
    // History is a convenience; an unwritable home directory must not turn into an error.
  }
}

function die(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error (internal): ${message.split('\n')[0] ?? ''}\n`);
  process.exit(exitCodes.internal);
}

process.on('uncaughtException', die);
process.on('unhandledRejection', die);
// A closed pipe (`... | head -1`) is not an error worth a message.
process.stdout.on('error', () => process.exit(exitCodes.ok));

main().then((code) => process.exit(code), die);
