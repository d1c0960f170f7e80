import { describe, expect, it } from 'vitest';
import { KvStateMachine } from './store';
import { encodeRequest } from './commands';
import { SnapshotParser, compareCodePoints } from './snapshot-format';
import type { SessionRecord } from './sessions';

describe('snapshot format', () => {
  it('a parser fed the snapshot in pieces cut anywhere sees the same lines as one fed it whole', () => {
    const m = new KvStateMachine();
    let index = 0;
    const apply = (req: Parameters<typeof encodeRequest>[0]) =>
      m.apply({ index: ++index, term: 1, kind: 'command', data: encodeRequest(req) });
    for (let i = 0; i < 50; i++)
      apply({
        cmd: { op: 'set', key: `k${i}\n${'é'.repeat(i)}`, value: `v\n${i}` },
        session: { clientId: `c${i % 4}`, serial: 1 + Math.floor(i / 4) },
      });
    apply({ register: true });
    const text = m.snapshot();
    const read = (pieces: string[]) => {
      const pairs: [string, string][] = [];
      const sessions: SessionRecord[] = [];
      const p = new SnapshotParser({ pair: (k, v) => pairs.push([k, v]), session: (r) => sessions.push(r) });
      for (const piece of pieces) p.feed(piece);
      return { counts: p.end(), pairs, sessions };
    };
    const whole = read([text]);
    expect(whole.counts).toEqual({ keys: 50, sessions: 5 });
    for (const size of [1, 2, 7, 100, 4096]) {
      const pieces: string[] = [];
      for (let at = 0; at < text.length; at += size) pieces.push(text.slice(at, at + size));
      expect(read(pieces)).toEqual(whole);
    }
  });

  it('compareCodePoints orders as UTF-8 bytes do', () => {
    const words = ['', 'a', 'ab', 'b', '\u00e9', '\uD7FF', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}'];
    const bytes = (s: string) => [...new TextEncoder().encode(s)];
    const byBytes = [...words].sort((x, y) => {
      const a = bytes(x);
      const b = bytes(y);
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return a.length - b.length;
    });
    expect([...words].reverse().sort(compareCodePoints)).toEqual(byBytes);
  });
});
