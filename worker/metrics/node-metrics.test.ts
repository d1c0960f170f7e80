// NodeMetrics turns what the host reports (Readies, received messages,
// request outcomes, storage writes) into counters, the last minute and the
// election timeline; the families are read back with a Prometheus parser.
import { describe, expect, it } from 'vitest';
import parse, { type ParsedFamily } from 'parse-prometheus-text-format';
import { emptyReady, type Ready } from '../raft/ready';
import type { Message } from '../raft/messages';
import type { NodeStatus } from '../raft/node';
import { NodeMetrics } from './node-metrics';
import { renderPrometheus } from './registry';

const n1 = { id: 'n1', url: 'http://127.0.0.1:1' };
const n2 = { id: 'n2', url: 'http://127.0.0.1:2' };
const n3 = { id: 'n3', url: 'http://127.0.0.1:3' };
const three = { voters: [n1, n2, n3], learners: [] };

const status: NodeStatus = {
  id: 'n1',
  url: n1.url,
  role: 'leader',
  term: 2,
  leader: n1,
  commitIndex: 5,
  appliedIndex: 4,
  lastLogIndex: 6,
  lastLogTerm: 2,
  firstLogIndex: 4,
  snapshotIndex: 3,
  membership: { voters: [n1, n2, n3], learners: [] },
  configIndex: 0,
  peers: [
    { id: 'n2', url: n2.url, matchIndex: 6, nextIndex: 7, lastContactMs: 3, state: 'replicate' },
    { id: 'n3', url: n3.url, matchIndex: 2, nextIndex: 3, lastContactMs: 9, state: 'snapshot' },
  ],
};

const ready = (over: Partial<Ready>): Ready => ({ ...emptyReady(1e9), ...over });
const append = (to: string): Message => ({
  type: 'append',
  from: 'n1',
  to,
  term: 2,
  leaderUrl: n1.url,
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  commit: 0,
  round: 1,
});
const appendResp = (from: string, success: boolean): Message => ({
  type: 'appendResp',
  from,
  to: 'n1',
  term: 2,
  success,
  prevLogIndex: 0,
  matchIndex: 0,
  round: 1,
  lastIndex: 0,
  conflictTerm: 0,
  conflictIndex: 0,
});

function scrape(m: NodeMetrics): Map<string, ParsedFamily> {
  const text = renderPrometheus(m.collect(status, { logEntries: 3, logBytes: 321, databaseBytes: 8192, snapshotBytes: 77 }));
  return new Map(parse(text).map((f) => [f.name, f]));
}
const valueOf = (f: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): string | undefined =>
  f.get(name)?.metrics.find((s) => JSON.stringify(s.labels ?? {}) === JSON.stringify(labels))?.value;

