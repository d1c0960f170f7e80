// Parsing of shell lines into commands. Pure: no I/O, tested on its own.
//
// Grammar (the seed's forms first; PORT and REQUEST_ID are optional):
//   get KEY [PORT [REQUEST_ID]]
//   set KEY VALUE [PORT [REQUEST_ID]]
//   delete KEY [PORT [REQUEST_ID]]
//   cas KEY EXPECTED VALUE [PORT [REQUEST_ID]]
//   status | help | exit | quit
//   members | add ID URL [--voter] | promote ID | remove ID | transfer ID
// PORT is a port of 127.0.0.1, a full node URL, or `-` for "find the leader"
// (so `set k v - 7` sets with REQUEST_ID 7 through the leader). EXPECTED `-`
// or `null` written without quotes means "the key is absent"; quote it
// (`"null"`) to mean the literal string. REQUEST_ID of a get is accepted for
// the seed's sake and ignored: reads carry no session.

export interface Token {
  text: string;
  /** Any part of it was quoted: `"null"` is the string, `null` the keyword. */
  quoted: boolean;
}

export type Tokenized = { ok: true; tokens: Token[] } | { ok: false; message: string };

/** Where a command goes: the leader (found by the client), or one given node. */
export interface Routing {
  /** Node base URL when PORT was given: the request goes there only and a not-leader answer is reported. */
  node?: string;
  /** REQUEST_ID: the Request-Serial of a write. */
  serial?: number;
}

export type Command =
  | ({ type: 'get'; key: string } & Routing)
  | ({ type: 'set'; key: string; value: string } & Routing)
  | ({ type: 'delete'; key: string } & Routing)
  | ({ type: 'cas'; key: string; expected: string | null; value: string } & Routing)
  | { type: 'status' }
  | { type: 'members' }
  | { type: 'add'; id: string; url: string; role: 'voter' | 'learner' }
  | { type: 'promote'; id: string }
  | { type: 'remove'; id: string }
  | { type: 'transfer'; id: string }
  | { type: 'help' }
  | { type: 'exit' }
  /** A blank line or a `#` comment. */
  | { type: 'empty' };

export type Parsed = { ok: true; command: Command } | { ok: false; message: string };

export const usage = [
  'commands:',
  '  get KEY [PORT [REQUEST_ID]]                 read a key',
  '  set KEY VALUE [PORT [REQUEST_ID]]           write a key',
  '  delete KEY [PORT [REQUEST_ID]]              delete a key',
  '  cas KEY EXPECTED VALUE [PORT [REQUEST_ID]]  set KEY to VALUE only if it holds EXPECTED (- or null: absent)',
  "  status                                      show each node (role, voter/learner, term, commit, applied, snapshot index, first log index, leader) and the leader's peers",
  'cluster membership (all but members need the admin token: --admin-token, $RAFT_ADMIN_TOKEN,',
  '  default the cluster secret in .data/cluster-secret):',
  '  members                                     the configuration: voters, learners, replication',
  '  add ID URL [--voter]                        add a node started with --join (a learner by default)',
  '  promote ID                                  make a caught-up learner a voter',
  '  remove ID                                   remove a member (the leader hands over first)',
  '  transfer ID                                 hand leadership to voter ID',
  '  help                                        this text',
  '  exit | quit                                 leave the shell',
  'PORT: a node at 127.0.0.1:PORT (or a URL); the request goes to that node only and a',
  '  follower answers "not the leader" naming the leader. Without PORT (or with -) the',
  '  client finds the leader itself and retries until its deadline.',
  'REQUEST_ID: the request serial of a write (default: the next one). Reuse it only to',
  '  retry the same write; the cluster then applies it at most once.',
  'Quote values with spaces: set k "a b" or set k \'a b\'.',
].join('\n');

/** Split a line into words. Single quotes are literal; in double quotes and bare words `\` escapes. */
export function tokenize(line: string): Tokenized {
  const tokens: Token[] = [];
  let text = '';
  let quoted = false;
  let inWord = false;
  let i = 0;
  const finish = (): void => {
    if (inWord) tokens.push({ text, quoted });
    text = '';
    quoted = false;
    inWord = false;
  };
  while (i < line.length) {
    const c = line[i] ?? '';
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      finish();
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { ok: false, message: 'unterminated single quote' };
      text += line.slice(i + 1, end);
      quoted = inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const d = line[i] ?? '';
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length) {
          text += unescape(line[i + 1] ?? '');
          i += 2;
        } else {
          text += d;
          i++;
        }
      }
      if (!closed) return { ok: false, message: 'unterminated double quote' };
      quoted = inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      text += line[i + 1] ?? '';
      inWord = true;
      i += 2;
    } else {
      text += c;
      inWord = true;
      i++;
    }
  }
  finish();
  return { ok: true, tokens };
}

function unescape(c: string): string {
  if (c === 'n') return '\n';
  if (c === 't') return '\t';
  return c;
}

