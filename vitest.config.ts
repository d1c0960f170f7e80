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
          include: ['worker/raft/**/*.test.ts', 'worker/kv/**/*.test.ts', 'worker/api/**/*.test.ts', 'test/sim/**/*.test.ts', 'client/**/*.test.ts'],
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
