import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// Projects:
// - unit: pure code in Node (core, state machine, simulator, client library)
// - workers: Worker-side code inside workerd (pool-workers) -- added by the worker adapter work
// - cluster: tests that start real Miniflare instances / node processes from Node
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: [
            'worker/*.test.ts',
            'worker/host/**/*.test.ts',
            'worker/adapters/**/*.test.ts',
            'worker/front/**/*.test.ts',
            'worker/edge/**/*.test.ts',
            'worker/raft/**/*.test.ts',
            'worker/kv/**/*.test.ts',
            'worker/api/**/*.test.ts',
            'worker/metrics/**/*.test.ts',
            'worker/dashboard/**/*.test.ts',
            'test/sim/**/*.test.ts',
            'client/**/*.test.ts',
            'common/**/*.test.ts',
            'launcher/**/*.test.ts',
            'bench/**/*.test.ts',
          ],
        },
      },
      {
        // The real Worker (wrangler.toml: main, the RAFT_NODE binding, [vars]) inside
        // workerd. Timeouts are long so that no alarm fires on its own during a
        // test: tests fire them with runDurableObjectAlarm, which keeps them
        // deterministic.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // Compaction with a retained tail longer than the payload window, so both show.
            miniflare: {
              bindings: {
                ELECTION_TIMEOUT_MS: '10000',
                HEARTBEAT_INTERVAL_MS: '1000',
                LOG_LEVEL: 'warn',
                SNAPSHOT_EVERY: '500',
                LOG_RETAIN: '2048',
              },
            },
          }),
        ],
        test: {
          name: 'workers',
          include: ['test/workers/**/*.test.ts'],
        },
      },
      {
        // The edge topology (wrangler.edge.toml): whole clusters of Durable Objects
        // in one workerd, talking through stubs, with faults injected in the stub
        // transport. Real alarms with short timeouts, so elections run by themselves.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.edge.toml' },
            miniflare: {
              bindings: {
                EDGE_CLUSTERS: 'basic,three,five,moves',
                EDGE_MEMBERS: 'n1,n2,n3',
                EDGE_MEMBERS_FIVE: 'n1,n2,n3,n4,n5',
                EDGE_LOCATIONS: '',
                ELECTION_TIMEOUT_MS: '150',
                HEARTBEAT_INTERVAL_MS: '30',
                REQUEST_TIMEOUT_MS: '1500',
                LOG_LEVEL: 'error',
                ADMIN_TOKEN: 'edge-test-admin-token',
              },
            },
          }),
        ],
        test: {
          name: 'edge',
          include: ['test/edge/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cluster',
          environment: 'node',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Each file starts its own cluster on its own ports; run them one at a time
          // so the 2-core machine is not oversubscribed and ports never clash.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
