// `npm start`'s typed commands and the node list it keeps once the cluster grew or shrank.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialLayout, layoutFile, nextNode, parseTyped, readLayout, writeLayout } from './cluster-layout';

describe('typed commands', () => {
  it('parses add, remove, transfer, members and help, and says what is wrong with anything else', () => {
    expect(parseTyped('  ')).toBeNull();
    expect(parseTyped('add')).toEqual({ type: 'add' });
    expect(parseTyped(' add  n9 ')).toEqual({ type: 'add', id: 'n9' });
    expect(parseTyped('remove n2')).toEqual({ type: 'remove', id: 'n2' });
    expect(parseTyped('transfer n3')).toEqual({ type: 'transfer', id: 'n3' });
    expect(parseTyped('members')).toEqual({ type: 'members' });
    expect(parseTyped('remove')).toEqual({ type: 'error', message: 'remove needs a node id (type help)' });
    expect(parseTyped('grow n4')).toEqual({ type: 'error', message: 'unknown command "grow" (type help)' });
    expect(parseTyped('add n4 n5')).toMatchObject({ type: 'error', message: expect.stringMatching(/too many words/) });
    expect(parseTyped('members n1')).toEqual({ type: 'error', message: 'members takes no argument' });
  });
});

describe('node list', () => {
  it('gives a new node the next port and an id never used, even by a removed node', () => {
    const layout = initialLayout(3, 8787);
    expect(layout.map((n) => `${n.id}:${n.port}:${n.joined}`)).toEqual(['n1:8787:false', 'n2:8788:false', 'n3:8789:false']);
    const used = new Set(['n1', 'n2', 'n3', 'n4']); // n4 was added and removed
    expect(nextNode(layout, used)).toEqual({ id: 'n5', port: 8790, joined: true });
    expect(nextNode(layout, used, 'x1')).toEqual({ id: 'x1', port: 8790, joined: true });
    expect(() => nextNode(layout, used, 'n4')).toThrow(/ids are never reused/);
    expect(() => nextNode(layout, used, 'bad id')).toThrow(/must be 1-64 letters/);
  });

  it('is written atomically and read back; a file it did not write is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'raft-kv-layout-'));
    try {
      expect(readLayout(dir)).toBeNull();
      const nodes = [...initialLayout(3, 8787).slice(1), { id: 'n4', port: 8790, joined: true }];
      writeLayout(dir, nodes, new Set(['n1', 'n2', 'n3', 'n4']));
      expect(readLayout(dir)).toEqual({ nodes, used: ['n1', 'n2', 'n3', 'n4'] });
      writeFileSync(layoutFile(dir), '{"nodes": []}');
      expect(() => readLayout(dir)).toThrow(/is not a node list this launcher wrote/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
