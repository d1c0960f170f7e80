// What the dashboard polls: every member's status and view, gathered by the
// node the page was opened on. Its own come over RPC; each peer's over HTTP
// (GET /dashboard/node) with a short timeout, so a dead or paused peer costs
// one timeout and is reported as unreachable rather than holding the page.
import type { NodeApi, StatusReport } from '../node-api';
import type { NodeView } from '../metrics/node-metrics';

export const nodeViewPath = '/dashboard/node';

/** One member as this node sees it: its own answer, or why there is none. */
export type MemberReport =
  | { id: string; url: string; self: boolean; reachable: true; status: StatusReport; view: NodeView }
  | { id: string; url: string; self: boolean; reachable: false; error: string };

export interface ClusterReport {
  /** The node that gathered this (the one the page was opened on). */
  viewer: string;
  /** When it was gathered, ms since the epoch (the viewer's clock). */
  at: number;
  members: MemberReport[];
}

export interface NodeReport {
  status: StatusReport;
  view: NodeView;
}

export async function nodeReport(node: NodeApi): Promise<NodeReport> {
  const [status, view] = await Promise.all([node.status(), node.view()]);
  return { status, view };
}

export async function gatherCluster(node: NodeApi, fetchFn: typeof fetch, timeoutMs: number, now: () => number): Promise<ClusterReport> {
  const own = await nodeReport(node);
  const self = own.view.self;
  // The members of the configuration in force (thesis §4.1), which membership changes move;
  // the node's settings only until it knows one.
  const m = own.status.membership;
  const configured = [...m.voters, ...m.learners].filter((x) => x.id !== self.id);
  const others = configured.length > 0 ? configured : own.view.peers;
  const peers = await Promise.all(
    others.map(async (p): Promise<MemberReport> => {
      try {
        const res = await fetchFn(`${p.url}${nodeViewPath}`, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) {
          await res.body?.cancel();
          return { id: p.id, url: p.url, self: false, reachable: false, error: `HTTP ${res.status}` };
        }
        const body = (await res.json()) as NodeReport;
        return { id: p.id, url: p.url, self: false, reachable: true, status: body.status, view: body.view };
      } catch (err) {
        const name = err instanceof Error ? err.name : '';
        const error =
          name === 'TimeoutError' || name === 'AbortError'
            ? `no answer within ${timeoutMs} ms`
            : err instanceof Error
              ? err.message
              : String(err);
        return { id: p.id, url: p.url, self: false, reachable: false, error };
      }
    }),
  );
  const members: MemberReport[] = [{ id: self.id, url: self.url, self: true, reachable: true, ...own }, ...peers];
  members.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  return { viewer: self.id, at: now(), members };
}
