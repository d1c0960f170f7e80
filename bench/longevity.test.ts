// The longevity benchmark's options and its folder sizing (the run itself
// starts a cluster: `npm run bench -- --longevity --writes 100000`).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderBytes, parseLongevityOptions, Poller } from './longevity';

describe('longevity options', () => {
  it('defaults to the figures issue 16 names', () => {
    expect(parseLongevityOptions(['--longevity'])).toMatchObject({
      writes: 1_000_000,
      clients: 64,
      valueSize: 100,
      keys: 10_000,
      sampleEvery: 100_000,
      client: 'raw',
    });
  });

  it('takes the thresholds the nodes run with', () => {
    expect(
      parseLongevityOptions(['--longevity', '--writes', '2000', '--sample-every', '500', '--snapshot-every', '100', '--log-retain', '0']),
    ).toMatchObject({
      writes: 2000,
      sampleEvery: 500,
      snapshotEvery: 100,
      logRetain: 0,
    });
  });

  it('--fill writes each key once and reads back; --catch-up and --no-restart', () => {
    expect(parseLongevityOptions(['--fill', '--keys', '1000000', '--value-size', '1024'])).toMatchObject({
      fill: true,
      writes: 1_000_000,
      keys: 1_000_000,
      valueSize: 1024,
      sampleEvery: 100_000,
      reads: 10_000,
      restart: true,
    });
    expect(parseLongevityOptions(['--fill', '--keys', '5000'])).toMatchObject({ writes: 5000, sampleEvery: 5000 });
    expect(parseLongevityOptions(['--fill', '--keys', '1000', '--first-key', '400', '--resume', '/tmp/x'])).toMatchObject({
      writes: 600,
      firstKey: 400,
      resume: '/tmp/x',
    });
    expect(parseLongevityOptions(['--catch-up', '--writes', '200000', '--no-restart'])).toMatchObject({
      catchUp: true,
      writes: 200_000,
      restart: false,
      reads: 0,
      pollMs: 1000,
    });
  });

  it.each([
    [['--poll-ms', '10'], /--poll-ms must be an integer from 50/],
    [['--fill', '--keys', '100', '--first-key', '60', '--writes', '50'], /--first-key 60 \+ --writes 50 is more than --keys 100/],
    [['--first-key', '5'], /--first-key goes with --fill/],
    [['--writes', '0'], /--writes must be an integer from 1/],
    [['--writes', '10', '--sample-every', '100'], /--sample-every 100 is more than --writes 10/],
    [['--snapshot-every', '0'], /--snapshot-every must be an integer from 1/],
    [['--client', 'curl'], /--client must be one of client\|http\|raw/],
    [['--duration', '5'], /unknown option --duration/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLongevityOptions(argv)).toThrow(message);
  });
});

describe('folderBytes', () => {
  it('adds up every file below a folder, and a missing folder is 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-kv-folder-bytes-'));
    try {
      mkdirSync(join(dir, 'do', 'sub'), { recursive: true });
      writeFileSync(join(dir, 'a'), 'x'.repeat(1000));
      writeFileSync(join(dir, 'do', 'b.sqlite'), 'y'.repeat(2000));
      writeFileSync(join(dir, 'do', 'sub', 'c-wal'), 'z'.repeat(30));
      expect(folderBytes(dir)).toBe(3030);
      expect(folderBytes(join(dir, 'absent'))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Poller', () => {
  it('keeps the largest folder per block and overall, and the mean RSS of a block, leaving out a stopped node', () => {
    const readings: Record<string, { dataMiB: number; rssMiB: number }[]> = {
      a: [
        { dataMiB: 10, rssMiB: 100 },
        { dataMiB: 30, rssMiB: 110 },
        { dataMiB: 12, rssMiB: 120 },
        { dataMiB: 11, rssMiB: 90 },
      ],
      b: [
        { dataMiB: 5, rssMiB: 80 },
        { dataMiB: 5, rssMiB: 0 },
        { dataMiB: 6, rssMiB: 0 },
        { dataMiB: 6, rssMiB: 70 },
      ],
    };
    const p = new Poller(['a', 'b'], (id) => readings[id]!.shift()!);
    p.poll();
    p.poll();
    const first = p.endBlock();
    expect(first.polls).toBe(3);
    expect(first.nodes.get('a')).toEqual({ dataMiB: 12, rssMiB: 120, dataMaxMiB: 30, rssMeanMiB: 110 });
    expect(first.nodes.get('b')).toEqual({ dataMiB: 6, rssMiB: 0, dataMaxMiB: 6, rssMeanMiB: 80 });
    const second = p.endBlock();
    expect(second.nodes.get('a')).toMatchObject({ dataMaxMiB: 11, rssMeanMiB: 90 });
    expect(p.dataMax).toEqual({ a: 30, b: 6 });
    expect(p.rssMax).toEqual({ a: 120, b: 80 });
  });
});
