// `npm run bench -- --longevity [options]`: does the cost of a node stay flat
// as its history grows (issue 16)? A fresh 3-node cluster of node processes
// (as `npm run node` runs them) takes N writes at C clients; every S writes it
// samples each node's data folder and workerd RSS and the throughput of that
// block. Then the whole cluster is stopped and started again on its data, and
// the time to a leader and to the first successful read is compared with the
// start of a fresh cluster (once before the writes, once after, on an empty
// folder).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { bundleWorker, repoRoot } from '../../launcher/bundle';
import { generateSecret } from '../../launcher/secret';
import type { Cluster } from '../../launcher/start-cluster';
import { parseArgsOrExit } from '../entry';
import { findFreeBase } from '../ports';
import { catchUpTest } from './catch-up';
import { longevityUsage, parseLongevityOptions, type LongevityOptions } from './options';
import { formatReads, readCheck } from './read-check';
import { formatLongevity, type LongevityReport } from './report';
import { formatSample, measureNode, nodeSample, Poller, type Sample } from './sampling';
import { formatStart, timedStart } from './start';
import { writeLoad } from './write-load';

export async function runLongevity(o: LongevityOptions, log: (line: string) => void): Promise<LongevityReport> {
  await bundleWorker(); // once, so no start below includes esbuild
  const basePort = o.basePortExplicit ? o.basePort : await findFreeBase(o.basePort, 3, false);
  const parent = o.dataDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dataDir = o.resume ?? mkdtempSync(join(parent, 'raft-kv-longevity-'));
  const freshDir = mkdtempSync(join(parent, 'raft-kv-longevity-fresh-'));
  const secret = generateSecret();
  const report: LongevityReport = {
    options: o,
    samples: [],
    dataMaxMiB: {},
    rssMaxMiB: {},
    starts: [],
    afterRestart: [],
    catchUp: null,
    reads: null,
  };
  let cluster: Cluster | null = null;
  let poller: Poller | null = null;
  try {
    log(
      `longevity: ${o.writes} writes${o.fill ? ' (each key once)' : ''}, ${o.clients} clients, ${o.valueSize}-byte values, ${o.keys} keys; 3 node processes on ports ${basePort}-${basePort + 2}, data in ${dataDir}`,
    );
    const first = await timedStart(o.resume ? 'start on the kept data' : 'fresh cluster (before the writes)', o, basePort, dataDir, secret);
    cluster = first.cluster;
    report.starts.push(first.timing);
    log(`longevity: ${formatStart(first.timing)}`);

    const c = cluster;
    const p = new Poller(
      c.members.map((m) => m.id),
      (id) => measureNode(c, id),
    );
    poller = p;
    p.start(o.pollMs);
    const catchUp = o.catchUp ? catchUpTest(c, log) : null;
    let blockStart = performance.now();
    const pending: Promise<void>[] = [];
    await writeLoad(
      c,
      o,
      (writes, errors) => {
        const now = performance.now();
        const blockS = (now - blockStart) / 1000;
        blockStart = now;
        const { polls, nodes: sizes } = p.endBlock();
        pending.push(
          nodeSample(c, sizes).then((nodes) => {
            const s: Sample = { writes, blockS, writesPerSec: o.sampleEvery / blockS, errors, polls, nodes };
            report.samples.push(s);
            log(`longevity: ${formatSample(s)}`);
          }),
        );
      },
      catchUp ? [{ writes: Math.floor(o.writes / 4), run: () => catchUp.stop(Math.floor(o.writes / 4)) }] : [],
    );
    await Promise.all(pending);
    p.stop();
    report.samples.sort((a, b) => a.writes - b.writes);
    Object.assign(report.dataMaxMiB, p.dataMax);
    Object.assign(report.rssMaxMiB, p.rssMax);
    if (catchUp) report.catchUp = await catchUp.finish();
    if (o.reads > 0) {
      report.reads = await readCheck(c, o);
      log(`longevity: ${formatReads(report.reads)}`);
    }
    if (!o.restart) return report;

    log('longevity: stopping the whole cluster and starting it again on its data');
    await cluster.stop();
    cluster = null;
    const again = await timedStart('restart after the writes', o, basePort, dataDir, secret);
    cluster = again.cluster;
    report.starts.push(again.timing);
    log(`longevity: ${formatStart(again.timing)}`);
    report.afterRestart = await nodeSample(cluster);
    await cluster.stop();
    cluster = null;

    const fresh = await timedStart('fresh cluster (after, empty folder)', o, basePort, freshDir, generateSecret());
    report.starts.push(fresh.timing);
    log(`longevity: ${formatStart(fresh.timing)}`);
    await fresh.cluster.stop();
  } finally {
    poller?.stop();
    await cluster?.stop();
    rmSync(freshDir, { recursive: true, force: true });
    if (!o.keep && o.resume === null) rmSync(dataDir, { recursive: true, force: true });
    else log(`longevity: data kept in ${dataDir}`);
  }
  return report;
}

export async function longevityMain(): Promise<void> {
  const o = parseArgsOrExit('bench --longevity', longevityUsage, parseLongevityOptions);
  if (o === null) return;
  const report = await runLongevity(o, (l) => process.stderr.write(`${l}\n`));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const jsonPath = resolve(o.jsonPath ?? join(repoRoot, 'bench', 'results', `longevity-${stamp}.json`));
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatLongevity(report)}\n\nJSON: ${jsonPath}\n`);
}
