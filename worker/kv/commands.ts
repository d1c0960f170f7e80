// The commands of the key-value state machine, their results, and how a
// request is encoded into a log entry's `data`.
//
// Every replica decodes the same bytes, so the encoding is canonical: fields
// always appear in the same order whatever the shape of the object the caller
// built. That also makes `encodeCommand` a stable input for the session
// fingerprint (sessions.ts).

export type KvCommand =
  | { op: 'set'; key: string; value: string }
  | { op: 'delete'; key: string }
  | { op: 'cas'; key: string; expected: string | null; value: string };

/** Makes a request exactly-once (thesis §6.3); see sessions.ts. `serial` is a positive integer. */
export interface Session {
  clientId: string;
  serial: number;
}

/** A key-value command, or the registration of a new client session (sessions.ts). */
export type KvRequest = CommandRequest | RegisterRequest;

export interface CommandRequest {
  cmd: KvCommand;
  session?: Session;
  /**
   * The session fingerprint of `cmd` (sessions.ts), computed once by the node
   * that proposes the entry, with the platform's native SHA-256, so that no
   * replica hashes the command again in JavaScript when it applies it. Only
   * with a session; an entry without it is hashed when applied.
   */
  digest?: string;
}

/** Opens a session whose id is `registeredId(index)` of the entry that carries it (thesis §6.3). */
export interface RegisterRequest {
  register: true;
}

/** The result of a command that was actually applied (the only kind a session saves). */
export type KvSuccess =
  | { ok: true; op: 'set' }
  | { ok: true; op: 'delete'; existed: boolean }
  /** `current` is the value after the operation; on a mismatch, the value that did not match. */
  | { ok: true; op: 'cas'; swapped: boolean; current: string | null };

/** A registered session: `clientId` is what the client sends as its Client-Id from now on. */
export interface KvRegistered {
  ok: true;
  op: 'register';
  clientId: string;
}

export interface KvError {
  ok: false;
  error: 'serial_reused' | 'stale_serial' | 'session_expired';
  message: string;
}

export type KvResult = KvSuccess | KvRegistered | KvError;

/** How a registered session is named: after the log index of its register entry. */
const registeredPrefix = 'session-';
const registeredShape = /^session-[1-9][0-9]*$/;

export function registeredId(index: number): string {
  return `${registeredPrefix}${index}`;
}

/** True for ids of the form `registeredId` makes; every other id names a legacy named session. */
export function isRegisteredId(clientId: string): boolean {
  return registeredShape.test(clientId);
}

export function isRegister(req: KvRequest): req is RegisterRequest {
  return 'register' in req;
}

/** Canonical JSON of a command alone. */
export function encodeCommand(cmd: KvCommand): string {
  return JSON.stringify(parseCommand(cmd));
}

/**
 * Encode a request for `Entry.data`. Throws if the request is malformed:
 * callers validate client input first, so reaching this with garbage is a bug,
 * and it is better caught before the entry is replicated than on every replica.
 */
export function encodeRequest(req: KvRequest): string {
  return JSON.stringify(parseRequest(req));
}

/** Decode `Entry.data`. Throws on garbage: only requests built by `encodeRequest` are proposed. */
export function decodeRequest(data: string): KvRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return invalid(`not JSON: ${preview(data)}`);
  }
  return parseRequest(raw);
}

/** Check an untrusted value and rebuild it with fields in canonical order. */
function parseRequest(raw: unknown): KvRequest {
  if (!isRecord(raw)) return invalid('request is not an object');
  if (raw.register !== undefined) {
    if (raw.register !== true || Object.keys(raw).length !== 1) return invalid('a register request has no other fields');
    return { register: true };
  }
  const cmd = parseCommand(raw.cmd);
  if (raw.session === undefined) {
    if (raw.digest !== undefined) return invalid('a digest comes only with a session');
    return { cmd };
  }
  const session = parseSession(raw.session);
  if (raw.digest === undefined) return { cmd, session };
  if (typeof raw.digest !== 'string' || !digestShape.test(raw.digest)) return invalid('digest must be 22 characters of base64');
  return { cmd, session, digest: raw.digest };
}

/** 128 bits in base64 without the "==" padding (sessions.ts fingerprint). */
export const digestShape = /^[A-Za-z0-9+/]{21}[AQgw]$/;

function parseCommand(raw: unknown): KvCommand {
  if (!isRecord(raw)) return invalid('cmd is not an object');
  const key = raw.key;
  if (typeof key !== 'string') return invalid('cmd.key must be a string');
  switch (raw.op) {
    case 'set':
      return { op: 'set', key, value: stringField(raw, 'value') };
    case 'delete':
      return { op: 'delete', key };
    case 'cas': {
      // Present and null means "expect the key to be absent"; a missing field is a bug.
      const expected = raw.expected;
      if (expected !== null && typeof expected !== 'string') {
        return invalid('cmd.expected must be a string or null');
      }
      return { op: 'cas', key, expected, value: stringField(raw, 'value') };
    }
    default:
      return invalid(`unknown op ${preview(JSON.stringify(raw.op) ?? 'undefined')}`);
  }
}

function parseSession(raw: unknown): Session {
  if (!isRecord(raw)) return invalid('session is not an object');
  const { clientId, serial } = raw;
  if (typeof clientId !== 'string' || clientId === '') {
    return invalid('session.clientId must be a non-empty string');
  }
  if (typeof serial !== 'number' || !Number.isSafeInteger(serial) || serial < 1) {
    return invalid('session.serial must be a positive integer');
  }
  return { clientId, serial };
}

function stringField(raw: Record<string, unknown>, name: string): string {
  const v = raw[name];
  if (typeof v !== 'string') return invalid(`cmd.${name} must be a string`);
  return v;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function invalid(why: string): never {
  throw new Error(`invalid kv request: ${why}`);
}

function preview(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}
