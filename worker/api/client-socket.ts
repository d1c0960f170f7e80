// The client socket's frames (docs/client-sockets.md): what a client may send
// on GET /v1/socket and how each request is checked. Every request gets the
// checks its HTTP route applies (schemas.ts), before anything reaches the
// node, and its answer is the HTTP answer's status and JSON body
// (kv-answers.ts, errors.ts), under the request's id.
import { z } from 'zod';
import type { KvCommand, KvRequest } from '../kv/commands';
import { refusalAnswer, type Refusal } from './errors';
import type { KvAnswer } from './kv-answers';
import { checkKey, checkSession, checkValue, describeIssues, MAX_JSON_BODY_BYTES, utf8Length, type Parsed } from './schemas';

/** The route that upgrades to a client socket. Not under /kv/, where it would shadow the key "socket". */
export const clientSocketPath = '/v1/socket';

/** Largest frame a client may send, in UTF-8 bytes: one request with the largest value fits, escaped. */
export const MAX_CLIENT_FRAME_BYTES = MAX_JSON_BODY_BYTES;
/** Most requests in one frame. */
export const MAX_FRAME_REQUESTS = 256;
/** Most requests of one socket waiting for their answers; beyond it a request is refused with 429. */
export const MAX_IN_FLIGHT = 1024;

const id = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Numbers in JSON, checked as the Request-Serial header's text is. */
const identity = { clientId: z.string().optional(), serial: z.number().optional() };
export const clientRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ id, op: z.literal('get'), key: z.string() }),
  z.strictObject({ id, op: z.literal('put'), key: z.string(), value: z.string(), ...identity }),
  z.strictObject({ id, op: z.literal('delete'), key: z.string(), ...identity }),
  z.strictObject({ id, op: z.literal('cas'), key: z.string(), expected: z.string().nullable(), value: z.string(), ...identity }),
  z.strictObject({ id, op: z.literal('register') }),
]);
type RawRequest = z.infer<typeof clientRequestSchema>;

/** A request that passed every check: a linearizable read, a write (command or registration), or its refusal. */
export type ClientRequest =
  | { id: number; kind: 'read'; key: string }
  | { id: number; kind: 'write'; req: KvRequest; cmd: KvCommand | null }
  | { id: number; kind: 'refused'; refusal: Refusal };

/** A frame: its requests, or (id null) why none of it can be answered request by request. */
export type ParsedFrame =
  | { ok: true; requests: ClientRequest[] }
  | { ok: false; close: true; code: number; reason: string }
  | { ok: false; close: false; refusal: Refusal };

/** One answer as sent: the id (null for a frame-level refusal), and the HTTP status and body of the same request. */
export interface ClientAnswer {
  id: number | null;
  status: number;
  body: Record<string, unknown>;
}

const sessionNames = { clientId: 'clientId', serial: 'serial', register: 'a {"op": "register"} request' };

export function parseClientFrame(data: string | ArrayBuffer): ParsedFrame {
  // Text only: a binary frame is not something a client of this protocol sends.
  if (typeof data !== 'string') return { ok: false, close: true, code: 1003, reason: 'frames must be JSON text' };
  // A string's UTF-8 size is at least its length, so only long frames are measured.
  if (data.length > MAX_CLIENT_FRAME_BYTES || (data.length * 3 > MAX_CLIENT_FRAME_BYTES && utf8Length(data) > MAX_CLIENT_FRAME_BYTES)) {
    const message = `frame is larger than the limit of ${MAX_CLIENT_FRAME_BYTES} bytes; send fewer requests per frame`;
    return { ok: false, close: false, refusal: { error: 'payload_too_large', message } };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, close: true, code: 1007, reason: 'frame is not valid JSON' };
  }
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) return frameRefusal('frame has no requests');
  if (items.length > MAX_FRAME_REQUESTS) {
    return frameRefusal(`frame has ${items.length} requests; the limit is ${MAX_FRAME_REQUESTS} per frame`);
  }
  const requests: ClientRequest[] = [];
  for (const item of items) {
    if (isRawRequest(item)) {
      requests.push(checkRequest(item));
      continue;
    }
    const parsed = clientRequestSchema.safeParse(item);
    if (parsed.success) {
      requests.push(checkRequest(parsed.data));
      continue;
    }
    // Without a usable id the refusal cannot be matched to a request, so the whole frame is refused.
    const itemId = id.safeParse(isRecord(item) ? item.id : undefined);
    if (!itemId.success) {
      return frameRefusal('every request needs "id": a non-negative integer (a frame is a request or an array of requests)');
    }
    requests.push({ id: itemId.data, kind: 'refused', refusal: { error: 'bad_request', message: describeIssues(parsed.error) } });
  }
  return { ok: true, requests };
}

