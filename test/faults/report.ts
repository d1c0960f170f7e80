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
  return JSON.stringify(ops.map((o) => ({ ...o, complete: Number.isFinite(o.complete) ? o.complete : null })), null, 1);
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
 * Lines of the node logs that report a broken invariant or an uncaught
 * error: structured lines at level "error", and workerd's "Uncaught".
 */
export function logErrors(logFiles: string[], max = 20): string[] {
  const found: string[] = [];
  for (const file of logFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (line.includes('"level":"error"') || /\bUncaught\b/.test(line)) {
        found.push(`${file.slice(file.lastIndexOf('/') + 1)}: ${line.slice(0, 400)}`);
        if (found.length >= max) return found;
      }
    }
  }
  return found;
}
