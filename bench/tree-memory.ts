// Memory of whole process trees: every process a user's command started
// (npm, a tsx wrapper, the Node host, esbuild, workerd), RSS and PSS each,
// and the sums. Used by docs/benchmarks.md and `npm run bench -- --compare etcd`.
//
//   npx tsx bench/tree-memory.ts --pid 1234 [--pid 5678 ...]   # each pid and its descendants
//   npx tsx bench/tree-memory.ts --port 8787 [--port 8788 ...]  # the command that serves the port, with its whole tree
//
// With --port, the tree starts at the outermost ancestor of the listening
// process that is still part of the same command (npm, node, tsx, esbuild,
// workerd), so a node started with `npm run node` counts its npm too.
import { readdirSync, readFileSync } from 'node:fs';
import { parseFlags, parsePort, parseIntIn, UsageError } from '../common/args';
import { commandLine, pidListeningOn, processTree, rssKiB } from '../launcher/procfs';
import { parseArgsOrExit, runIfEntry } from './entry';
import { pssKiB } from './procstat';

export interface TreeProcess {
  pid: number;
  /** What the process is, in the words of the issue: npm, tsx wrapper, node host, esbuild, workerd, etcd... */
  kind: string;
  rssMiB: number;
  pssMiB: number;
}

/** Names a process by its command line (the kinds a raft-kv command starts). */
export function processKind(cmdline: string): string {
  const words = cmdline.split(' ').filter((w) => w !== '');
  const exe = words[0] ?? '';
  const base = exe.slice(exe.lastIndexOf('/') + 1);
  // npm rewrites its process title to "npm run node" / "npm start".
  if (base === 'npm' || /(^|\/)npm-cli\.js$/.test(words[1] ?? '')) return 'npm';
  if (base === 'sh' || base === 'bash' || base === 'dash') return 'shell';
  if (base === 'workerd' || cmdline.includes('/workerd/bin/workerd')) return 'workerd';
  if (base === 'esbuild' || cmdline.includes('/@esbuild/') || / --service=/.test(cmdline)) return 'esbuild';
  if (base === 'etcd') return 'etcd';
  if (base === 'node' || base.startsWith('node')) {
    if (words.some((w) => /(tsx\/dist\/cli\.m?js|\.bin\/tsx)$/.test(w))) return 'tsx wrapper';
    if (words.some((w) => w.includes('tsx/dist/loader') || w.includes('tsx/dist/preflight'))) return 'node host (tsx loader)';
    return 'node host';
  }
  return base || '?';
}

function parentOf(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isFinite(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

/** The kinds that belong to one raft-kv (or etcd) command; a shell or a terminal above them does not. */
const commandKinds = new Set(['npm', 'tsx wrapper', 'node host', 'node host (tsx loader)', 'esbuild', 'workerd', 'etcd']);

/** The outermost ancestor of pid (pid included) whose chain up from pid is all part of one command. */
export function commandRoot(pid: number): number {
  let root = pid;
  for (let p = parentOf(pid); p !== null && p > 1; p = parentOf(p)) {
    if (!commandKinds.has(processKind(commandLine(p)))) break;
    root = p;
  }
  return root;
}

/** Every process of the trees under roots (each pid once), with its memory. */
export function treeMemory(roots: number[]): TreeProcess[] {
  const seen = new Set<number>();
  const out: TreeProcess[] = [];
  for (const root of roots) {
    for (const pid of processTree(root)) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const rss = rssKiB(pid);
      if (rss === 0) continue; // gone, or a kernel thread
      out.push({ pid, kind: processKind(commandLine(pid)), rssMiB: rss / 1024, pssMiB: pssKiB(pid) / 1024 });
    }
  }
  return out;
}

export function sumMemory(list: TreeProcess[]): { rssMiB: number; pssMiB: number } {
  return list.reduce((s, p) => ({ rssMiB: s.rssMiB + p.rssMiB, pssMiB: s.pssMiB + p.pssMiB }), { rssMiB: 0, pssMiB: 0 });
}

/** One line per process, then the sums per kind and in all. */
export function formatTreeMemory(list: TreeProcess[]): string {
  const f = (n: number): string => n.toFixed(0).padStart(6);
  const lines = ['    pid  RSS MiB  PSS MiB  process'];
  for (const p of list) lines.push(`${String(p.pid).padStart(7)}  ${f(p.rssMiB)}   ${f(p.pssMiB)}   ${p.kind}`);
  const kinds = [...new Set(list.map((p) => p.kind))];
  for (const k of kinds) {
    const of = list.filter((p) => p.kind === k);
    const s = sumMemory(of);
    lines.push(`  total  ${f(s.rssMiB)}   ${f(s.pssMiB)}   ${k} (${of.length})`);
  }
  const all = sumMemory(list);
  lines.push(`  total  ${f(all.rssMiB)}   ${f(all.pssMiB)}   all ${list.length} processes`);
  return lines.join('\n');
}

interface TreeArgs {
  pids: number[];
  ports: number[];
}

export function parseTreeArgs(argv: string[]): TreeArgs | 'help' {
  const { values } = parseFlags(argv, {
    pid: { type: 'string', multiple: true },
    port: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const pids = (values.pid ?? []).map((p) => parseIntIn('--pid', p, 1, 2 ** 22));
  const ports = (values.port ?? []).map((p) => parsePort('--port', p));
  if (pids.length + ports.length === 0) throw new UsageError('give at least one --pid or --port');
  return { pids, ports };
}

const usage = `npx tsx bench/tree-memory.ts [--pid P ...] [--port PORT ...]
  --pid P       a process; it and all its descendants are counted
  --port PORT   the command serving PORT on this machine, from its outermost
                npm/node/tsx ancestor down`;

async function main(): Promise<void> {
  const args = parseArgsOrExit('tree-memory', usage, parseTreeArgs);
  if (args === null) return;
  const all = readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  const roots = [...args.pids];
  for (const port of args.ports) {
    const pid = pidListeningOn(port, all);
    if (pid === null) throw new UsageError(`no process listens on port ${port}`);
    roots.push(commandRoot(pid));
  }
  process.stdout.write(`${formatTreeMemory(treeMemory(roots))}\n`);
}

runIfEntry(import.meta.url, 'tree-memory', main);
