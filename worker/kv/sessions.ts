// Client sessions: exactly-once execution of retried requests (thesis §6.3).
//
// A client that times out cannot tell whether its request was lost or was
// committed and only the reply was lost, so it retries, possibly through a
// new leader after a failover. Without sessions a retried write would be
// applied twice. The rules, applied identically on every replica because
// they depend only on the log:
//
// - A session is a `clientId`, of one of two kinds:
//   - registered: opened by a register entry, named `session-<i>` after that
//     entry's log index i. A request naming a registered session the table
//     does not hold (evicted, or never registered) is refused with
//     `session_expired` and never applied: the machine cannot tell whether it
//     is a retry of something already applied, so it does not guess.
//   - named (legacy): any other id, chosen by the client. Opened implicitly
//     by its first request. A named session that was evicted looks new to the
//     machine, so a retry arriving after its eviction is applied again; only
//     registered sessions are free of that hole. The HTTP API therefore takes
//     only registered ids as Client-Id (api/schemas.ts); named sessions now
//     come from the seed routes ("seed-<n>") and from logs written before.
// - Every new request of a client carries a new
//   `serial`, normally increasing (1, 2, 3, ...). Several requests may be in
//   flight at once, so serials may commit out of order.
// - For each client the state machine remembers the highest serial it has
//   applied and, for the most recent 64 serials (those greater than
//   highest - 64), the result of each applied request together with a
//   128-bit digest of its command (the first half of its SHA-256).
// - Same serial, same command: a retry. The saved result is returned and the
//   command is NOT applied again.
// - Same serial, different command: `serial_reused`. Typically a client that
//   restarted and counts from 1 again. It is told so; its write is never
//   silently dropped.
// - A serial at or below highest - 64 that is not remembered: `stale_serial`.
//   Its result may have been forgotten, so the machine cannot tell a retry
//   from a new request and refuses rather than risk applying twice.
// - A serial within the window that is not remembered (7 arriving after 8) is
//   a new request: it is applied and remembered.
// - Only successful applications are saved. Errors are returned but not
//   saved, and change nothing except the session's last-use time.
// - Requests without a session are applied as they come, with no dedup.
// - At most 10,000 sessions are kept, of both kinds together. When a session
//   is opened (registered, or a named one implicitly) and the table is full,
//   the least recently used session (by the log index of its last request or
//   registration) is evicted. This depends only on the log, so every replica
//   evicts the same one. A request of an evicted registered session gets
//   `session_expired`; one of an evicted named session starts it afresh.
// - A request refused as `session_expired` changes nothing, not even recency.
//
// (64 and 10,000 are the defaults of `SessionLimits`; every replica must use
// the same values.)
//
// The digest stands in for the command so that a remembered serial costs a
// few bytes, not up to a whole 64 KiB value. At 128 bits of SHA-256 no two
// different commands share one in practice, so a different command on a used
// serial is always told apart from a retry (a 32-bit hash collided within a
// few hundred thousand commands, turning a new write into a silent no-op).
import { sha256 } from '@noble/hashes/sha2.js';
import { digestShape, encodeCommand, isRegister, isRegisteredId, registeredId } from './commands';
import type { KvCommand, KvError, KvRegistered, KvRequest, KvResult, KvSuccess, Session } from './commands';
import type { Index } from '../raft/types';
import { RecencyList } from './recency-list';

export interface SessionLimits {
  /** How many recent serials per client are remembered. */
  window: number;
  /** How many clients are remembered. */
  maxSessions: number;
}

export const defaultSessionLimits: SessionLimits = { window: 64, maxSessions: 10_000 };

/** A client's session as stored in snapshots. `saved` holds [serial, digest, result]. */
export interface SessionRecord {
  clientId: string;
  highest: number;
  lastIndex: Index;
  saved: [number, string, KvSuccess][];
}

interface Saved {
  digest: string;
  result: KvSuccess;
}

interface ClientSession {
  clientId: string;
  highest: number;
  /** Log index of the client's last request: what LRU eviction orders by. */
  lastIndex: Index;
  /** Invariant: every key is in (highest - window, highest]. 0 before the first request of a registered session. */
  saved: Map<number, Saved>;
  /** Neighbours in the recency list. */
  older: ClientSession | null;
  newer: ClientSession | null;
}

/**
 * Told of every change to the table as it happens, so a store that keeps the
 * table on disk can write just what changed (node/sql-kv.ts).
 */
export interface SessionJournal {
  /** A session was opened (registered, or a named one by its first request). */
  opened(clientId: string): void;
  /** A request of a known session at log index `index` (its last use now). */
  touched(clientId: string): void;
  /** A session was evicted; a later `opened` means it was opened again. */
  evicted(clientId: string): void;
  /** A result was saved for `serial` by the entry at `index`. */
  saved(clientId: string, serial: number, index: Index): void;
}