describe('NodeMetrics', () => {
  it('counts an election won: pre-vote, vote, leadership, then AppendEntries per peer and rejections (§5.2, §5.3, thesis §9.6)', () => {
    const m = new NodeMetrics(n1, three, 1);
    const vote = (to: string, pre: boolean, term: number): Message => ({
      type: 'vote',
      from: 'n1',
      to,
      term,
      pre,
      transfer: false,
      lastLogIndex: 0,
      lastLogTerm: 0,
      round: pre ? 1 : 0,
    });
    m.onReady(ready({ softState: { role: 'precandidate', leader: null }, messages: [vote('n2', true, 2), vote('n3', true, 2)] }), 1000);
    m.onReady(
      ready({
        softState: { role: 'candidate', leader: null },
        hardState: { term: 2, vote: 'n1', commit: 0 },
        messages: [vote('n2', false, 2), vote('n3', false, 2)],
      }),
      1010,
    );
    // The same term and vote again (the commit index moving) is no new election.
    m.onReady(ready({ hardState: { term: 2, vote: 'n1', commit: 0 } }), 1015);
    m.onReady(ready({ softState: { role: 'leader', leader: n1 }, messages: [append('n2'), append('n3')] }), 1020);
    m.onReady(ready({ messages: [append('n2')] }), 1030);
    m.onReceived([appendResp('n2', true), appendResp('n3', false), appendResp('n3', false)], 1040);
    m.onSent('n2', 100);
    m.onSent('n2', 50);

    const f = scrape(m);
    expect(valueOf(f, 'raftkv_elections_started_total', { kind: 'pre_vote' })).toBe('1');
    expect(valueOf(f, 'raftkv_elections_started_total', { kind: 'vote' })).toBe('1');
    expect(valueOf(f, 'raftkv_leader_changes_total')).toBe('1');
    expect(valueOf(f, 'raftkv_append_entries_sent_total', { peer: 'n2' })).toBe('2');
    expect(valueOf(f, 'raftkv_append_entries_sent_total', { peer: 'n3' })).toBe('1');
    expect(valueOf(f, 'raftkv_append_entries_rejected_total', { peer: 'n2' })).toBe('0');
    expect(valueOf(f, 'raftkv_append_entries_rejected_total', { peer: 'n3' })).toBe('2');
    expect(valueOf(f, 'raftkv_peer_sent_bytes_total', { peer: 'n2' })).toBe('150');
    expect(valueOf(f, 'raftkv_peer_sent_batches_total', { peer: 'n2' })).toBe('2');
    expect(valueOf(f, 'raftkv_term')).toBe('2');
    expect(valueOf(f, 'raftkv_role', { role: 'leader' })).toBe('1');
    expect(valueOf(f, 'raftkv_role', { role: 'follower' })).toBe('0');
    expect(valueOf(f, 'raftkv_commit_index')).toBe('5');
    expect(valueOf(f, 'raftkv_applied_index')).toBe('4');
    expect(valueOf(f, 'raftkv_log_entries')).toBe('3');
    expect(valueOf(f, 'raftkv_first_log_index')).toBe('4');
    expect(valueOf(f, 'raftkv_snapshot_index')).toBe('3');
    expect(valueOf(f, 'raftkv_snapshot_bytes')).toBe('77');
    expect(valueOf(f, 'raftkv_log_bytes')).toBe('321');
    expect(valueOf(f, 'raftkv_peer_match_index', { peer: 'n3' })).toBe('2');

    const v = m.view(2040, 8192, { index: 3, bytes: 77 });
    expect(v.snapshot).toEqual({ index: 3, bytes: 77 });
    expect(v.events.map((e) => [e.kind, e.term, e.leader, e.at])).toEqual([
      ['preCampaign', 1, null, 1000],
      ['campaign', 2, null, 1010],
      ['leader', 2, 'n1', 1020],
    ]);
    expect(v.lastHeardMs).toEqual({ n2: 1000, n3: 1000 });
    expect(v.self).toEqual(n1);
    expect(v.peers).toEqual([n2, n3]);
  });

  it('counts outcomes and latencies; the last minute keeps only what this node served as leader', () => {
    const m = new NodeMetrics(n1, { voters: [n1, n2], learners: [] }, 1);
    const t0 = 1_000_000;
    m.onWriteOutcome('ok', 4, t0);
    m.onWriteOutcome('ok', 40, t0 + 100);
    m.onWriteOutcome('notLeader', 0.1, t0 + 200);
    m.onReadOutcome('timeout', 3000, t0 + 1500);
    m.onStorageWrite(2);
    const f = scrape(m);
    expect(valueOf(f, 'raftkv_proposals_total', { outcome: 'ok' })).toBe('2');
    expect(valueOf(f, 'raftkv_proposals_total', { outcome: 'notLeader' })).toBe('1');
    expect(valueOf(f, 'raftkv_reads_total', { outcome: 'timeout' })).toBe('1');
    expect(valueOf(f, 'raftkv_reads_total', { outcome: 'ok' })).toBe('0');
    const w = f.get('raftkv_write_duration_seconds')!.metrics[0]!;
    expect(w.count).toBe('3');
    expect(Number(w.sum)).toBeCloseTo(0.0441, 6);
    expect(w.buckets!['0.004']).toBe('2'); // 0.1 ms and 4 ms; 40 ms is above
    expect(f.get('raftkv_storage_write_duration_seconds')!.metrics[0]!.count).toBe('1');

    const recent = m.view(t0 + 2000, null, null).recent;
    expect(recent).toHaveLength(60);
    const [s0, s1] = recent.slice(-2);
    expect(s0).toMatchObject({ t: t0, writes: 2, reads: 0, readP50: null });
    expect(s0!.writeP50).toBeGreaterThanOrEqual(4);
    expect(s0!.writeP50).toBeLessThan(5);
    expect(s0!.writeP99).toBeGreaterThanOrEqual(40);
    expect(s0!.writeP99).toBeLessThan(50);
    expect(s1).toMatchObject({ t: t0 + 1000, writes: 0, reads: 1 });
    // A minute later the old seconds are gone.
    expect(m.view(t0 + 70_000, null, null).recent.every((p) => p.writes === 0 && p.reads === 0)).toBe(true);
  });

  it('counts compactions, installed snapshots and InstallSnapshot chunks per peer (§7)', () => {
    const m = new NodeMetrics(n1, three, 2);
    const chunk = (to: string): Message => ({
      type: 'snapshot',
      from: 'n1',
      to,
      term: 2,
      leaderUrl: n1.url,
      index: 3,
      lastTerm: 2,
      chunk: 0,
      data: 'x',
      done: false,
      membership: three,
    });
    m.onReady(ready({ compacted: { index: 3, term: 2, membership: three } }), 10);
    m.onReady(ready({ messages: [chunk('n3'), chunk('n3')] }), 20);
    m.onReady(ready({ installSnapshot: { index: 9, term: 2, keepLog: false, membership: three } }), 30);
    expect(valueOf(scrape(m), 'raftkv_idle_collections_total')).toBe('0');
    m.onIdleCollect();
    const f = scrape(m);
    expect(valueOf(f, 'raftkv_idle_collections_total')).toBe('1');
    expect(valueOf(f, 'raftkv_log_compactions_total')).toBe('1');
    expect(valueOf(f, 'raftkv_snapshots_installed_total')).toBe('1');
    expect(valueOf(f, 'raftkv_snapshot_chunks_sent_total', { peer: 'n3' })).toBe('2');
    expect(valueOf(f, 'raftkv_snapshot_chunks_sent_total', { peer: 'n2' })).toBe('0');
  });

  it('notes a leader lost and a new one learned', () => {
    const m = new NodeMetrics(n2, three, 3);
    m.onReady(ready({ softState: { role: 'follower', leader: n1 } }), 10);
    // Voting for another node in a newer term is no election of ours.
    m.onReady(ready({ softState: { role: 'follower', leader: null }, hardState: { term: 4, vote: 'n3', commit: 0 } }), 20);
    m.onReady(ready({ softState: { role: 'follower', leader: n3 } }), 30);
    expect(m.view(40, null, null).events.map((e) => [e.kind, e.leader, e.term])).toEqual([
      ['leader', 'n1', 3],
      ['leaderLost', null, 4],
      ['leader', 'n3', 4],
    ]);
    expect(valueOf(scrape(m), 'raftkv_leader_changes_total')).toBe('2');
    expect(valueOf(scrape(m), 'raftkv_elections_started_total', { kind: 'vote' })).toBe('0');
  });

  it('per-peer series and the peer list follow the configuration in force: an added member appears, a removed one vanishes (thesis §4.1)', () => {
    const m = new NodeMetrics(n1, three, 2);
    const n4 = { id: 'n4', url: 'http://127.0.0.1:4' };
    m.onReady(ready({ messages: [append('n2'), append('n3')] }), 10);
    m.onReceived([appendResp('n2', true), appendResp('n3', true)], 12);
    // n4 added as a learner: its series exist at 0 before anything is sent to it.
    m.onReady(ready({ membership: { index: 5, membership: { voters: [n1, n2, n3], learners: [n4] } } }), 20);
    let f = scrape(m);
    expect(valueOf(f, 'raftkv_append_entries_sent_total', { peer: 'n4' })).toBe('0');
    expect(m.view(30, null, null).peers).toEqual([n2, n3, n4]);
    expect(m.view(30, null, null).lastHeardMs).toEqual({ n2: 18, n3: 18, n4: null });
    // n2 removed: every series labelled with it goes, and so does its place in the view.
    m.onReady(ready({ membership: { index: 6, membership: { voters: [n1, n3], learners: [n4] } } }), 40);
    f = scrape(m);
    for (const name of [
      'raftkv_append_entries_sent_total',
      'raftkv_append_entries_rejected_total',
      'raftkv_peer_sent_bytes_total',
      'raftkv_peer_sent_batches_total',
      'raftkv_snapshot_chunks_sent_total',
      'raftkv_peer_match_index',
    ]) {
      expect(
        f.get(name)!.metrics.map((s) => s.labels?.peer),
        name,
      ).toEqual(expect.arrayContaining(['n3', 'n4']));
      expect(
        f.get(name)!.metrics.some((s) => s.labels?.peer === 'n2'),
        name,
      ).toBe(false);
    }
    expect(valueOf(f, 'raftkv_append_entries_sent_total', { peer: 'n3' })).toBe('1');
    expect(m.view(50, null, null).peers).toEqual([n3, n4]);
    expect(Object.keys(m.view(50, null, null).lastHeardMs)).toEqual(['n3', 'n4']);
  });
});
