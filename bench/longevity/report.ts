// The longevity run's results: what goes to the JSON file, and the figures issue 16 asks for as text.
import { formatCatchUp, type CatchUp } from './catch-up';
import type { LongevityOptions } from './options';
import { formatReads, type ReadCheck } from './read-check';
import type { NodeSample, Sample } from './sampling';
import { formatStart, type StartTiming } from './start';

export interface LongevityReport {
  options: LongevityOptions;
  samples: Sample[];
  /** Per node, the largest data folder and RSS seen by any sample during the writes. */
  dataMaxMiB: Record<string, number>;
  rssMaxMiB: Record<string, number>;
  starts: StartTiming[];
  afterRestart: NodeSample[];
  catchUp: CatchUp | null;
  reads: ReadCheck | null;
}

const pct = (a: number, b: number): string => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;

/** The figures issue 16 asks for, as a table and a few comparison lines. */
export function formatLongevity(r: LongevityReport): string {
  const ids = r.samples[0]?.nodes.map((n) => n.id) ?? [];
  const header = ['writes', 'writes/s', ...ids.map((id) => `${id} data max MiB`), ...ids.map((id) => `${id} RSS MiB`)];
  const rows = r.samples.map((s) => [
    String(s.writes),
    String(Math.round(s.writesPerSec)),
    ...s.nodes.map((n) => n.dataMaxMiB.toFixed(1)),
    ...s.nodes.map((n) => n.rssMiB.toFixed(0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const out = [line(header), ...rows.map(line)];
  const first = r.samples[0];
  const last = r.samples[r.samples.length - 1];
  if (first && last) {
    const leaders = [...new Set(r.samples.flatMap((s) => s.nodes.filter((n) => n.role === 'leader').map((n) => n.id)))];
    const term = (x: Sample): number => Math.max(0, ...x.nodes.map((n) => n.term ?? 0));
    out.push(
      `leader at the samples: ${leaders.join(', ') || 'unknown'}; term ${term(first)} at the first sample, ${term(last)} at the last`,
    );
    out.push('');
    const maxes = ids.map((id) => `${id} ${(r.dataMaxMiB[id] ?? 0).toFixed(1)}`).join(', ');
    const largest = Math.max(0, ...Object.values(r.dataMaxMiB));
    out.push(
      `data folder, largest at any sample during the writes: ${maxes} MiB${r.options.fill ? '' : ` (target: under 64 MiB: ${largest < 64 ? 'met' : 'missed'})`}`,
    );
    out.push(
      `throughput, block of ${first.writes} writes: first ${Math.round(first.writesPerSec)}, last ${Math.round(last.writesPerSec)} writes/s: ${pct(first.writesPerSec, last.writesPerSec)} (target: within 10 %)`,
    );
    for (const [i, n] of first.nodes.entries()) {
      const m = last.nodes[i]!;
      if (r.catchUp?.node === n.id) {
        out.push(`${n.id} workerd RSS: stopped and started again during the writes (--catch-up), not compared`);
        continue;
      }
      out.push(
        `${n.id} workerd RSS, first block -> last block: mean ${n.rssMeanMiB.toFixed(0)} -> ${m.rssMeanMiB.toFixed(0)} MiB (${pct(n.rssMeanMiB, m.rssMeanMiB)}), at its end ${n.rssMiB.toFixed(0)} -> ${m.rssMiB.toFixed(0)} MiB (${pct(n.rssMiB, m.rssMiB)}); largest ${(r.rssMaxMiB[n.id] ?? 0).toFixed(0)} MiB (target: within 15 %)`,
      );
    }
  }
  if (r.catchUp) out.push('', formatCatchUp(r.catchUp));
  if (r.reads) out.push('', formatReads(r.reads));
  if (r.starts.length > 0) out.push('');
  for (const t of r.starts) out.push(formatStart(t));
  const [before, restart, after] = r.starts;
  if (before && restart && after && r.options.resume !== null) {
    out.push(
      `restart against a fresh start: leader ${(restart.leaderMs / 1000).toFixed(2)} s vs ${(after.leaderMs / 1000).toFixed(2)} s; first read ${(restart.firstReadMs / 1000).toFixed(2)} s vs ${(after.firstReadMs / 1000).toFixed(2)} s`,
    );
  } else if (before && restart && after) {
    out.push(
      `restart against fresh starts: leader ${(restart.leaderMs / 1000).toFixed(2)} s vs ${(before.leaderMs / 1000).toFixed(2)} / ${(after.leaderMs / 1000).toFixed(2)} s; first read ${(restart.firstReadMs / 1000).toFixed(2)} s vs ${(before.firstReadMs / 1000).toFixed(2)} / ${(after.firstReadMs / 1000).toFixed(2)} s`,
    );
  }
  if (r.afterRestart.length > 0) {
    out.push(
      `after the restart: ${r.afterRestart.map((n) => `${n.id} ${n.dataMiB.toFixed(1)} MiB, ${n.rssMiB.toFixed(0)} MiB RSS, snapshotIndex ${n.snapshotIndex ?? '?'}`).join('; ')}`,
    );
  }
  return out.join('\n');
}
