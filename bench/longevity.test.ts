// The longevity benchmark's options and its folder sizing (the run itself
// starts a cluster: `npm run bench -- --longevity --writes 100000`).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderBytes, parseLongevityOptions } from './longevity';

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

  it.each([
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
