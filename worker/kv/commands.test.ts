import { describe, expect, it } from 'vitest';
import { decodeRequest, encodeCommand, encodeRequest } from './commands';
import type { KvRequest } from './commands';

describe('request encoding', () => {
  const requests: KvRequest[] = [
    { cmd: { op: 'set', key: 'k', value: 'v' } },
    { cmd: { op: 'delete', key: '' } },
    { cmd: { op: 'cas', key: 'k', expected: null, value: 'v' }, session: { clientId: 'c', serial: 1 } },
    { cmd: { op: 'cas', key: 'ü😀', expected: 'a"b', value: '\n' }, session: { clientId: 'c', serial: 2 ** 40 } },
  ];

  it.each(requests)('round-trips %j', (req) => {
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });

  it('is canonical whatever the field order of the input', () => {
    const shuffled = { session: { serial: 3, clientId: 'c' }, cmd: { value: 'v', key: 'k', op: 'set' } } as KvRequest;
    expect(encodeRequest(shuffled)).toBe(
      encodeRequest({ cmd: { op: 'set', key: 'k', value: 'v' }, session: { clientId: 'c', serial: 3 } }),
    );
    expect(encodeCommand({ value: 'v', op: 'set', key: 'k' } as never)).toBe('{"op":"set","key":"k","value":"v"}');
  });

  it('keeps a well-formed digest that comes with a session, and refuses any other', () => {
    const req = {
      cmd: { op: 'set', key: 'k', value: 'v' },
      session: { clientId: 'c', serial: 1 },
      digest: 'ungWv48Bz+pBQUDeXa4iIw',
    } as const;
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
    expect(() => encodeRequest({ ...req, digest: 'short' })).toThrow(/digest/);
    expect(() => encodeRequest({ cmd: req.cmd, digest: req.digest })).toThrow(/only with a session/);
  });

  it('drops fields a command does not have', () => {
    const data = '{"cmd":{"op":"delete","key":"k","value":"x"},"extra":1}';
    expect(decodeRequest(data)).toEqual({ cmd: { op: 'delete', key: 'k' } });
  });

  it('treats an undefined session as no session', () => {
    expect(encodeRequest({ cmd: { op: 'delete', key: 'k' }, session: undefined })).toBe('{"cmd":{"op":"delete","key":"k"}}');
  });
});

describe('decodeRequest throws on garbage', () => {
  const garbage: [string, string][] = [
    ['not JSON', '{'],
    ['empty', ''],
    ['a number', '42'],
    ['null', 'null'],
    ['an array', '[]'],
    ['no cmd', '{}'],
    ['unknown op', '{"cmd":{"op":"get","key":"k"}}'],
    ['missing key', '{"cmd":{"op":"delete"}}'],
    ['numeric value', '{"cmd":{"op":"set","key":"k","value":1}}'],
    ['cas without expected', '{"cmd":{"op":"cas","key":"k","value":"v"}}'],
    ['null session', '{"cmd":{"op":"delete","key":"k"},"session":null}'],
    ['empty clientId', '{"cmd":{"op":"delete","key":"k"},"session":{"clientId":"","serial":1}}'],
    ['serial 0', '{"cmd":{"op":"delete","key":"k"},"session":{"clientId":"c","serial":0}}'],
    ['fractional serial', '{"cmd":{"op":"delete","key":"k"},"session":{"clientId":"c","serial":1.5}}'],
    ['string serial', '{"cmd":{"op":"delete","key":"k"},"session":{"clientId":"c","serial":"1"}}'],
  ];

  it.each(garbage)('%s', (_name, data) => {
    expect(() => decodeRequest(data)).toThrow(/invalid kv request/);
  });

  it('encodeRequest refuses a malformed request before it reaches the log', () => {
    expect(() => encodeRequest({ cmd: { op: 'set', key: 'k', value: 'v' }, session: { clientId: 'c', serial: -1 } })).toThrow(
      /positive integer/,
    );
  });
});
