// What a run leaves behind. A failing run keeps its folder (every node's log
// and data are already there) and adds the history, the nemesis schedule and
// a summary, then says how to replay it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Operation } from '../sim/checkers/history';
import type { NemesisEvent } from './nemesis';
import type { CrashRecord } from './node-runner';

export interface RunArtifacts {
  history: Operation[];
  nemesis: NemesisEvent[];
  crashes: CrashRecord[];
  anomalies: string[];
  failures: string[];
  notes: string[];
  violation: Operation[] | null;
  options: Record<string, unknown>;
}

/** JSON has no Infinity: an unknown completion is written as null. */
function historyJson(ops: Operation[]): string {
  return JSON.stringify(
    ops.map((o) => ({ ...o, complete: Number.isFinite(o.complete) ? o.complete : null })),
    null,
    1,
  );
}

export function writeArtifacts(runDir: string, a: RunArtifacts): void {
  writeFileSync(join(runDir, 'history.json'), historyJson(a.history));
  writeFileSync(join(runDir, 'nemesis.json'), JSON.stringify(a.nemesis, null, 1));
  if (a.violation) writeFileSync(join(runDir, 'violation.json'), historyJson(a.violation));
  const summary = [
    `options: ${JSON.stringify(a.options)}`,
    '',
    'failures:',
    ...a.failures.map((f) => `- ${f}`),
    '',
    'notes:',
    ...a.notes.map((n) => `- ${n}`),
    '',
    `crashes: ${JSON.stringify(a.crashes)}`,
    `anomalies (${a.anomalies.length}):`,
    ...a.anomalies.slice(0, 100).map((x) => `- ${x}`),
  ];
  writeFileSync(join(runDir, 'summary.txt'), `${summary.join('\n')}\n`);
}

/**
 * Error lines already reported and understood not to be safety problems.
 * They are counted and shown in the notes instead of failing the run.
 */
const knownErrors: { pattern: RegExp; why: string }[] = [
  {
    // Seen under link cuts: the Worker answers a peer's POST /raft/messages
    // with 500 and logs it at error level. Raft tolerates a lost reply.
    pattern: /"msg":"request failed".*"path":"\/raft\/messages".*"error":"Network connection lost\."/,
    why: 'peer POST /raft/messages failed with "Network connection lost." (logged as error; reported)',
  },
];

export interface LogScan {
  /** Lines that report a broken invariant or an uncaught error. */
  errors: string[];
  /** How often each known, reported error line appeared. */
  known: Map<string, number>;
}

/**
 * Lines of the node logs that report a broken invariant or an uncaught
 * error: structured lines at level "error", and workerd's "Uncaught".
 */
export function scanLogs(logFiles: string[], max = 20): LogScan {
  const scan: LogScan = { errors: [], known: new Map() };
  // One entry per file and message, with a count: a node stuck in a loop
  // would otherwise fill the report with one line.
  const seen = new Map<string, { line: string; count: number }>();
  for (const file of logFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const name = file.slice(file.lastIndexOf('/') + 1);
    for (const line of text.split('\n')) {
      if (!line.includes('"level":"error"') && !/\bUncaught\b/.test(line)) continue;
      const known = knownErrors.find((k) => k.pattern.test(line));
      if (known) {
        scan.known.set(known.why, (scan.known.get(known.why) ?? 0) + 1);
        continue;
      }
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 80);
      const key = `${name}: ${msg}`;
      const entry = seen.get(key);
      if (entry) entry.count++;
      else seen.set(key, { line: `${name}: ${line.slice(0, 400)}`, count: 1 });
    }
  }
  for (const { line, count } of seen.values()) {
    if (scan.errors.length >= max) break;
    scan.errors.push(count > 1 ? `(×${count}) ${line}` : line);
  }
  return scan;
}

/**
 * How many snapshots each node installed, from its log: the core logs
 * "installing a snapshot" once per install. Keyed by the log file's node id.
 */
export function countSnapshotInstalls(logFiles: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const file of logFiles) {
    const id = file.slice(file.lastIndexOf('/') + 1).replace(/\.log$/, '');
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // a node that never started has no log
    }
    counts.set(id, text.split('\n').filter((l) => l.includes('"msg":"installing a snapshot"')).length);
  }
  return counts;
}
