// Reading V8 CPU profiles of the Worker: self time per function, per source
// file, and per area of the code base (raft core, api, hono, zod...), and the
// inclusive time of chosen entry points.
//
// The Worker is one esbuild bundle; esbuild marks where each source file
// begins with a `// path/to/file.ts` comment, which maps a line of the bundle
// back to its source file.
import type { CpuProfile } from './cdp';

/** Bundle line (0-based) -> source file, from esbuild's `// file` markers. */
export function sourceMap(bundle: string): (line: number) => string {
  const starts: { line: number; file: string }[] = [];
  bundle.split('\n').forEach((text, line) => {
    const m = /^\/\/ ((?:worker|client|node_modules)\/\S+)$/.exec(text);
    if (m?.[1]) starts.push({ line, file: m[1] });
  });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = '(bundle prelude)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]!.line <= line) {
        found = starts[mid]!.file;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** The area a file belongs to, for the summary. */
export function areaOf(file: string): string {
  if (file.startsWith('(')) return file;
  if (file.startsWith('node_modules/')) return file.split('/')[1] ?? file;
  if (file.startsWith('worker/raft/')) return 'raft core';
  if (file.startsWith('worker/kv/')) return 'kv state machine';
  if (file.startsWith('worker/api/')) return 'api routes + schemas';
  if (file.startsWith('worker/adapters/')) return `adapter ${file.slice('worker/adapters/'.length)}`;
  return file;
}

export interface Row {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  spanMs: number;
  /** Sampled time not idle (JS, GC, and native work V8 attributes to "(program)"). */
  busyMs: number;
  topSelf: Row[];
  byFile: Row[];
  byArea: Row[];
  /** Inclusive time of functions whose name matches, e.g. the Durable Object methods. */
  inclusive: Row[];
}

function rows(m: Map<string, number>, total: number, limit: number): Row[] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }));
}

/**
 * `fileOf` maps a call frame to its source file; frames of other scripts (the
 * runtime's own JS, builtins) keep their URL or "(native)".
 */
export function summarizeProfile(p: CpuProfile, fileOf: ((line: number) => string) | null, inclusiveNames: string[] = []): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));

  const label = (id: number): { fn: string; file: string } => {
    const f = byId.get(id)!.callFrame;
    const name = f.functionName || '(anonymous)';
    if (name.startsWith('(') && f.url === '') return { fn: name, file: name };
    const file = f.url.endsWith('index.js') && fileOf ? fileOf(f.lineNumber) : f.url === '' ? '(native)' : f.url;
    return { fn: name, file };
  };

  const fnSelf = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { fn, file } = label(id);
    if (fn === '(idle)') continue;
    busy += us;
    const key = file.startsWith('(') ? fn : `${fn}  [${file}]`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    fileSelf.set(file, (fileSelf.get(file) ?? 0) + us);
    areaSelf.set(areaOf(file), (areaSelf.get(areaOf(file)) ?? 0) + us);
  }

  // Inclusive: each sample counts once for every named function on its stack.
  const inclusive = new Map<string, number>();
  if (inclusiveNames.length > 0) {
    p.samples.forEach((leaf, i) => {
      const seen = new Set<string>();
      for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
        const fn = byId.get(id)!.callFrame.functionName;
        if (inclusiveNames.includes(fn)) seen.add(fn);
      }
      for (const fn of seen) inclusive.set(fn, (inclusive.get(fn) ?? 0) + (p.timeDeltas[i] ?? 0));
    });
  }
  return {
    spanMs: (p.endTime - p.startTime) / 1000,
    busyMs: busy / 1000,
    topSelf: rows(fnSelf, busy, 25),
    byFile: rows(fileSelf, busy, 20),
    byArea: rows(areaSelf, busy, 20),
    inclusive: rows(inclusive, busy, inclusiveNames.length),
  };
}
