// One workerd for a probe, set up as the launcher sets up a node's
// (launcher/instance.ts): the probe's port is a direct socket into the
// Worker, not Miniflare's entry worker, whose extra hop costs CPU and, under
// load, memory of its own (docs/launcher-memory.md).
import { Log, LogLevel, Miniflare } from 'miniflare';
import { defaultV8Flags, parseV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';

export interface ProbeWorkerdOptions {
  port: number;
  /** The Worker as one ES module. */
  code: string;
  /** Binding name -> Durable Object class of the module. */
  durableObjects: Record<string, { className: string; useSQLite?: boolean }>;
  /** Where the objects' storage goes; in memory when absent. */
  persist?: string;
}

export function probeWorkerd(o: ProbeWorkerdOptions): Miniflare {
  return new Miniflare({
    host: '127.0.0.1',
    port: 0,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: o.port }],
    cf: false,
    stripCfConnectingIp: false,
    cache: false,
    log: new Log(LogLevel.WARN),
    modules: [{ type: 'ESModule', path: 'index.js', contents: o.code }],
    compatibilityDate: '2026-04-26',
    durableObjects: o.durableObjects,
    ...(o.persist === undefined ? {} : { durableObjectsPersist: o.persist }),
  });
}

/** The V8 flags of a probe's `--v8-flags=` (the launcher's defaults when absent), applied to the workerds it starts. */
export function useProbeV8Flags(text: string | undefined): string[] {
  const flags = text === undefined ? [...defaultV8Flags] : parseV8Flags('--v8-flags', text);
  useWorkerdV8Flags(flags);
  return flags;
}