/** A session as the table holds it now, read only. */
export interface SessionView {
  readonly highest: number;
  readonly lastIndex: Index;
  readonly saved: ReadonlyMap<number, { readonly digest: string; readonly result: KvSuccess }>;
}

export class SessionTable {
  private readonly sessions = new Map<string, ClientSession>();
  /** Where changes are reported, if anyone keeps the table elsewhere. */
  journal: SessionJournal | null = null;
  /**
   * The same sessions by last use: every request moves its session to the
   * newest end. Entries are applied in index order, so this is also lastIndex
   * order, and eviction takes the oldest.
   */
  private readonly recency = new RecencyList<ClientSession>();

  constructor(private readonly limits: SessionLimits = defaultSessionLimits) {
    if (!(limits.window >= 1 && limits.maxSessions >= 1)) {
      throw new Error(`invalid session limits ${JSON.stringify(limits)}`);
    }
  }

  /**
   * Run `execute` for the request at log `index` unless the session rules
   * above say it is a retry or must be refused.
   */
  run(session: Session, cmd: KvCommand, index: Index, execute: () => KvSuccess, given?: string): KvResult {
    const { clientId, serial } = session;
    // The entry normally carries it (requestWithDigest); hashing here is the fallback for one that does not.
    const digest = given ?? fingerprint(encodeCommand(cmd));
    const known = this.sessions.get(clientId);
    if (known === undefined && isRegisteredId(clientId)) {
      return refuse(
        'session_expired',
        `session "${clientId}" is unknown or has expired; the request was not applied. ` +
          'Register a new session (POST /sessions) and send new requests with it',
      );
    }
    if (known === undefined) {
      const result = freeze(execute());
      const saved = new Map([[serial, { digest, result }]]);
      this.open({ clientId, highest: serial, lastIndex: index, saved, older: null, newer: null });
      return result;
    }
    known.lastIndex = index;
    this.recency.moveToNewest(known);
    this.journal?.touched(clientId);
    const saved = known.saved.get(serial);
    if (saved !== undefined) {
      if (saved.digest === digest) return saved.result;
      return refuse(
        'serial_reused',
        `serial ${serial} of client "${clientId}" was already used for a different command; ` +
          'a restarted client must start a new session or continue past its last serial',
      );
    }
    if (serial <= known.highest - this.limits.window) {
      return refuse(
        'stale_serial',
        `serial ${serial} of client "${clientId}" is too old: its highest serial is ${known.highest} ` +
          `and only the last ${this.limits.window} are remembered`,
      );
    }
    const result = freeze(execute());
    this.remember(known, serial, digest, result, index);
    return result;
  }

  /** Open the registered session named after the register entry's `index`. */
  register(index: Index): KvRegistered {
    const clientId = registeredId(index);
    if (this.sessions.has(clientId)) throw new Error(`session ${clientId} registered twice`); // one entry per index
    this.open({ clientId, highest: 0, lastIndex: index, saved: new Map(), older: null, newer: null });
    return { ok: true, op: 'register', clientId };
  }

  size(): number {
    return this.sessions.size;
  }

  /** The session named `clientId`, if the table holds it. */
  peek(clientId: string): SessionView | undefined {
    return this.sessions.get(clientId);
  }

  /** The whole table, least recently used first. */
  dump(): SessionRecord[] {
    const out: SessionRecord[] = [];
    for (const s of this.recency.fromOldest()) {
      const saved: [number, string, KvSuccess][] = [];
      for (const [serial, { digest, result }] of s.saved) saved.push([serial, digest, result]);
      out.push({ clientId: s.clientId, highest: s.highest, lastIndex: s.lastIndex, saved });
    }
    return out;
  }

  /**
   * Rebuild a table from `dump()` output, keeping its order. Throws if the
   * records are malformed or exceed `limits`: replicas configured with
   * different limits would diverge, which is a bug to surface, not to trim.
   */
  static load(records: unknown, limits: SessionLimits = defaultSessionLimits): SessionTable {
    const table = new SessionTable(limits);
    if (!Array.isArray(records)) return corrupt('sessions is not an array');
    if (records.length > limits.maxSessions) {
      return corrupt(`${records.length} sessions exceed the limit of ${limits.maxSessions}`);
    }
    for (const r of records as unknown[]) {
      const session = parseRecord(r, limits.window);
      if (table.sessions.has(session.clientId)) return corrupt(`duplicate session "${session.clientId}"`);
      table.sessions.set(session.clientId, session);
      table.recency.pushNewest(session);
    }
    return table;
  }

  private open(session: ClientSession): void {
    const lru = this.recency.peekOldest();
    if (this.sessions.size >= this.limits.maxSessions && lru !== null) {
      this.recency.remove(lru);
      this.sessions.delete(lru.clientId);
      this.journal?.evicted(lru.clientId);
    }
    this.sessions.set(session.clientId, session);
    this.recency.pushNewest(session);
    const journal = this.journal;
    if (journal !== null) {
      journal.opened(session.clientId);
      for (const serial of session.saved.keys()) journal.saved(session.clientId, serial, session.lastIndex);
    }
  }

