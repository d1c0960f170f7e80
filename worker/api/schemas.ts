// What client input the HTTP API accepts, in one place. Every parser returns
// a tagged result so routes can turn a refusal into a 4xx before anything
// reaches the node.
//
// Limits (documented for clients):
// - key: 1..512 bytes of UTF-8 after percent-decoding one path segment
//   (encode "/" as %2F). "." and ".." cannot be addressed: URL parsing
//   removes them as dot segments before the Worker sees the path.
// - value: at most 64 KiB (65,536 bytes) of UTF-8; the empty string is allowed.
//   Keys and values are Unicode text: a lone surrogate (possible through a
//   JSON \u escape) is refused, since it has no UTF-8 form to store.
// - JSON bodies (cas, seed routes): at most 1 MiB on the wire, so escaped
//   values up to the value limit still fit.
// - Client-Id: a registered session id, `session-<n>` as POST /sessions answers
//   it (at most 128 characters); Request-Serial: a positive safe integer in
//   decimal without sign or leading zeros. Both or neither, each sent once.
import { z } from 'zod';
import { isRegisteredId } from '../kv/commands';
import type { CommandRequest, KvCommand, Session } from '../kv/commands';

export const MAX_KEY_BYTES = 512;
export const MAX_VALUE_BYTES = 64 * 1024;
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
export const MAX_CLIENT_ID_CHARS = 128;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: 'bad_request' | 'payload_too_large'; message: string };

/** Bytes of `s` in UTF-8, without encoding it (a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** The path of an absolute URL as the runtime serialised it (already normalised), without parsing it again. */
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  if (start === -1) return '/';
  const query = url.indexOf('?', start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}

function badRequest(message: string): Parsed<never> {
  return { ok: false, error: 'bad_request', message };
}

function tooLarge(message: string): Parsed<never> {
  return { ok: false, error: 'payload_too_large', message };
}

/**
 * The key is taken from the raw URL, not from the router's already-decoded
 * parameter: the router silently keeps malformed escapes as literal text,
 * and a client that sends "%E0%A4" deserves a 400, not a key nobody asked for.
 */
export function parseKeyFromUrl(url: string, segmentIndex: number): Parsed<string> {
  const raw = pathOf(url).split('/')[segmentIndex];
  if (raw === undefined || raw === '') return badRequest('key must not be empty');
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    return badRequest('key is not valid percent-encoded UTF-8');
  }
  return checkKey(key);
}

/**
 * A UTF-16 surrogate with no partner. JSON's \\u escapes can carry one, but it
 * has no UTF-8 encoding: stored, it would be served back as U+FFFD or as
 * bytes that are not UTF-8, never as what the client sent.
 */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkKey(key: string): Parsed<string> {
  if (key === '') return badRequest('key must not be empty');
  if (loneSurrogate.test(key)) return badRequest('key is not valid Unicode text (it has a lone surrogate)');
  const bytes = utf8Length(key);
  if (bytes > MAX_KEY_BYTES) {
    return badRequest(`key is ${bytes} bytes of UTF-8; the limit is ${MAX_KEY_BYTES}`);
  }
  return { ok: true, value: key };
}

export function checkValue(value: string, field = 'value'): Parsed<string> {
  if (loneSurrogate.test(value)) return badRequest(`${field} is not valid Unicode text (it has a lone surrogate)`);
  const bytes = utf8Length(value);
  if (bytes > MAX_VALUE_BYTES) {
    return tooLarge(`${field} is ${bytes} bytes of UTF-8; the limit is ${MAX_VALUE_BYTES}`);
  }
  return { ok: true, value };
}

const serialText = /^[1-9][0-9]*$/;

/**
 * Optional request identity for exactly-once writes (thesis §6.3). Half an
 * identity is refused rather than ignored: the client believes its retry is
 * safe, and silently dropping the pair would make it unsafe.
 */
export function parseSessionHeaders(headers: Headers): Parsed<Session | undefined> {
  return checkSession(headers.get('Client-Id'), headers.get('Request-Serial'), headerNames);
}

/** What the fields of a request identity are called where it arrived, so a refusal names what the client sent. */
export interface SessionFieldNames {
  clientId: string;
  serial: string;
  /** How a client registers, for the message that refuses an id it chose itself. */
  register: string;
}

const headerNames: SessionFieldNames = { clientId: 'Client-Id', serial: 'Request-Serial', register: 'POST /sessions' };

