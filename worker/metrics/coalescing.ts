// The Worker's coalescing counters (worker/coalesce.ts) as metric families.
// They count per Worker isolate, not per node: a node whose Worker runs in
// several isolates reports the one that served the scrape.
import type { CoalescingStats } from '../node-api';
import type { MetricFamily } from './registry';

export function coalescingFamilies(stats: CoalescingStats): MetricFamily[] {
  const kinds = ['writes', 'reads'] as const;
  return [
    {
      name: 'raftkv_coalesced_requests_total',
      help: 'Requests that went to the node inside a shared call (COALESCE_REQUESTS), per kind; counted by the Worker isolate that served the scrape.',
      type: 'counter',
      samples: kinds.map((kind) => ({ suffix: '', labels: { kind }, value: stats[kind].requests })),
    },
    {
      name: 'raftkv_coalesced_calls_total',
      help: 'Shared calls into the node (COALESCE_REQUESTS), per kind; requests_total / calls_total is the mean batch.',
      type: 'counter',
      samples: kinds.map((kind) => ({ suffix: '', labels: { kind }, value: stats[kind].batches })),
    },
  ];
}
