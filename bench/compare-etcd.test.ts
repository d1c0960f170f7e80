// `npm run bench -- --compare etcd` without etcd: its command line, the etcd
// members' command lines, the gateway's request bodies, and the ratio table.
import { describe, expect, it } from 'vitest';
import { etcdPutBody, etcdRangeBody } from './clients/etcd-client';
import {
  compareLevels,
  etcdArgs,
  etcdMembers,
  etcdMissingMessage,
  formatComparison,
  parseCompareOptions,
  systemOrder,
  type CompareSample,
} from './compare-etcd-parts';

describe('parseCompareOptions', () => {
  it('has the defaults of the issue: 1 and 64 clients, 100-byte values, 1000 keys', () => {
    const o = parseCompareOptions(['--compare', 'etcd']);
    expect(o).toMatchObject({ rounds: 3, concurrency: [1, 64], valueSize: 100, keys: 1000, etcdBin: '/usr/bin/etcd', v8Flags: undefined });
    expect(o).toMatchObject({ client: 'raw', fresh: false });
  });

  it("--client picks raft-kv's load client: raw or ws, nothing else", () => {
    expect(parseCompareOptions(['--compare', 'etcd', '--client', 'ws'])).toMatchObject({ client: 'ws' });
    expect(() => parseCompareOptions(['--compare', 'etcd', '--client', 'http'])).toThrow(/--client must be raw or ws/);
  });

  it('reads every flag', () => {
    const o = parseCompareOptions([
      '--compare=etcd',
      '--rounds',
      '5',
      '--concurrency',
      '1,8,64',
      '--duration',
      '3',
      '--warmup',
      '0',
      '--value-size',
      '200',
      '--keys',
      '50',
      '--base-port',
      '19000',
      '--etcd-port',
      '24000',
      '--etcd',
      '/opt/etcd',
      '--v8-flags=',
      '--client',
      'ws',
      '--fresh',
      '--json',
      'x.json',
    ]);
    expect(o).toEqual({
      rounds: 5,
      concurrency: [1, 8, 64],
      durationS: 3,
      warmupS: 0,
      valueSize: 200,
      keys: 50,
      basePort: 19000,
      etcdPort: 24000,
      etcdBin: '/opt/etcd',
      v8Flags: [],
      client: 'ws',
      fresh: true,
      jsonPath: 'x.json',
    });
    expect(parseCompareOptions(['--compare', 'etcd', '--help'])).toBe('help');
  });

  it('refuses other systems, bad numbers and overlapping ports', () => {
    expect(() => parseCompareOptions(['--compare', 'zookeeper'])).toThrow(/only "etcd"/);
    expect(() => parseCompareOptions(['--compare', 'etcd', '--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseCompareOptions(['--compare', 'etcd', '--concurrency', '1,x'])).toThrow(/--concurrency/);
    expect(() => parseCompareOptions(['--compare', 'etcd', '--base-port', '23792'])).toThrow(/overlap/);
    expect(() => parseCompareOptions(['--compare', 'etcd', '--etcd-port', '18958'])).toThrow(/overlap/);
    expect(() => parseCompareOptions(['--compare', 'etcd', '--etcd', ''])).toThrow(/--etcd/);
  });

  it('tells a user without etcd which package to install', () => {
    expect(etcdMissingMessage('/usr/bin/etcd')).toContain('apt-get install -y etcd-server');
  });
});

describe('etcd command line', () => {
  it('puts three members on loopback, a client and a peer port each, in one new cluster', () => {
    const members = etcdMembers(23790);
    expect(members.map((m) => [m.name, m.clientUrl, m.peerUrl])).toEqual([
      ['m1', 'http://127.0.0.1:23790', 'http://127.0.0.1:23791'],
      ['m2', 'http://127.0.0.1:23792', 'http://127.0.0.1:23793'],
      ['m3', 'http://127.0.0.1:23794', 'http://127.0.0.1:23795'],
    ]);
    const args = etcdArgs(members[1]!, members, '/tmp/x/m2');
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    expect(flag('--name')).toBe('m2');
    expect(flag('--data-dir')).toBe('/tmp/x/m2');
    expect(flag('--listen-client-urls')).toBe('http://127.0.0.1:23792');
    expect(flag('--listen-peer-urls')).toBe('http://127.0.0.1:23793');
    expect(flag('--initial-cluster')).toBe('m1=http://127.0.0.1:23791,m2=http://127.0.0.1:23793,m3=http://127.0.0.1:23795');
    expect(flag('--initial-cluster-state')).toBe('new');
    // Nothing that would relax etcd's fsync per write.
    expect(args.join(' ')).not.toMatch(/unsafe-no-fsync/);
  });

  it('sends base64 keys and values to the JSON gateway; a range without serializable is linearizable', () => {
    expect(JSON.parse(etcdPutBody('bench-1', 'v'))).toEqual({ key: 'YmVuY2gtMQ==', value: 'dg==' });
    expect(JSON.parse(etcdRangeBody('bench-1'))).toEqual({ key: 'YmVuY2gtMQ==' });
  });
});

describe('the comparison', () => {
  it('alternates which system goes first', () => {
    expect(systemOrder(1)).toEqual(['raft-kv', 'etcd']);
    expect(systemOrder(2)).toEqual(['etcd', 'raft-kv']);
  });

  const sample = (system: 'raft-kv' | 'etcd', round: number, opsPerSec: number, p50Ms: number): CompareSample => ({
    system,
    round,
    op: 'write',
    concurrency: 64,
    opsPerSec,
    p50Ms,
    p99Ms: 2 * p50Ms,
    errors: 0,
  });

  it('takes medians per system and level, and the raft-kv / etcd ratio of the medians', () => {
    const levels = compareLevels([
      sample('raft-kv', 1, 6000, 10),
      sample('etcd', 1, 5000, 12),
      sample('etcd', 2, 4000, 14),
      sample('raft-kv', 2, 9000, 8),
      sample('raft-kv', 3, 7000, 9),
      sample('etcd', 3, 6000, 11),
    ]);
    expect(levels).toHaveLength(1);
    expect(levels[0]).toMatchObject({
      op: 'write',
      concurrency: 64,
      raftKv: { opsPerSec: 7000, p50Ms: 9, rounds: 3 },
      etcd: { opsPerSec: 5000, p50Ms: 12 },
    });
    expect(levels[0]!.ratio.opsPerSec).toBeCloseTo(1.4);
    expect(levels[0]!.ratio.p50Ms).toBeCloseTo(0.75);
    const table = formatComparison(levels, {
      raftKv: { rssMiB: 700, pssMiB: 500, processes: 9 },
      etcd: { rssMiB: 350, pssMiB: 340, processes: 3 },
    });
    expect(table).toContain('| writes/s | 64 | 7,000 | 5,000 | 1.40x |');
    expect(table).toContain('| write p50 ms | 64 | 9.00 | 12.00 | 0.75x |');
    expect(table).toContain('| memory after the load, RSS (9 / 3 processes) | | 700 MiB | 350 MiB | 2.00x |');
    expect(table).toContain('Medians of 3 alternating rounds; failed operations: 0.');
  });
});
