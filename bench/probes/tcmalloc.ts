// `npx tsx bench/probes/tcmalloc.ts --port 8787[,8788,...] | --pid P[,Q] [--classes N]`
//
// What workerd's allocator holds, split into memory the program uses and
// memory tcmalloc keeps free: attaches gdb (Debian's `gdb`; needs ptrace
// rights over the process) to each workerd for a moment and calls tcmalloc's
// own stats export, MallocExtension_Internal_GetStatsInPbtxt, which workerd's
// binary carries with its symbols. Run it twice around a load: if
// `in_use_by_app` grows with the writes, something keeps native allocations
// alive (a leak in workerd, SQLite or V8's off-heap memory); if only the
// free lists grow, it is the allocator keeping freed pages.
//
// `--classes N` also lists, per process, the N size classes holding the most
// bytes in use and the N whose free objects hold the most, with how many
// spans of each are live: free bytes spread over many live spans are
// fragmentation (a span goes back to the page heap only when every object in
// it is free). Objects over 256 KiB are not in any class.
//
// gdb stops the process while it reads (a second or more): a node paused that
// long may lose its leadership, so give the cluster a long election timeout
// (`npm start -- --election-timeout-ms 10000`) when that matters.
//
// Memory outside tcmalloc (V8's heap pages, mapped files) is not in these
// figures: compare `total_resident` here with VmRSS, which is printed too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, parseIntIn, UsageError } from '../../common/args';
import { pidListeningOn, processTree, rssKiB } from '../../launcher/procfs';

/** The top-level byte counts of tcmalloc's stats message that say where its memory is. */
const fields = [
  'in_use_by_app',
  'page_heap_freelist',
  'central_cache_freelist',
  'transfer_cache_freelist',
  'sharded_transfer_cache_freelist',
  'per_cpu_cache_freelist',
  'thread_cache_freelists',
  'malloc_metadata',
  'pagemap_root_residence',
  'total_resident',
  'peak_backed',
] as const;

const bufferBytes = 4_000_000;

/** tcmalloc's stats of one process, as the text protobuf it prints. */
export function tcmallocStats(pid: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'tcmalloc-'));
  const out = join(dir, 'stats.txt');
  const script = join(dir, 'stats.gdb');
  try {
    // The buffer is the process's own memory; the text is dumped to a file
    // rather than printed, which gdb would escape and cut.
    writeFileSync(
      script,
      [
        'set pagination off',
        `set $buf = (char*)malloc(${bufferBytes})`,
        `set $n = (int)MallocExtension_Internal_GetStatsInPbtxt($buf, ${bufferBytes})`,
        `dump binary memory ${out} $buf $buf+$n`,
        'call (void)free($buf)',
        'detach',
        'quit',
      ].join('\n'),
    );
    execFileSync('gdb', ['-p', String(pid), '-batch', '-x', script], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    return execFileSync('cat', [out], { encoding: 'utf8', maxBuffer: 2 * bufferBytes });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The top-level counts of a stats message (nested messages skipped). */
export function topLevelCounts(pbtxt: string): Map<string, number> {
  const counts = new Map<string, number>();
  let depth = 0;
  const token = /(\w+)\s*\{|\}|(\w+):\s*(-?\d+)/g;
  for (let m = token.exec(pbtxt); m !== null; m = token.exec(pbtxt)) {
    if (m[1] !== undefined) depth++;
    else if (m[0] === '}') depth--;
    else if (depth === 0 && !counts.has(m[2]!)) counts.set(m[2]!, Number(m[3]));
  }
  return counts;
}

interface SizeClass {
  size: number;
  /** Bytes of free objects of this size in tcmalloc's caches. */
  freeBytes: number;
  /** Bytes of objects of this size the program holds (the live spans' capacity less the free ones). */
  usedBytes: number;
  liveSpans: number;
}

/** Per size class: what the program holds, what tcmalloc keeps free, and the spans in use. */
export function sizeClasses(pbtxt: string): SizeClass[] {
  const out: SizeClass[] = [];
  const re = /freelist \{ sizeclass: (\d+) bytes: (\d+) num_spans_requested: (\d+) num_spans_returned: (\d+) obj_capacity: (\d+)/g;
  for (let m = re.exec(pbtxt); m !== null; m = re.exec(pbtxt)) {
    const [size, freeBytes, capacity] = [Number(m[1]), Number(m[2]), Number(m[5])];
    // Large classes report free objects in caches with no span counted; they hold nothing in use.
    out.push({ size, freeBytes, usedBytes: Math.max(0, capacity * size - freeBytes), liveSpans: Number(m[3]) - Number(m[4]) });
  }
  return out;
}

function main(): void {
  const { values: v } = parseFlags(process.argv.slice(2), {
    port: { type: 'string' },
    pid: { type: 'string' },
    classes: { type: 'string' },
  });
  const classes = v.classes === undefined ? 0 : parseIntIn('--classes', v.classes, 1, 1000);
  const list = (s: string) => s.split(',').map((x) => Number(x.trim()));
  let pids: number[];
  if (v.pid !== undefined) pids = list(v.pid);
  else if (v.port !== undefined) {
    const everyone = processTree(1);
    pids = list(v.port).map((port) => {
      const pid = pidListeningOn(port, everyone);
      if (pid === null) throw new UsageError(`nothing listens on port ${port}`);
      return pid;
    });
  } else throw new UsageError('give --port or --pid');
  const mib = (n: number | undefined) => (n === undefined ? '-' : (n / 1048576).toFixed(1));
  const stats = pids.map((pid) => ({ pid, text: tcmallocStats(pid), rss: rssKiB(pid) * 1024 }));
  console.log(['pid', 'VmRSS', ...fields].join('\t'));
  for (const { pid, text, rss } of stats) {
    const counts = topLevelCounts(text);
    console.log([pid, mib(rss), ...fields.map((f) => mib(counts.get(f)))].join('\t'));
  }
  console.log('(MiB)');
  for (const { pid, text } of classes > 0 ? stats : []) {
    const all = sizeClasses(text);
    const list = (what: string, key: 'freeBytes' | 'usedBytes') => {
      console.log(`\npid ${pid}: the ${classes} size classes with the most bytes ${what}`);
      for (const c of [...all].sort((a, b) => b[key] - a[key]).slice(0, classes))
        console.log(`  ${c.size} B objects: ${mib(c.usedBytes)} MiB in use, ${mib(c.freeBytes)} MiB free, ${c.liveSpans} spans live`);
    };
    list('in use', 'usedBytes');
    list('free', 'freeBytes');
  }
}

try {
  main();
} catch (err: unknown) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
}
