// Parsing of the CLI's process arguments. Pure: argv and env in, options out.
//
//   npm run client -- [--nodes url,...] [--client-id ID] [--json]
//                     [--timeout-ms N] [--first-serial N] [command...]
//   npm run client -- CLIENT_ID      (the seed's `yarn client $CLIENT_ID`)
//
// Flags may come anywhere; after `--` every word belongs to the command.
import type { Token } from './parse';

export const defaultNodes = ['http://127.0.0.1:8787', 'http://127.0.0.1:8788', 'http://127.0.0.1:8789'];

export interface CliOptions {
  nodes: string[];
  clientId?: string;
  json: boolean;
  timeoutMs?: number;
  firstSerial?: number;
  help: boolean;
  /** Words of a one-shot command; empty means the shell. */
  command: Token[];
}

export type ArgsResult = { ok: true; options: CliOptions } | { ok: false; message: string };

export const cliUsage = [
  'usage: npm run client -- [options] [command...]',
  '       npm run client -- CLIENT_ID            (shell with that Client-Id, as the seed)',
  'options:',
  '  --nodes URL,...     nodes to talk to (a bare port means 127.0.0.1:PORT);',
  '                      default $RAFT_KV_NODES or http://127.0.0.1:8787,8788,8789',
  '  --client-id ID      Client-Id of this session (default: a random UUID)',
  '  --first-serial N    first request serial (default 1); to continue an old Client-Id',
  '  --timeout-ms N      deadline of each operation (default 10000)',
  '  --json              print one JSON object per result',
  'With a command (e.g. `set k v`, `get k`) it runs it and exits: 0 ok, 1 not found or',
  'cas mismatch, 2 usage error, 3 unavailable/timeout/not the leader, 4 refused by the',
  'cluster (session or bad request). Without one it starts the shell (reads stdin when piped).',
].join('\n');

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): ArgsResult {
  let nodesText = env.RAFT_KV_NODES;
  let clientId: string | undefined;
  let json = false;
  let help = false;
  let timeoutMs: number | undefined;
  let firstSerial: number | undefined;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') && arg !== '-h') {
      words.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string | null => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined) return null;
      i++;
      return next;
    };
    switch (flag) {
      case '--json':
        json = true;
        break;
      case '-h':
      case '--help':
        help = true;
        break;
      case '--nodes': {
        const v = takeValue();
        if (v === null || v.trim() === '') return fail('--nodes needs a comma-separated list of URLs');
        nodesText = v;
        break;
      }
      case '--client-id': {
        const v = takeValue();
        if (v === null || v === '' || v.length > 128) return fail('--client-id needs an id of 1..128 characters');
        clientId = v;
        break;
      }
      case '--timeout-ms': {
        const n = positiveInt(takeValue());
        if (n === null) return fail('--timeout-ms needs a positive integer');
        timeoutMs = n;
        break;
      }
      case '--first-serial': {
        const n = positiveInt(takeValue());
        if (n === null) return fail('--first-serial needs a positive integer');
        firstSerial = n;
        break;
      }
      default:
        return fail(`unknown option ${flag}`);
    }
  }
  const nodes = splitNodes(nodesText);
  if (nodes.length === 0) return fail('no nodes given');
  // The seed's `yarn client $CLIENT_ID`: one numeric word is the Client-Id, not a command.
  if (words.length === 1 && /^\d+$/.test(words[0] ?? '')) {
    if (clientId !== undefined) return fail('the client id is given twice (CLIENT_ID and --client-id)');
    clientId = words[0];
    words.length = 0;
  }
  const command = words.map((text): Token => ({ text, quoted: false }));
  const options: CliOptions = { nodes, json, help, command };
  if (clientId !== undefined) options.clientId = clientId;
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  if (firstSerial !== undefined) options.firstSerial = firstSerial;
  return { ok: true, options };
}

function splitNodes(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [...defaultNodes];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function positiveInt(v: string | null): number | null {
  if (v === null || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function fail(message: string): ArgsResult {
  return { ok: false, message };
}
