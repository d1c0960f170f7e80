// The hand-written check of client-socket requests must agree with the zod
// schema on every input: each valid shape, and each broken one field at a time.
import { describe, expect, it } from 'vitest';
import { clientRequestSchema, isRawRequest, parseClientFrame } from './client-socket';

const valid: Record<string, unknown>[] = [
  { id: 0, op: 'get', key: 'a' },
  { id: 1, op: 'put', key: 'a', value: 'v' },
  { id: 2, op: 'put', key: 'a', value: '', clientId: 'session-3', serial: 7 },
  { id: 3, op: 'put', key: 'a', value: 'v', clientId: 'session-3' },
  { id: 4, op: 'put', key: 'a', value: 'v', serial: 7 },
  { id: 5, op: 'delete', key: 'a' },
  { id: 6, op: 'delete', key: 'a', clientId: 'session-3', serial: 7 },
  { id: 7, op: 'cas', key: 'a', expected: null, value: 'v' },
  { id: 8, op: 'cas', key: 'a', expected: 'old', value: 'v', clientId: 'session-3', serial: 7 },
  { id: Number.MAX_SAFE_INTEGER, op: 'register' },
];

/** Values no field accepts, and some that only a few do. */
const replacements: unknown[] = [undefined, null, '', 'x', 0, -1, 1.5, 2 ** 53, true, {}, [], 'get', 'register'];

function agree(x: unknown): void {
  expect({ x, fast: isRawRequest(x) }).toEqual({ x, fast: clientRequestSchema.safeParse(x).success });
}

describe('isRawRequest', () => {
  it('accepts every valid shape', () => {
    for (const r of valid) expect(isRawRequest(r)).toBe(true);
  });

  it('agrees with the schema on each request broken one field at a time, or with a field more', () => {
    for (const r of valid) {
      for (const field of [...Object.keys(r), 'clientId', 'serial', 'expected', 'value', 'extra']) {
        for (const v of replacements) {
          const broken: Record<string, unknown> = { ...r };
          if (v === undefined) delete broken[field];
          else broken[field] = v;
          agree(broken);
        }
      }
    }
  });

  it('agrees on what is not an object', () => {
    for (const x of [null, 3, 'get', [], [valid[0]]]) agree(x);
  });
});

describe('parseClientFrame', () => {
  it('reads a frame of one request or an array of them', () => {
    expect(parseClientFrame(JSON.stringify(valid[0]))).toEqual({ ok: true, requests: [{ id: 0, kind: 'read', key: 'a' }] });
    const frame = parseClientFrame(JSON.stringify(valid));
    // A clientId without a serial (or the other way round) passes the shape and is refused by the session check.
    const kinds = ['read', 'write', 'write', 'refused', 'refused', 'write', 'write', 'write', 'write', 'write'];
    expect(frame.ok && frame.requests.map((r) => r.kind)).toEqual(kinds);
  });

  it("refuses a request the fast check does not take with the schema's words, by id", () => {
    const frame = parseClientFrame(JSON.stringify([{ id: 9, op: 'put', key: 'a', value: 3 }]));
    expect(frame).toMatchObject({ ok: true, requests: [{ id: 9, kind: 'refused', refusal: { error: 'bad_request' } }] });
    const first = frame.ok ? frame.requests[0] : undefined;
    expect(first?.kind === 'refused' && 'message' in first.refusal && first.refusal.message).toMatch(/value/);
  });
});
