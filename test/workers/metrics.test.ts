// The node's metrics and dashboard view, from inside the real Durable Object:
// counters fed by the host's Readies and the request paths, and the log,
// snapshot and database sizes read from SQLite (§7 for the snapshot).
import { describe, expect, it } from 'vitest';
import { electAlone, nodeFromLongLog, nodeNamed, set } from './nodes';
import type { MetricFamily } from '../../worker/metrics/registry';

/** This file's nodes, named apart from other files' (each name is its own node). */
const metricsNode = (name: string) => nodeNamed(`metrics-${name}`);

function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.find((x) => x.name === name);
  return f?.samples.find((s) => s.suffix === '' && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
}

describe('node metrics in the Durable Object', () => {
  it('counts an election, writes and reads with their latencies, and storage writes until durable', async () => {
    const stub = metricsNode('counts');
    await electAlone(stub);
    for (let i = 0; i < 3; i++) expect(await stub.write(set(`k${i}`, 'v'))).toMatchObject({ type: 'ok' });
    expect(await stub.read('k0')).toEqual({ type: 'ok', value: 'v' });
    const f = await stub.metrics();
    expect(value(f, 'raftkv_role', { role: 'leader' })).toBe(1);
    expect(value(f, 'raftkv_elections_started_total', { kind: 'vote' })).toBe(1);
    expect(value(f, 'raftkv_leader_changes_total')).toBe(1);
    expect(value(f, 'raftkv_proposals_total', { outcome: 'ok' })).toBe(3);
    expect(value(f, 'raftkv_reads_total', { outcome: 'ok' })).toBe(1);
    const writes = f.find((x) => x.name === 'raftkv_write_duration_seconds')!;
    expect(writes.samples.find((s) => s.suffix === '_count')!.value).toBe(3);
    // The node's no-op of its term plus the three writes.
    expect(value(f, 'raftkv_log_entries')).toBe(4);
    expect(value(f, 'raftkv_log_bytes')).toBeGreaterThan(0);
    expect(value(f, 'raftkv_storage_bytes')).toBeGreaterThan(0);
    const storage = f.find((x) => x.name === 'raftkv_storage_write_duration_seconds')!;
    expect(storage.samples.find((s) => s.suffix === '_count')!.value).toBeGreaterThan(0);

    const view = await stub.view();
    expect(view.events.map((e) => e.kind)).toEqual(['campaign', 'leader']);
    expect(view.snapshot).toBeNull();
    expect(view.storageBytes).toBeGreaterThan(0);
  });

  it('§7: reports the snapshot a long log was compacted behind, its size, and the compaction', async () => {
    const count = 3000; // SNAPSHOT_EVERY 500, LOG_RETAIN 2048 in vitest.config.ts
    const stub = await nodeFromLongLog('metrics-compaction', count);
    const status = await stub.status();
    expect(status.snapshotIndex).toBeGreaterThan(0);
    const f = await stub.metrics();
    expect(value(f, 'raftkv_log_compactions_total')).toBeGreaterThanOrEqual(1);
    expect(value(f, 'raftkv_snapshot_index')).toBe(status.snapshotIndex);
    expect(value(f, 'raftkv_first_log_index')).toBe(status.firstLogIndex);
    expect(value(f, 'raftkv_log_entries')).toBe(status.lastLogIndex - status.snapshotIndex);
    const bytes = value(f, 'raftkv_snapshot_bytes')!;
    expect(bytes).toBeGreaterThan(0);
    expect((await stub.view()).snapshot).toEqual({ index: status.snapshotIndex, bytes });
  });
});
