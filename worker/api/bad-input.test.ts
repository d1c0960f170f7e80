// Every kind of bad client input gets a 4xx JSON body that says what is wrong,
// and the node never sees the request.
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeNode, appWith } from '../../test/doubles/fake-node';

const base = 'http://127.0.0.1:8787';
let node: FakeNode;
let app: ReturnType<typeof appWith>;

beforeEach(() => {
  node = new FakeNode();
  app = appWith(node);
});

const kb64 = 64 * 1024;
const json = (body: unknown) => ({
  method: 'POST',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'Content-Type': 'application/json' },
});
const putWith = (headers: Record<string, string>) => ({ method: 'PUT', body: 'v', headers });

type Case = [name: string, path: string, init: RequestInit | undefined, status: number, error: string];

const cases: Case[] = [
  // keys
  ['empty key (GET /kv/)', '/kv/', undefined, 400, 'bad_request'],
  ['empty key (PUT /kv)', '/kv', { method: 'PUT', body: 'v' }, 400, 'bad_request'],
  ['empty seed key', '/get/', undefined, 400, 'bad_request'],
  ['key of 513 bytes', `/kv/${'k'.repeat(513)}`, undefined, 400, 'bad_request'],
  ['key of 514 bytes in 257 characters', `/kv/${'%C3%A9'.repeat(257)}`, undefined, 400, 'bad_request'],
  ['oversized key on PUT', `/kv/${'k'.repeat(600)}`, { method: 'PUT', body: 'v' }, 400, 'bad_request'],
  ['oversized seed key', `/set/${'k'.repeat(600)}`, json({ clientId: 1, value: 'v', requestSerial: 1 }), 400, 'bad_request'],
  ['truncated percent-encoding', '/kv/%E0%A4', undefined, 400, 'bad_request'],
  ['invalid percent-escape', '/kv/a%ZZ', undefined, 400, 'bad_request'],
  ['percent-encoded invalid UTF-8', '/kv/%FF', undefined, 400, 'bad_request'],
  // values
  ['value over 64 KiB', '/kv/k', { method: 'PUT', body: 'x'.repeat(kb64 + 1) }, 413, 'payload_too_large'],
  ['value over 64 KiB in UTF-8', '/kv/k', { method: 'PUT', body: 'é'.repeat(kb64 / 2 + 1) }, 413, 'payload_too_large'],
  ['value that is not UTF-8', '/kv/k', { method: 'PUT', body: new Uint8Array([0x61, 0xff, 0xfe]) }, 400, 'bad_request'],
  // A lone surrogate has no UTF-8 form; stored, it would come back as other bytes.
  ['seed value with a lone high surrogate', '/set/k', json('{"clientId":1,"value":"a\\ud800","requestSerial":0}'), 400, 'bad_request'],
  ['seed value with a lone low surrogate', '/set/k', json('{"clientId":1,"value":"\\udc00b","requestSerial":0}'), 400, 'bad_request'],
  ['cas value with a lone surrogate', '/kv/k/cas', json('{"expected":null,"value":"\\ud83d"}'), 400, 'bad_request'],
  ['cas expected with a lone surrogate', '/kv/k/cas', json('{"expected":"\\ude00","value":"v"}'), 400, 'bad_request'],
  // cas bodies
  ['cas: malformed JSON', '/kv/k/cas', json('{"expected":'), 400, 'bad_request'],
  ['cas: empty body', '/kv/k/cas', json(''), 400, 'bad_request'],
  ['cas: expected missing', '/kv/k/cas', json({ value: 'v' }), 400, 'bad_request'],
  ['cas: value missing', '/kv/k/cas', json({ expected: null }), 400, 'bad_request'],
  ['cas: value is a number', '/kv/k/cas', json({ expected: null, value: 1 }), 400, 'bad_request'],
  ['cas: value is null', '/kv/k/cas', json({ expected: 'a', value: null }), 400, 'bad_request'],
  ['cas: expected is an object', '/kv/k/cas', json({ expected: {}, value: 'v' }), 400, 'bad_request'],
  ['cas: unknown field', '/kv/k/cas', json({ expected: null, value: 'v', expect: 'x' }), 400, 'bad_request'],
  ['cas: array body', '/kv/k/cas', json([null, 'v']), 400, 'bad_request'],
  ['cas: JSON string body', '/kv/k/cas', json('"v"'), 400, 'bad_request'],
  ['cas: value over 64 KiB', '/kv/k/cas', json({ expected: null, value: 'x'.repeat(kb64 + 1) }), 413, 'payload_too_large'],
  ['cas: expected over 64 KiB', '/kv/k/cas', json({ expected: 'x'.repeat(kb64 + 1), value: 'v' }), 413, 'payload_too_large'],
  ['cas: body over 1 MiB', '/kv/k/cas', json(' '.repeat(1024 * 1024 + 1)), 413, 'payload_too_large'],
  // request identity
  ['Client-Id without Request-Serial', '/kv/k', putWith({ 'Client-Id': 'session-1' }), 400, 'bad_request'],
  ['Request-Serial without Client-Id', '/kv/k', putWith({ 'Request-Serial': '1' }), 400, 'bad_request'],
  ['empty Client-Id', '/kv/k', putWith({ 'Client-Id': '', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Client-Id of 129 characters', '/kv/k', putWith({ 'Client-Id': 'c'.repeat(129), 'Request-Serial': '1' }), 400, 'bad_request'],
  // Only registered sessions (POST /sessions) may carry writes: docs/sessions.md.
  ['Client-Id chosen by the client', '/kv/k', putWith({ 'Client-Id': 'alice', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Client-Id numeric', '/kv/k', putWith({ 'Client-Id': '7', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Client-Id of a seed client', '/kv/k', putWith({ 'Client-Id': 'seed-7', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Client-Id session-0', '/kv/k', putWith({ 'Client-Id': 'session-0', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Client-Id session-07', '/kv/k', putWith({ 'Client-Id': 'session-07', 'Request-Serial': '1' }), 400, 'bad_request'],
  ['Request-Serial 0', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': '0' }), 400, 'bad_request'],
  ['Request-Serial negative', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': '-1' }), 400, 'bad_request'],
  ['Request-Serial fractional', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': '1.5' }), 400, 'bad_request'],
  ['Request-Serial not a number', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': 'one' }), 400, 'bad_request'],
  ['Request-Serial with leading zero', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': '07' }), 400, 'bad_request'],
  ['Request-Serial above 2^53-1', '/kv/k', putWith({ 'Client-Id': 'session-1', 'Request-Serial': '9007199254740992' }), 400, 'bad_request'],
  // The seed route adds one to its serial; 2^53-1 + 1 is not a safe integer.
  ['seed requestSerial 2^53-1', '/set/k', json({ clientId: 9, value: 'v', requestSerial: 9007199254740991 }), 400, 'bad_request'],
  [
    'Client-Id sent twice',
    '/kv/k',
    {
      method: 'PUT',
      body: 'v',
      headers: [
        ['Client-Id', 'a'],
        ['Client-Id', 'b'],
        ['Request-Serial', '1'],
      ],
    },
    400,
    'bad_request',
  ],
  [
    'Request-Serial sent twice',
    '/kv/k',
    {
      method: 'PUT',
      body: 'v',
      headers: [
        ['Client-Id', 'a'],
        ['Request-Serial', '1'],
        ['Request-Serial', '2'],
      ],
    },
    400,
    'bad_request',
  ],
  [
    'Client-Id sent twice on DELETE',
    '/kv/k',
    {
      method: 'DELETE',
      headers: [
        ['Client-Id', 'a'],
        ['Client-Id', 'a'],
        ['Request-Serial', '1'],
      ],
    },
    400,
    'bad_request',
  ],
  ['half an identity on DELETE', '/kv/k', { method: 'DELETE', headers: { 'Client-Id': 'session-1' } }, 400, 'bad_request'],
  [
    'half an identity on cas',
    '/kv/k/cas',
    { ...json({ expected: null, value: 'v' }), headers: { 'Request-Serial': '2' } },
    400,
    'bad_request',
  ],
  // routes and methods
  ['unknown route', '/nope', undefined, 404, 'not_found_route'],
  ['unknown route under /kv', '/kv/a/b', undefined, 404, 'not_found_route'],
  ['root', '/', undefined, 404, 'not_found_route'],
  ['PATCH /kv/:key', '/kv/k', { method: 'PATCH', body: 'v' }, 405, 'method_not_allowed'],
  ['POST /kv/:key', '/kv/k', { method: 'POST', body: 'v' }, 405, 'method_not_allowed'],
  ['GET /kv/:key/cas', '/kv/k/cas', undefined, 405, 'method_not_allowed'],
  ['GET /raft/messages', '/raft/messages', undefined, 405, 'method_not_allowed'],
  ['PUT /status', '/status', { method: 'PUT' }, 405, 'method_not_allowed'],
  ['GET /set/:key', '/set/k', undefined, 405, 'method_not_allowed'],
  ['DELETE /delete/:key', '/delete/k', { method: 'DELETE' }, 405, 'method_not_allowed'],
];

describe('bad input', () => {
  it.each(cases)('%s → %i', async (_, path, init, status, error) => {
    const res = await app.request(`${base}${path}`, init);
    expect(res.status).toBe(status);
    expect(res.headers.get('Content-Type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: string; message?: string };
    expect(body.error).toBe(error);
    expect(typeof body.message).toBe('string');
    expect(body.message!.length).toBeGreaterThan(0);
    expect(node.calls).toEqual([]);
  });

  it.each([
    [
      'Client-Id',
      [
        ['Client-Id', 'a'],
        ['Client-Id', 'b'],
        ['Request-Serial', '1'],
      ],
    ],
    [
      'Request-Serial',
      [
        ['Client-Id', 'a'],
        ['Request-Serial', '1'],
        ['Request-Serial', '2'],
      ],
    ],
  ])('a repeated %s is refused as repeated, not taken as the joined value', async (name, headers) => {
    const res = await app.request(`${base}/kv/k`, { method: 'PUT', body: 'v', headers: headers as [string, string][] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      `${name} was sent more than once${name === 'Client-Id' ? ' (or contains a comma)' : ''}; send it once`,
    );
    expect(node.calls).toEqual([]);
  });

  it('405 names the allowed methods in Allow', async () => {
    const res = await app.request(`${base}/kv/k`, { method: 'PATCH' });
    expect(res.headers.get('Allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PUT']);
    const cas = await app.request(`${base}/kv/k/cas`, { method: 'PUT' });
    expect(cas.headers.get('Allow')).toBe('POST');
  });

  it('caps a streamed body that declares no length', async () => {
    const chunk = new Uint8Array(16 * 1024).fill(0x61);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 10) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await app.request(`${base}/kv/k`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(10);
    expect(node.calls).toEqual([]);
  });

  // What the runtime does with a chunked body whose chunk size is malformed: the stream errors mid-read.
  const brokenBody = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([0x61]));
        controller.error(new TypeError('Parse Error: Invalid character in chunk size'));
      },
    });

  it.each([
    ['PUT /kv/k', '/kv/k', 'PUT'],
    ['POST /kv/k/cas', '/kv/k/cas', 'POST'],
    ['POST /set/k', '/set/k', 'POST'],
  ])('a body that cannot be read (%s) is a 400, not a 500', async (_, path, method) => {
    const res = await app.request(`${base}${path}`, { method, body: brokenBody(), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('bad_request');
    expect(body.message).toMatch(/body could not be read/);
    expect(body.message).not.toMatch(/Parse Error/); // the runtime's text is not echoed
    expect(node.calls).toEqual([]);
  });

  it('refuses a declared Content-Length over the cap without reading', async () => {
    const res = await app.request(`${base}/kv/k`, {
      method: 'PUT',
      body: 'small',
      headers: { 'Content-Length': String(kb64 + 1) },
    });
    expect(res.status).toBe(413);
  });
});

describe('limits are inclusive', () => {
  it('accepts a key of exactly 512 bytes and a value of exactly 64 KiB', async () => {
    const key = 'é'.repeat(256);
    const value = 'v'.repeat(kb64);
    const res = await app.request(`${base}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
    expect(res.status).toBe(200);
    expect(node.store.get(key)).toBe(value);
  });

  it('accepts a surrogate pair (an emoji) sent as JSON escapes', async () => {
    const res = await app.request(`${base}/set/k`, json('{"clientId":1,"value":"\\ud83d\\ude00","requestSerial":0}'));
    expect(res.status).toBe(200);
    expect(node.store.get('k')).toBe('\u{1F600}');
  });

  it('accepts Request-Serial 2^53-1 and a Client-Id of 128 characters', async () => {
    const id = `session-${'9'.repeat(120)}`;
    const res = await app.request(`${base}/kv/k`, putWith({ 'Client-Id': id, 'Request-Serial': '9007199254740991' }));
    expect(res.status).toBe(200);
  });

  it('accepts seed requestSerial 2^53-2, which the node sees as 2^53-1', async () => {
    const res = await app.request(`${base}/set/k`, json({ clientId: 9, value: 'v', requestSerial: 9007199254740990 }));
    expect(res.status).toBe(200);
    expect(node.calls[0]).toMatchObject({ req: { session: { clientId: 'seed-9', serial: 9007199254740991 } } });
  });
});