/**
 * The same check as `clientRequestSchema`, written out by hand: it runs for
 * every request of every frame, where zod's generality costs more than the
 * rest of the parse. It only answers yes or no; on a no the schema says what
 * is wrong (or accepts what this check does not know). client-socket.test.ts
 * checks that the two agree.
 */
export function isRawRequest(x: unknown): x is RawRequest {
  if (!isRecord(x) || !isId(x.id)) return false;
  const n = Object.keys(x).length;
  switch (x.op) {
    case 'get':
      return n === 3 && typeof x.key === 'string';
    case 'register':
      return n === 2;
    case 'put':
      return typeof x.key === 'string' && typeof x.value === 'string' && n === 4 + identityFields(x);
    case 'delete':
      return typeof x.key === 'string' && n === 3 + identityFields(x);
    case 'cas':
      return (
        typeof x.key === 'string' &&
        typeof x.value === 'string' &&
        (x.expected === null || typeof x.expected === 'string') &&
        n === 5 + identityFields(x)
      );
    default:
      return false;
  }
}

const isId = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= Number.MAX_SAFE_INTEGER;

/** How many of clientId and serial `x` has, each of its type; a negative number (no match) when one has another type. */
function identityFields(x: Record<string, unknown>): number {
  let n = 0;
  if (x.clientId !== undefined) {
    if (typeof x.clientId !== 'string') return -100;
    n++;
  }
  if (x.serial !== undefined) {
    if (typeof x.serial !== 'number') return -100;
    n++;
  }
  return n;
}

/** The checks of the request's HTTP route (schemas.ts), in its order: key, identity, value. */
function checkRequest(r: RawRequest): ClientRequest {
  if (r.op === 'register') return { id: r.id, kind: 'write', req: { register: true }, cmd: null };
  const key = checkKey(r.key);
  if (!key.ok) return refused(r.id, key);
  if (r.op === 'get') return { id: r.id, kind: 'read', key: key.value };
  const session = checkSession(r.clientId ?? null, r.serial === undefined ? null : String(r.serial), sessionNames);
  if (!session.ok) return refused(r.id, session);
  let cmd: KvCommand;
  if (r.op === 'delete') cmd = { op: 'delete', key: key.value };
  else {
    const value = checkValue(r.value);
    if (!value.ok) return refused(r.id, value);
    if (r.op === 'put') cmd = { op: 'set', key: key.value, value: value.value };
    else {
      if (r.expected !== null) {
        const expected = checkValue(r.expected, 'expected');
        if (!expected.ok) return refused(r.id, expected);
      }
      cmd = { op: 'cas', key: key.value, expected: r.expected, value: value.value };
    }
  }
  return { id: r.id, kind: 'write', req: session.value ? { cmd, session: session.value } : { cmd }, cmd };
}

function refused(requestId: number, p: Extract<Parsed<unknown>, { ok: false }>): ClientRequest {
  return { id: requestId, kind: 'refused', refusal: { error: p.error, message: p.message } };
}

function frameRefusal(message: string): ParsedFrame {
  return { ok: false, close: false, refusal: { error: 'bad_request', message } };
}

/** The answer to request `requestId` (null: the frame): status and body as its HTTP route would give them. */
export function clientAnswer(requestId: number | null, a: KvAnswer): ClientAnswer {
  if (a.ok) return { id: requestId, status: 200, body: a.body };
  // No request URL: a not_leader answer names the leader's base URL, which is all a socket client needs.
  const r = refusalAnswer(a.refusal, 'GET');
  return { id: requestId, status: r.status, body: r.body };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
