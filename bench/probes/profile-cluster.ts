// A Miniflare cluster for profiling: like the launcher's (one Miniflare
// instance, one workerd, one port per node) but each workerd also opens a V8
// inspector, and optionally serves the node on a direct socket that skips
// Miniflare's entry worker (`unsafeDirectSockets`), to measure what that hop costs.
import { Log, LogLevel, Miniflare } from 'miniflare';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { bundleWorker, readWorkerSettings, workerEntryPath } from '../../launcher/bundle';
import { nodeVars, type Member } from '../../launcher/node-config';
import { pidListeningOn } from '../../launcher/procfs';
import { generateSecret } from '../../launcher/secret';
import { defaultV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';

export interface ProfileClusterOptions {
  size: number;
  basePort: number;
  dataDir: string;
  /** Serve nodes on direct sockets (no entry worker); Miniflare's own port then sits 50 above. */
  direct: boolean;
  /** Worker entry (default worker/front/index.ts); lets an experiment run a patched copy. */
  entry?: string;
  logLevel: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** V8 flags for the workerds (default: the launcher's). */
  v8Flags?: string[];
  /** Let requests share calls into the node where the flags allow it, as the launcher does (default true). */
  coalesce?: boolean;
}

export interface ProfiledNode {
  member: Member;
  inspectorPort: number;
  pid: number | null;
  mf: Miniflare;
}

const drain = (s: Readable): void => {
  s.resume();
};

export async function startProfileCluster(
  o: ProfileClusterOptions,
): Promise<{ nodes: ProfiledNode[]; bundle: string; stop: () => Promise<void> }> {
  const bundle = await bundleWorker(o.entry ?? workerEntryPath());
  const settings = readWorkerSettings();
  const secret = generateSecret();
  const members: Member[] = Array.from({ length: o.size }, (_, i) => ({ id: `n${i + 1}`, url: `http://127.0.0.1:${o.basePort + i}` }));
  const nodes: ProfiledNode[] = [];
  const v8Flags = o.v8Flags ?? defaultV8Flags;
  useWorkerdV8Flags(v8Flags);
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.mf.dispose()));
  };
  try {
    for (const [i, m] of members.entries()) {
      const inspectorPort = o.basePort + 100 + i;
      const servePort = o.basePort + i;
      const dataDir = join(o.dataDir, m.id);
      mkdirSync(dataDir, { recursive: true });
      const mf = new Miniflare({
        host: '127.0.0.1',
        port: o.direct ? o.basePort + 50 + i : servePort,
        inspectorPort,
        cf: false,
        stripCfConnectingIp: false,
        log: new Log(LogLevel.WARN),
        handleRuntimeStdio: (out: Readable, err: Readable) => {
          drain(out);
          drain(err);
        },
        name: 'raft-kv',
        modules: [{ type: 'ESModule', path: 'index.js', contents: bundle.code }],
        compatibilityDate: settings.compatibilityDate,
        compatibilityFlags: settings.compatibilityFlags,
        bindings: {
          COALESCE_REQUESTS: o.coalesce === false ? 'off' : 'on',
          ...nodeVars({
            id: m.id,
            host: '127.0.0.1',
            port: servePort,
            url: m.url,
            peers: members.filter((p) => p.id !== m.id),
            secret,
            dataDir,
            electionTimeoutMs: o.electionTimeoutMs,
            heartbeatIntervalMs: o.heartbeatIntervalMs,
            logLevel: o.logLevel,
          }),
        },
        durableObjects: { RAFT_NODE: { className: 'RaftNodeObject', useSQLite: true } },
        durableObjectsPersist: join(dataDir, 'do'),
        ...(o.direct ? { unsafeDirectSockets: [{ host: '127.0.0.1', port: servePort }] } : {}),
      });
      nodes.push({ member: m, inspectorPort, pid: null, mf });
    }
    await Promise.all(nodes.map((n) => n.mf.ready));
    for (const n of nodes) n.pid = pidListeningOn(Number(new URL(n.member.url).port));
    // Wake every Durable Object so its election timer runs.
    await Promise.all(nodes.map((n) => wake(n.member.url)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, bundle: bundle.code, stop };
}

async function wake(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer /status`);
}
