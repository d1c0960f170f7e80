// Parsing of the CLI's process arguments. Pure: argv and env in, options out.
//
//   npm run client -- [--nodes url,...] [--client-id ID] [--json]
//                     [--timeout-ms N] [--first-serial N] [command...]
//   npm run client -- CLIENT_ID      (the seed's `yarn client $CLIENT_ID`; the
//                                     number is accepted, not used: see `seedClientId`)
//
// Flags may come anywhere; after `--` every word belongs to the command (so a
// word that starts with a dash goes after `--`).
import { parseFlags, UsageError } from '../../common/args';
import type { Token } from './parse';

export const defaultNodes = ['http://127.0.0.1:8787', 'http://127.0.0.1:8788', 'http://127.0.0.1:8789'];

export interface CliOptions {
  nodes: string[];
  clientId?: string;
  /**
   * The seed's numeric CLIENT_ID, if one was given. The cluster takes only
   * session ids it handed out (docs/sessions.md), so it is not sent; the
   * shell says so and registers a session as it does without one.
   */
  seedClientId?: string;
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
  "       npm run client -- CLIENT_ID            (the seed's form: a shell; the number is not sent,",
  '                                              the cluster hands out session ids)',
  'options:',
  '  --nodes URL,...     nodes to talk to (a bare port means 127.0.0.1:PORT);',
  '                      default $RAFT_KV_NODES or http://127.0.0.1:8787,8788,8789',
  '  --client-id ID      continue a session registered earlier (session-<n>, as the shell',
  '                      prints it); default: register one on the first write',
  '  --first-serial N    first request serial in that session (default 1)',
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
  const clientId = v['client-id'];
  const timeoutMs = v['timeout-ms'] === undefined ? undefined : positiveInt(v['timeout-ms']);
  if (timeoutMs === null) return fail('--timeout-ms needs a positive integer');
  const firstSerial = v['first-serial'] === undefined ? undefined : positiveInt(v['first-serial']);
  if (firstSerial === null) return fail('--first-serial needs a positive integer');
  if (clientId !== undefined && !/^session-[1-9][0-9]*$/.test(clientId)) {
    return fail('--client-id needs a registered session id (session-<n>); leave it out to register one');
  }
  if (firstSerial !== undefined && clientId === undefined) {
    return fail('--first-serial continues a session: give its --client-id too');
  }
  const json = v.json ?? false;
  const help = v.help ?? false;
  const nodes = splitNodes(nodesText);
  if (nodes.length === 0) return fail('no nodes given');
  // The seed's `yarn client $CLIENT_ID`: one numeric word is its client id, not a command.
  let seedClientId: string | undefined;
  if (words.length === 1 && /^\d+$/.test(words[0] ?? '')) {
    if (clientId !== undefined) return fail('the client id is given twice (CLIENT_ID and --client-id)');
    seedClientId = words[0];
    words.length = 0;
  }
  const command = words.map((text): Token => ({ text, quoted: false }));
  // `add n4 URL --voter` on the command line: the flag parser took --voter; hand it back to the command.
  if (v.voter === true) command.push({ text: '--voter', quoted: false });
  const adminToken = v['admin-token'] ?? env.RAFT_ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken.trim() === '') return fail('--admin-token needs a token');
  const options: CliOptions = { nodes, json, help, command };
  if (clientId !== undefined) options.clientId = clientId;
  if (seedClientId !== undefined) options.seedClientId = seedClientId;
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
