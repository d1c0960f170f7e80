// Every directed link of the cluster as a proxy, and the one operation the
// nemesis needs: "make exactly these links cut, heal all others". Faults that
// overlap in time each contribute their cuts; the network applies the union.
import { LinkProxy, type CutMode, type LinkState } from './proxy';

export interface Cut {
  from: string;
  to: string;
  mode: CutMode;
}

export interface NodeAddress {
  id: string;
  port: number;
}

export class Network {
  private readonly links = new Map<string, LinkProxy>();

  /** Proxy i→j listens on proxyBasePort + i*n + j (indexes in `nodes`). */
  constructor(nodes: readonly NodeAddress[], proxyBasePort: number) {
    const n = nodes.length;
    nodes.forEach((from, i) => {
      nodes.forEach((to, j) => {
        if (i === j) return;
        this.links.set(linkKey(from.id, to.id), new LinkProxy(from.id, to.id, proxyBasePort + i * n + j, to.port));
      });
    });
  }

  async start(): Promise<void> {
    const started: LinkProxy[] = [];
    try {
      for (const link of this.links.values()) {
        await link.start();
        started.push(link);
      }
    } catch (err) {
      await Promise.all(started.map((l) => l.close()));
      throw new Error(`could not start link proxies: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The URL node `from` must use to reach `to`. */
  url(from: string, to: string): string {
    return this.link(from, to).url;
  }

  /** Port of some proxy → the node it leads to (for mapping a URL back to a node). */
  proxyTargets(): Map<number, string> {
    const m = new Map<number, string>();
    for (const l of this.links.values()) m.set(l.listenPort, l.to);
    return m;
  }

  /** Cuts exactly `cuts` (a later cut of the same link wins), heals everything else. */
  apply(cuts: readonly Cut[]): void {
    const want = new Map<string, LinkState>();
    for (const c of cuts) want.set(linkKey(c.from, c.to), c.mode);
    for (const [key, link] of this.links) link.set(want.get(key) ?? 'open');
  }

  healAll(): void {
    this.apply([]);
  }

  /** "n1→n2 reset, n2→n1 blackhole", or "all open". */
  describe(): string {
    const cut = [...this.links.values()].filter((l) => l.current !== 'open');
    return cut.length === 0 ? 'all open' : cut.map((l) => `${l.from}→${l.to} ${l.current}`).join(', ');
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }

  private link(from: string, to: string): LinkProxy {
    const l = this.links.get(linkKey(from, to));
    if (!l) throw new Error(`no link ${from}→${to}`);
    return l;
  }
}

function linkKey(from: string, to: string): string {
  return `${from}->${to}`;
}
