// `npx tsx bench/probes/native-memory/run.ts [--mode encode|digest|node]
//   [--ops 3000000] [--every 300000] [--v8-flags="..."]`
//
// Runs worker.js in one workerd (Miniflare), makes it do `--ops` operations of
// one mode in requests of 10,000, and prints workerd's RSS every `--every`
// operations. The question it answers: does a native call the leader makes
// per write (Web Crypto's digest) leave memory behind that the control does
// not? Compare the modes; run each more than once, single runs spread widely.
import { Miniflare } from 'miniflare';
import { readFileSync } from 'node:fs';
import { parseFlags, parseIntIn, UsageError } from '../../../common/args';
import { parseV8Flags, useWorkerdV8Flags } from '../../../launcher/workerd-v8-flags';
import { commandLine, processTree, rssKiB } from '../../../launcher/procfs';

const script = readFileSync(new URL('./worker.js', import.meta.url), 'utf8');
const modes = ['encode', 'digest', 'node'] as const;

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    mode: { type: 'string' },
    ops: { type: 'string' },
    every: { type: 'string' },
    'v8-flags': { type: 'string' },
  });
  const mode = v.mode ?? 'digest';
  if (!(modes as readonly string[]).includes(mode)) throw new UsageError(`--mode: one of ${modes.join(', ')}`);
  const ops = parseIntIn('--ops', v.ops ?? '3000000', 10_000, 1e9);
  const every = parseIntIn('--every', v.every ?? '300000', 10_000, 1e9);
  if (v['v8-flags'] !== undefined) useWorkerdV8Flags(parseV8Flags('--v8-flags', v['v8-flags']));
  const mf = new Miniflare({ modules: true, script, compatibilityDate: '2026-04-26', compatibilityFlags: ['nodejs_compat'] });
  try {
    await mf.ready;
    const workerds = processTree(process.pid).filter((pid) => commandLine(pid).includes('workerd'));
    const rss = () => Math.round(workerds.reduce((sum, pid) => sum + rssKiB(pid), 0) / 1024);
    console.log(`${mode}: 0 ops, workerd RSS ${rss()} MiB`);
    for (let done = 0; done < ops;) {
      await (await mf.dispatchFetch(`http://probe/?n=10000&mode=${mode}`)).text();
      done += 10_000;
      if (done % every === 0 || done >= ops) console.log(`${mode}: ${done} ops, workerd RSS ${rss()} MiB`);
    }
  } finally {
    await mf.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
