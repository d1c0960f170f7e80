import { describe, expect, it } from 'vitest';
import { checkKey, checkValue, parseKeyFromUrl, utf8Length } from './schemas';

describe('utf8Length', () => {
  it('counts what TextEncoder writes, lone surrogates included', () => {
    const units = ['a', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\ud83d\ude00', '\ud83d', '\ude00', '\u00e9', '\u4e2d'];
    const enc = new TextEncoder();
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      let s = '';
      for (let j = rand(12); j > 0; j--) s += units[rand(units.length)];
      expect(utf8Length(s), JSON.stringify(s)).toBe(enc.encode(s).length);
    }
  });
});

describe('parseKeyFromUrl', () => {
  it('takes the raw path segment, without the query', () => {
    expect(parseKeyFromUrl('http://127.0.0.1:8787/kv/a%2Fb?x=1', 2)).toEqual({ ok: true, value: 'a/b' });
    expect(parseKeyFromUrl('http://h/kv/%E2%82%AC/cas', 2)).toEqual({ ok: true, value: '\u20ac' });
    expect(parseKeyFromUrl('http://h/kv/', 2).ok).toBe(false);
    expect(parseKeyFromUrl('http://h/kv/%E0%A4', 2).ok).toBe(false);
  });
});

describe('checkKey and checkValue', () => {
  it('refuse a lone surrogate and accept a pair', () => {
    for (const bad of ['\ud800', 'a\udc00', '\ude00\ud83d']) {
      expect(checkKey(bad).ok, JSON.stringify(bad)).toBe(false);
      expect(checkValue(bad).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(checkKey('\ud83d\ude00')).toEqual({ ok: true, value: '\u{1F600}' });
    expect(checkValue('\ud83d\ude00')).toEqual({ ok: true, value: '\u{1F600}' });
  });
});
