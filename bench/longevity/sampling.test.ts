// The longevity benchmark's folder sizing and polling.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { folderBytes, Poller } from './sampling';

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
