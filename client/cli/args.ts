// Parsing of the CLI's process arguments. Pure: argv and env in, options out.
//
//   npm run client -- [--nodes url,...] [--client-id ID] [--json]
//                     [--timeout-ms N] [--first-serial N] [command...]
//   npm run client -- CLIENT_ID      (the seed's `yarn client $CLIENT_ID`)
//
// Flags may come anywhere; after `--` every word belongs to the command (so a
// word that starts with a dash goes after `--`).
import { parseFlags, UsageError } from '../../common/args';
import type { Token } from './parse';

export const defaultNodes = ['http://127.0.0.1:8787', 'http://127.0.0.1:8788', 'http://127.0.0.1:8789'];

export interface CliOptions {
  nodes: string[];
  clientId?: string;
  json: boolean;
  timeoutMs?: number;
  firstSerial?: number;
  /** For membership commands; cli.ts falls back to the local cluster secret. */
  adminToken?: string;
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
  '  --admin-token T     token for add/promote/remove/transfer (default $RAFT_ADMIN_TOKEN,',
  '                      else the cluster secret in .data/cluster-secret)',
  '  --voter             with `add`: add the node as a voter rather than a learner',
  'With a command (e.g. `set k v`, `get k`) it runs it and exits: 0 ok, 1 not found or',
  'cas mismatch, 2 usage error, 3 unavailable/timeout/not the leader, 4 refused by the',
  'cluster (session or bad request). Without one it starts the shell (reads stdin when piped).',
  'Words after `--` belong to the command even if they start with a dash: `-- set k -1`.',
].join('\n');

const flags = {
  nodes: { type: 'string' },
  'client-id': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'first-serial': { type: 'string' },
  json: { type: 'boolean' },
  'admin-token': { type: 'string' },
  voter: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): ArgsResult {
  let parsed;
  try {
    parsed = parseFlags(argv, flags, true);
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message);
    throw err;
  }
  const v = parsed.values;
  const words = parsed.positionals;
  if (v.nodes !== undefined && v.nodes.trim() === '') return fail('--nodes needs a comma-separated list of URLs');
  const nodesText = v.nodes ?? env.RAFT_KV_NODES;
  let clientId = v['client-id'];
  if (clientId !== undefined && (clientId === '' || clientId.length > 128)) return fail('--client-id needs an id of 1..128 characters');
  const timeoutMs = v['timeout-ms'] === undefined ? undefined : positiveInt(v['timeout-ms']);
  if (timeoutMs === null) return fail('--timeout-ms needs a positive integer');
  const firstSerial = v['first-serial'] === undefined ? undefined : positiveInt(v['first-serial']);
  if (firstSerial === null) return fail('--first-serial needs a positive integer');
  const json = v.json ?? false;
  const help = v.help ?? false;
  const nodes = splitNodes(nodesText);
  if (nodes.length === 0) return fail('no nodes given');
  // The seed's `yarn client $CLIENT_ID`: one numeric word is the Client-Id, not a command.
  if (words.length === 1 && /^\d+$/.test(words[0] ?? '')) {
    if (clientId !== undefined) return fail('the client id is given twice (CLIENT_ID and --client-id)');
    clientId = words[0];
    words.length = 0;
  }
  const command = words.map((text): Token => ({ text, quoted: false }));
  // `add n4 URL --voter` on the command line: the flag parser took --voter; hand it back to the command.
  if (v.voter === true) command.push({ text: '--voter', quoted: false });
  const adminToken = v['admin-token'] ?? env.RAFT_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.trim() === '') return fail('--admin-token needs a token');
  const options: CliOptions = { nodes, json, help, command };
  if (clientId !== undefined) options.clientId = clientId;
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  if (firstSerial !== undefined) options.firstSerial = firstSerial;
  if (adminToken !== undefined) options.adminToken = adminToken.trim();
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
