// Which nodes `npm start` runs, kept in <data>/cluster-nodes.json once the
// cluster has grown or shrunk (the `add` and `remove` commands typed on its
// standard input): the next `npm start` on the same data must start the nodes
// that are members now, not the first N. A node added later runs with --join
// (its peers come from the configuration in its log), an original one with
// the PEERS of the original members, as at its first start.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LayoutNode {
  id: string;
  port: number;
  /** Added after the first start: started with --join rather than PEERS. */
  joined: boolean;
}

export const layoutFile = (dataDir: string): string => join(dataDir, 'cluster-nodes.json');

/** n1..nN on basePort.., as `npm start -- --nodes N` starts them the first time. */
export function initialLayout(nodes: number, basePort: number): LayoutNode[] {
  return Array.from({ length: nodes }, (_, i) => ({ id: `n${i + 1}`, port: basePort + i, joined: false }));
}

/** The next node: a new id (never one used before in this layout) and the port after the highest. */
export function nextNode(layout: readonly LayoutNode[], used: ReadonlySet<string>, id?: string): LayoutNode {
  const ports = layout.map((n) => n.port);
  const port = Math.max(...ports) + 1;
  if (port > 65535) throw new Error('no port left after the highest one in use');
  if (id !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new Error(`node id "${id}" must be 1-64 letters, digits, "_", "." or "-"`);
    if (used.has(id)) throw new Error(`node id "${id}" is taken (or was, by a removed node: ids are never reused)`);
    return { id, port, joined: true };
  }
  let k = 1;
  while (used.has(`n${k}`)) k++;
  return { id: `n${k}`, port, joined: true };
}

interface LayoutFile {
  nodes: LayoutNode[];
  /** Every id ever used, removed ones included, so none is given out twice. */
  used: string[];
}

export function readLayout(dataDir: string): LayoutFile | null {
  const file = layoutFile(dataDir);
  if (!existsSync(file)) return null;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as LayoutFile;
  const ok =
    Array.isArray(parsed.nodes) &&
    parsed.nodes.length > 0 &&
    parsed.nodes.every((n) => typeof n.id === 'string' && Number.isInteger(n.port) && typeof n.joined === 'boolean') &&
    Array.isArray(parsed.used);
  if (!ok) throw new Error(`${file} is not a node list this launcher wrote; move it away to start from --nodes`);
  return parsed;
}

export function writeLayout(dataDir: string, nodes: readonly LayoutNode[], used: ReadonlySet<string>): void {
  const file = layoutFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ nodes, used: [...used] }, null, 1)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** A command typed on `npm start`'s standard input. */
export type TypedCommand =
  | { type: 'add'; id?: string }
  | { type: 'remove'; id: string }
  | { type: 'transfer'; id: string }
  | { type: 'members' }
  | { type: 'help' }
  | { type: 'error'; message: string };

export const typedHelp = `commands (type them here, then Enter):
  add [ID]      start a new node on the next port, add it as a learner, promote it once caught up
  remove ID     remove a member from the configuration, then stop its node
  transfer ID   hand leadership to voter ID
  members       the configuration in force, with each member's role
  help          this list`;

export function parseTyped(line: string): TypedCommand | null {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  const [verb, arg, extra] = words;
  if (verb === undefined) return null;
  if (extra !== undefined) return { type: 'error', message: `too many words: "${line.trim()}" (type help)` };
  switch (verb) {
    case 'add':
      return arg === undefined ? { type: 'add' } : { type: 'add', id: arg };
    case 'remove':
    case 'transfer':
      return arg === undefined ? { type: 'error', message: `${verb} needs a node id (type help)` } : { type: verb, id: arg };
    case 'members':
    case 'help':
      return arg === undefined ? { type: verb } : { type: 'error', message: `${verb} takes no argument` };
    default:
      return { type: 'error', message: `unknown command "${verb}" (type help)` };
  }
}