  private remember(session: ClientSession, serial: number, digest: string, result: KvSuccess, index: Index): void {
    session.saved.set(serial, { digest, result });
    this.journal?.saved(session.clientId, serial, index);
    if (serial <= session.highest) return;
    const previous = session.highest;
    session.highest = serial;
    const floor = serial - this.limits.window; // serials <= floor fall out of the window
    if (serial - previous < this.limits.window) {
      // Small step (the usual case): drop exactly the serials that just left.
      for (let s = previous - this.limits.window + 1; s <= floor; s++) session.saved.delete(s);
    } else {
      // Big jump: scanning the at most `window` saved serials is cheaper than the range.
      for (const s of session.saved.keys()) if (s <= floor) session.saved.delete(s);
    }
  }
}

/**
 * The first 128 bits of SHA-256 over the UTF-8 bytes of `text`, in base64
 * (22 characters). `text` is canonical JSON, which escapes lone surrogates,
 * so the bytes are exact and different commands give different input.
 */
export function fingerprint(text: string): string {
  return digestText(sha256(utf8.encode(text)));
}

/**
 * fingerprint() by the platform's native SHA-256 (Web Crypto): the same
 * digest, at a small fraction of the CPU of hashing in JavaScript, which the
 * runtime runs without its optimizing compiler.
 */
export async function fingerprintNative(text: string): Promise<string> {
  return digestText(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text))));
}

/**
 * The request as the proposing node puts it in the log: with the fingerprint
 * of its command when it has a session, so replicas apply it without hashing.
 * Throws on a malformed command, as encodeRequest does.
 */
export async function requestWithDigest(req: KvRequest): Promise<KvRequest> {
  if (isRegister(req) || req.session === undefined) return req;
  return { cmd: req.cmd, session: req.session, digest: await fingerprintNative(encodeCommand(req.cmd)) };
}

function digestText(sha: Uint8Array): string {
  return btoa(String.fromCharCode(...sha.subarray(0, 16))).slice(0, DIGEST_CHARS);
}

const utf8 = new TextEncoder();
/** 16 bytes in base64 without the "==" padding. */
const DIGEST_CHARS = 22;

/** Saved results are handed back on every retry; freezing keeps callers from editing history. */
function freeze(result: KvSuccess): KvSuccess {
  return Object.freeze(result);
}

function refuse(error: KvError['error'], message: string): KvError {
  return { ok: false, error, message };
}

function parseRecord(raw: unknown, window: number): ClientSession {
  if (typeof raw !== 'object' || raw === null) return corrupt('session record is not an object');
  const { clientId, highest, lastIndex, saved } = raw as Record<string, unknown>;
  if (typeof clientId !== 'string' || clientId === '') return corrupt('bad clientId');
  // A registered session that has applied nothing yet has highest 0.
  if (!(isPositiveInt(highest) || (highest === 0 && isRegisteredId(clientId)))) {
    return corrupt(`bad highest serial for "${clientId}"`);
  }
  if (typeof lastIndex !== 'number' || !Number.isSafeInteger(lastIndex) || lastIndex < 0) {
    return corrupt(`bad lastIndex for "${clientId}"`);
  }
  if (!Array.isArray(saved)) return corrupt(`bad saved results for "${clientId}"`);
  const map = new Map<number, Saved>();
  for (const item of saved as unknown[]) {
    if (!Array.isArray(item) || item.length !== 3) return corrupt(`bad saved result for "${clientId}"`);
    const [serial, digest, result] = item as unknown[];
    if (!isPositiveInt(serial) || serial > highest || serial <= highest - window || map.has(serial)) {
      return corrupt(`saved serial ${String(serial)} of "${clientId}" is outside its window`);
    }
    if (typeof digest !== 'string' || !digestShape.test(digest)) {
      return corrupt(`bad digest for "${clientId}" serial ${serial}`);
    }
    map.set(serial, { digest, result: freeze(parseSuccess(result)) });
  }
  return { clientId, highest, lastIndex, saved: map, older: null, newer: null };
}

function parseSuccess(raw: unknown): KvSuccess {
  if (typeof raw !== 'object' || raw === null) return corrupt('saved result is not an object');
  const r = raw as Record<string, unknown>;
  if (r.ok !== true) return corrupt('saved result is not a success');
  switch (r.op) {
    case 'set':
      return { ok: true, op: 'set' };
    case 'delete':
      if (typeof r.existed !== 'boolean') break;
      return { ok: true, op: 'delete', existed: r.existed };
    case 'cas':
      if (typeof r.swapped !== 'boolean') break;
      if (r.current !== null && typeof r.current !== 'string') break;
      return { ok: true, op: 'cas', swapped: r.swapped, current: r.current };
  }
  return corrupt(`bad saved result ${JSON.stringify(raw)}`);
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;
}

function corrupt(why: string): never {
  throw new Error(`invalid kv snapshot: ${why}`);
}
