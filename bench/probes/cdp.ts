// A minimal Chrome DevTools Protocol client, enough to take V8 CPU profiles
// of the isolates in a workerd process (Miniflare's inspectorPort).
//
// Node 20 has no global WebSocket without a flag, so this uses undici's, which
// is already installed as a dependency of miniflare (no new dependency).
import { WebSocket } from 'undici';

export interface InspectorTarget {
  id: string;
  title: string;
  webSocketDebuggerUrl: string;
}

export async function listTargets(inspectorPort: number): Promise<InspectorTarget[]> {
  const res = await fetch(`http://127.0.0.1:${inspectorPort}/json/list`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as InspectorTarget[];
}

export class CdpSession {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, (params: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as {
        id?: number;
        method?: string;
        params?: unknown;
        result?: unknown;
        error?: { message: string };
      };
      if (msg.id === undefined) {
        if (msg.method !== undefined) this.listeners.get(msg.method)?.(msg.params);
        return;
      }
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result);
    });
    ws.addEventListener('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('inspector connection closed'));
      this.waiting.clear();
    });
  }

  static connect(url: string, timeoutMs = 5000): Promise<CdpSession> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => reject(new Error(`no inspector connection to ${url} within ${timeoutMs} ms`)), timeoutMs);
      ws.addEventListener('open', () => {
        clearTimeout(timer);
        resolve(new CdpSession(ws));
      });
      ws.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`inspector connection to ${url} failed`));
      });
    });
  }

  send<T = unknown>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Calls `handler` with the params of each event `method` (one handler per method; null removes it). */
  on(method: string, handler: ((params: unknown) => void) | null): void {
    if (handler === null) this.listeners.delete(method);
    else this.listeners.set(method, handler);
  }

  close(): void {
    this.ws.close();
  }
}

/** The shape of a V8 CPU profile (Profiler.stop). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Starts the sampling profiler on one isolate; `stop()` returns its profile. */
export async function startProfiling(url: string, intervalUs: number): Promise<{ stop: () => Promise<CpuProfile> }> {
  const s = await CdpSession.connect(url);
  await s.send('Profiler.enable');
  await s.send('Profiler.setSamplingInterval', { interval: intervalUs });
  await s.send('Profiler.start');
  return {
    stop: async () => {
      try {
        const { profile } = await s.send<{ profile: CpuProfile }>('Profiler.stop');
        return profile;
      } finally {
        s.close();
      }
    },
  };
}