/** The checks of parseSessionHeaders on the raw id and serial text (null: absent), wherever they came from. */
export function checkSession(clientId: string | null, serialRaw: string | null, names: SessionFieldNames): Parsed<Session | undefined> {
  const { clientId: idName, serial: serialName } = names;
  if (clientId === null && serialRaw === null) return { ok: true, value: undefined };
  if (clientId === null) return badRequest(`${serialName} was sent without ${idName}; send both or neither`);
  if (serialRaw === null) return badRequest(`${idName} was sent without ${serialName}; send both or neither`);
  // The runtime joins a repeated header into one value with ", ", so a comma
  // is how a repeat shows; taking "a, b" as an id would start a session nobody named.
  if (clientId.includes(',')) return badRequest(`${idName} was sent more than once (or contains a comma); send it once`);
  if (serialRaw.includes(',')) return badRequest(`${serialName} was sent more than once; send it once`);
  if (clientId.length < 1 || clientId.length > MAX_CLIENT_ID_CHARS) {
    return badRequest(`${idName} must be 1..${MAX_CLIENT_ID_CHARS} characters`);
  }
  // Only an id the log handed out can be told apart from a new client once the
  // table has forgotten it, so only such ids make a late retry safe (docs/sessions.md).
  if (!isRegisteredId(clientId)) {
    return badRequest(
      `${idName} ${JSON.stringify(clientId)} is not a registered session: register one with ${names.register} and send ` +
        'the id it answers ("session-<n>"). Ids chosen by the client are refused because once the server forgets ' +
        'such a session it cannot tell a late retry from a new request',
    );
  }
  const serial = Number(serialRaw);
  if (!serialText.test(serialRaw) || !Number.isSafeInteger(serial)) {
    return badRequest(`${serialName} must be a positive integer (decimal, at most 2^53-1)`);
  }
  return { ok: true, value: { clientId, serial } };
}

const casBody = z.strictObject({
  expected: z.string().nullable(),
  value: z.string(),
});

/** POST /kv/:key/cas body: `{"expected": string|null, "value": string}`; `expected: null` means "absent". */
export function parseCasBody(text: string, key: string): Parsed<KvCommand> {
  const body = parseJson(text, casBody);
  if (!body.ok) return body;
  const { expected, value } = body.value;
  const v = checkValue(value);
  if (!v.ok) return v;
  if (expected !== null) {
    const e = checkValue(expected, 'expected');
    if (!e.ok) return e;
  }
  return { ok: true, value: { op: 'cas', key, expected, value } };
}

/**
 * The seed's body for /set and /delete. Its client numbers itself and its
 * requests; `value` is required for /set and ignored for /delete.
 */
const seedBody = z.object({
  // zod's int() accepts safe integers only.
  clientId: z.number().int(),
  // The seed's client may count its requests from 0; sessions count from 1,
  // so the node sees requestSerial + 1, which must stay a safe integer.
  requestSerial: z
    .number()
    .int()
    .nonnegative()
    .max(Number.MAX_SAFE_INTEGER - 1),
  value: z.string().optional(),
});

/** A seed write as the request the node replicates. */
export function parseSeedBody(text: string, op: 'set' | 'delete', key: string): Parsed<CommandRequest> {
  const body = parseJson(text, seedBody);
  if (!body.ok) return body;
  const { clientId, requestSerial, value } = body.value;
  // The seed names clients by number; the prefix keeps them apart from Client-Id strings.
  const session = { clientId: `seed-${clientId}`, serial: requestSerial + 1 };
  if (op === 'delete') return { ok: true, value: { cmd: { op, key }, session } };
  if (value === undefined) return badRequest('value: required for /set');
  const v = checkValue(value);
  if (!v.ok) return v;
  return { ok: true, value: { cmd: { op, key, value }, session } };
}

function parseJson<T>(text: string, schema: z.ZodType<T>): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return badRequest(text.trim() === '' ? 'body must be JSON, got an empty body' : 'body is not valid JSON');
  }
  const result = schema.safeParse(raw);
  if (!result.success) return badRequest(describeIssues(result.error));
  return { ok: true, value: result.data };
}

/** Problems joined by "; ", each naming its field, e.g. "value: Invalid input: expected string, received number". */
export function describeIssues(error: z.ZodError, limit = 10): string {
  const shown = error.issues
    .slice(0, limit)
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  const hidden = error.issues.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')}; and ${hidden} more` : shown.join('; ');
}
