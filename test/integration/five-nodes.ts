// A 5-node in-process cluster (one Miniflare/workerd per node) for the tests
// of one file: started before them, and stopped after them with every paused
// node resumed first. The tests reach it through the returned handle, whose
// cluster exists once beforeAll has run.
import { afterAll, beforeAll } from 'vitest';
import { startCluster, type Cluster, type Member, type StatusReport } from '../../launcher/start-cluster';
import { timing } from './cluster-http';

export interface FiveNodes {
  readonly cluster: Cluster;
  /** The members' URLs, in id order. */
  readonly urls: string[];
  status: (id: string) => Promise<StatusReport>;
  /** The leader a majority agrees on (waits up to 30 s). */
  leader: () => Promise<Member>;
  /** The skip-th member other than `l`. */
  followerOf: (l: Member, skip?: number) => Member;
}

/** Nodes on ports basePort..basePort+4. */
export function fiveNodeCluster(basePort: number): FiveNodes {
  let cluster: Cluster;
  let urls: string[] = [];

  beforeAll(async () => {
    try {
      cluster = await startCluster({ nodes: 5, basePort, ...timing, logLevel: 'warn' });
    } catch (err) {
      await cluster?.stop();
      throw err;
    }
    urls = cluster.members.map((m) => m.url);
  });

  afterAll(async () => {
    if (cluster) for (const m of cluster.members) await cluster.resume(m.id).catch(() => {});
    await cluster?.stop();
  });

  return {
    get cluster() {
      return cluster;
    },
    get urls() {
      return urls;
    },
    status: (id) => cluster.status(id),
    leader: () => cluster.waitForLeader(30_000),
    followerOf: (l, skip = 0) => cluster.members.filter((m) => m.id !== l.id)[skip]!,
  };
}
