import { describe, expect, it } from 'vitest';
import { parseV8Flags, readV8Flags, withV8Flags } from './workerd-v8-flags';

// Cap'n Proto messages built by hand, shaped like workerd's Config: a root
// struct with one data word and five pointers (v8Flags is pointer 2).

function word(lo: number, hi: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(lo >>> 0, 0);
  b.writeUInt32LE(hi >>> 0, 4);
  return b;
}

const structPointer = (offset: number, dataWords: number, pointerWords: number): Buffer =>
  word(offset << 2, dataWords | (pointerWords << 16));

function message(segments: Buffer[]): Buffer {
  const header = Buffer.alloc((4 + 4 * segments.length + 7) & ~7);
  header.writeUInt32LE(segments.length - 1, 0);
  segments.forEach((s, i) => header.writeUInt32LE(s.byteLength / 8, 4 + 4 * i));
  return Buffer.concat([header, ...segments]);
}

/** Root pointer, then the struct: one data word (0xAB...) and `pointers` pointers, the first a list of 3 bytes ("hi\0"). */
function configLike(pointers = 5): Buffer {
  const data = word(0xabababab, 0xcdcdcdcd);
  const ptrs = Array.from({ length: pointers }, () => word(0, 0));
  // Pointer 0: a byte list of 3 elements, right after the pointer section.
  ptrs[0] = word(((pointers - 1) << 2) | 1, (3 << 3) | 2);
  const text = Buffer.from('hi\0\0\0\0\0\0', 'latin1');
  return message([Buffer.concat([structPointer(0, 1, pointers), data, ...ptrs, text])]);
}

describe('withV8Flags', () => {
  it('adds the flags to a message that has none, and leaves the rest alone', () => {
    const before = configLike();
    expect(readV8Flags(before)).toEqual([]);
    const after = withV8Flags(before, ['--max-semi-space-size=1', '--single-threaded-gc']);
    expect(readV8Flags(after)).toEqual(['--max-semi-space-size=1', '--single-threaded-gc']);
    // Segment 0 is byte for byte the same except the v8Flags pointer (root word 0, data word 1, pointers from word 2).
    const seg0Before = before.subarray(8);
    const seg0After = after.subarray(16, 16 + seg0Before.byteLength);
    const slot = (2 + 2) * 8;
    expect(Buffer.compare(seg0After.subarray(0, slot), seg0Before.subarray(0, slot))).toBe(0);
    expect(Buffer.compare(seg0After.subarray(slot + 8), seg0Before.subarray(slot + 8))).toBe(0);
    // The new segment is listed in the table.
    expect(after.readUInt32LE(0)).toBe(1);
    expect(after.readUInt32LE(4)).toBe(seg0Before.byteLength / 8);
  });

  it('encodes texts of every length relative to the word size', () => {
    const flags = ['--a', '--abcde', '--abcdef', '--abcdefghijklmnop', '--x=é'];
    expect(readV8Flags(withV8Flags(configLike(), flags))).toEqual(flags);
  });

  it('an empty list sets an empty list', () => {
    expect(readV8Flags(withV8Flags(configLike(), []))).toEqual([]);
  });

  it('replaces flags the message already has', () => {
    const once = withV8Flags(configLike(), ['--one']);
    expect(readV8Flags(withV8Flags(once, ['--two', '--three']))).toEqual(['--two', '--three']);
  });

  it('keeps the other segments of a multi-segment message', () => {
    const single = configLike();
    const seg0 = single.subarray(8);
    const seg1 = Buffer.concat([word(1, 2), word(3, 4)]);
    const two = message([seg0, seg1]);
    const after = withV8Flags(two, ['--expose-gc']);
    expect(readV8Flags(after)).toEqual(['--expose-gc']);
    expect(after.readUInt32LE(0)).toBe(2); // three segments
    // Header: 4 + 3*4 = 16 bytes; segment 1 follows segment 0 unchanged.
    const seg1At = 16 + seg0.byteLength;
    expect(Buffer.compare(after.subarray(seg1At, seg1At + 16), seg1)).toBe(0);
  });

  it('follows a root pointer that is a far pointer', () => {
    // Segment 0: only a far pointer to word 0 of segment 1; segment 1: landing pad (struct pointer) and the struct.
    const inner = configLike().subarray(8); // root pointer + struct, as one segment
    const far = word((0 << 3) | 2, 1);
    const msg = message([far, inner]);
    const after = withV8Flags(msg, ['--expose-gc']);
    expect(readV8Flags(after)).toEqual(['--expose-gc']);
  });

  it('refuses what is not a workerd config message', () => {
    expect(() => withV8Flags(Buffer.alloc(4), ['--a'])).toThrow(/too short/);
    const bad = Buffer.from(configLike());
    bad.writeUInt32LE(99, 4); // segment size that does not match
    expect(() => withV8Flags(bad, ['--a'])).toThrow(/segment table/);
    const notStruct = message([Buffer.concat([word(1, 0), word(0, 0)])]);
    expect(() => withV8Flags(notStruct, ['--a'])).toThrow(/not a struct pointer/);
    expect(() => withV8Flags(configLike(2), ['--a'])).toThrow(/2 pointers/);
    const outside = message([structPointer(5, 1, 5)]);
    expect(() => withV8Flags(outside, ['--a'])).toThrow(/outside/);
  });
});

describe('parseV8Flags', () => {
  it('splits on white space; empty means none', () => {
    expect(parseV8Flags('--v8-flags', '')).toEqual([]);
    expect(parseV8Flags('--v8-flags', '  --max-semi-space-size=1   --single-threaded-gc ')).toEqual([
      '--max-semi-space-size=1',
      '--single-threaded-gc',
    ]);
  });

  it('refuses words that are not flags', () => {
    expect(() => parseV8Flags('--v8-flags', '--a b')).toThrow('--v8-flags: "b" is not a V8 flag');
    expect(() => parseV8Flags('V8_FLAGS', '--=1')).toThrow(/V8_FLAGS/);
  });
});