export function parseLine(line: string): Parsed {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return { ok: true, command: { type: 'empty' } };
  const t = tokenize(line);
  if (!t.ok) return t;
  return parseTokens(t.tokens);
}

/** Parse words already split (a shell line after `tokenize`, or process arguments). */
export function parseTokens(tokens: Token[]): Parsed {
  const [head, ...args] = tokens;
  if (head === undefined) return { ok: true, command: { type: 'empty' } };
  const name = head.text.toLowerCase();
  const arity = (min: number, max: number, form: string): string | null =>
    args.length < min || args.length > max ? `usage: ${form}` : null;
  switch (name) {
    case 'get': {
      const bad = arity(1, 3, 'get KEY [PORT [REQUEST_ID]]');
      if (bad !== null) return fail(bad);
      return withRouting({ type: 'get', key: text(args, 0) }, args, 1);
    }
    case 'set': {
      const bad = arity(2, 4, 'set KEY VALUE [PORT [REQUEST_ID]]');
      if (bad !== null) return fail(bad);
      return withRouting({ type: 'set', key: text(args, 0), value: text(args, 1) }, args, 2);
    }
    case 'delete':
    case 'del': {
      const bad = arity(1, 3, 'delete KEY [PORT [REQUEST_ID]]');
      if (bad !== null) return fail(bad);
      return withRouting({ type: 'delete', key: text(args, 0) }, args, 1);
    }
    case 'cas': {
      const bad = arity(3, 5, 'cas KEY EXPECTED VALUE [PORT [REQUEST_ID]]  (EXPECTED - or null: absent)');
      if (bad !== null) return fail(bad);
      const exp = args[1];
      const expected = exp !== undefined && !exp.quoted && (exp.text === '-' || exp.text === 'null') ? null : text(args, 1);
      return withRouting({ type: 'cas', key: text(args, 0), expected, value: text(args, 2) }, args, 3);
    }
    case 'members':
      if (args.length > 0) return fail('usage: members (takes no arguments)');
      return { ok: true, command: { type: 'members' } };
    case 'add': {
      const voter = args.filter((a) => !a.quoted && a.text === '--voter').length;
      const rest = args.filter((a) => a.quoted || a.text !== '--voter');
      if (rest.length !== 2 || voter > 1) return fail('usage: add ID URL [--voter]');
      const url = parsePort(text(rest, 1));
      if (url === null) return fail(`URL must be a node URL or a port of 127.0.0.1, got ${JSON.stringify(text(rest, 1))}`);
      return memberCommand({ type: 'add', id: text(rest, 0), url, role: voter === 1 ? 'voter' : 'learner' });
    }
    case 'promote':
    case 'remove':
    case 'transfer': {
      if (args.length !== 1) return fail(`usage: ${name} ID`);
      return memberCommand({ type: name, id: text(args, 0) });
    }
    case 'status':
    case 'help':
    case 'exit':
    case 'quit':
      if (args.length > 0) return fail(`usage: ${name} (takes no arguments)`);
      return { ok: true, command: { type: name === 'quit' ? 'exit' : name } };
    default:
      return fail(`unknown command ${JSON.stringify(head.text)} (try help)`);
  }
}

function memberCommand(command: Command & { id: string }): Parsed {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(command.id))
    return fail(`ID must be 1-64 letters, digits, "_", "." or "-", got ${JSON.stringify(command.id)}`);
  return { ok: true, command };
}

function withRouting<C extends Command & Routing>(command: C, args: Token[], at: number): Parsed {
  const port = args[at];
  const id = args[at + 1];
  if ('key' in command && command.key === '') return fail('KEY must not be empty');
  if (port !== undefined && !(port.text === '-' && !port.quoted)) {
    const node = parsePort(port.text);
    if (node === null) return fail(`PORT must be a port number (1-65535), a node URL or -, got ${JSON.stringify(port.text)}`);
    command.node = node;
  }
  if (id !== undefined && command.type !== 'get') {
    if (!/^\d+$/.test(id.text) || !Number.isSafeInteger(Number(id.text)) || Number(id.text) < 1) {
      return fail(`REQUEST_ID must be a positive integer, got ${JSON.stringify(id.text)}`);
    }
    command.serial = Number(id.text);
  }
  return { ok: true, command };
}

/** A port of 127.0.0.1, or an http(s) URL, as a node base URL; null if neither. */
export function parsePort(s: string): string | null {
  if (/^\d{1,5}$/.test(s)) {
    const port = Number(s);
    return port >= 1 && port <= 65535 ? `http://127.0.0.1:${port}` : null;
  }
  if (/^https?:\/\//i.test(s)) {
    try {
      const url = new URL(s);
      return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return null;
    }
  }
  return null;
}

function text(args: Token[], i: number): string {
  return args[i]?.text ?? '';
}

function fail(message: string): Parsed {
  return { ok: false, message };
}
