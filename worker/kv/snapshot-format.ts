// The serialized form of the key-value state, shared by every machine that
// takes or installs a snapshot (the in-memory one of the simulator and tests,
// the SQLite one of the Durable Object), so the same state gives the same
// bytes whichever took it. It is a sequence of lines, so a machine can write
// it from a cursor and read it chunk by chunk without ever holding it whole:
//
//   {"version":4,"keys":K,"sessions":S}
//   ["key","value"]                          K lines, keys in code point order
//   ["clientId",highest,lastIndex,[[serial,"digest",result],...]]
//                                            S lines, by lastIndex (least recently used first),
//                                            saved results by serial
//
// Code point order is the order SQLite gives TEXT under its default BINARY
// collation (memcmp of UTF-8), so an `ORDER BY key` cursor produces it.
import type { KvSuccess } from './commands';
import type { SessionRecord } from './sessions';

export const snapshotVersion = 4;

export function headerLine(keys: number, sessions: number): string {
  return `{"version":${snapshotVersion},"keys":${keys},"sessions":${sessions}}\n`;
}

export function pairLine(key: string, value: string): string {
  return `${JSON.stringify([key, value])}\n`;
}

/** `saved` holds [serial, digest, result as JSON], by serial. */
export function sessionLine(
  clientId: string,
  highest: number,
  lastIndex: number,
  saved: readonly (readonly [number, string, string])[],
): string {
  const results = saved.map(([serial, digest, result]) => `[${serial},${JSON.stringify(digest)},${result}]`).join(',');
  return `[${JSON.stringify(clientId)},${highest},${lastIndex},[${results}]]\n`;
}

/** A session record's line; its saved results in serial order. */
export function recordLine(r: SessionRecord): string {
  const saved = r.saved
    .map(([serial, digest, result]): [number, string, string] => [serial, digest, resultJson(result)])
    .sort((a, b) => a[0] - b[0]);
  return sessionLine(r.clientId, r.highest, r.lastIndex, saved);
}

/** How a saved result is written: its own JSON, as the machine built it (key order included). */
export function resultJson(result: KvSuccess): string {
  return JSON.stringify(result);
}

/**
 * Compare two strings by Unicode code point (UTF-16 code unit order differs
 * for characters above U+FFFF against U+E000..U+FFFF). Keys are well formed
 * (the API refuses lone surrogates), so this is also UTF-8 byte order.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/** Moves surrogates above U+E000..U+FFFF, so code units compare as code points do. */
function fixup(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** What a parsed snapshot is handed to, line by line, in order. */
export interface SnapshotSink {
  pair(key: string, value: string): void;
  /** A session in the shape of SessionTable.dump(); the caller validates it (SessionTable.load). */
  session(record: SessionRecord): void;
}

/**
 * Reads a snapshot fed in pieces cut anywhere (chunks need not end at a line),
 * holding at most one unfinished line. Throws "invalid kv snapshot: ..." on
 * anything malformed, including keys out of order or repeated, and a count
 * in the header that the lines do not match.
 */
export class SnapshotParser {
  private buffer = '';
  private header: { keys: number; sessions: number } | null = null;
  private keys = 0;
  private sessions = 0;
  private lastKey: string | null = null;
  private lastIndex = -1;

  constructor(private readonly sink: SnapshotSink) {}

  feed(text: string): void {
    let start = 0;
    let buffer = this.buffer + text;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n', start)) {
      this.line(buffer.slice(start, nl));
      start = nl + 1;
    }
    buffer = buffer.slice(start);
    this.buffer = buffer;
  }

  /** The whole snapshot was fed: check nothing is missing. */
  end(): { keys: number; sessions: number } {
    if (this.buffer !== '') corrupt('unterminated last line');
    const h = this.header;
    if (h === null) return corrupt('empty');
    if (this.keys !== h.keys || this.sessions !== h.sessions) {
      corrupt(`holds ${this.keys} keys and ${this.sessions} sessions, its header says ${h.keys} and ${h.sessions}`);
    }
    return h;
  }

  private line(text: string): void {
    const raw = parseJson(text);
    const h = this.header;
    if (h === null) {
      this.header = parseHeader(raw);
      return;
    }
    if (this.keys < h.keys) {
      if (!Array.isArray(raw) || raw.length !== 2) corrupt('bad data pair');
      const [key, value] = raw as unknown[];
      if (typeof key !== 'string' || typeof value !== 'string') corrupt('keys and values must be strings');
      if (this.lastKey !== null && compareCodePoints(this.lastKey, key) >= 0) {
        corrupt(`key ${JSON.stringify(key)} is out of order or repeated`);
      }
      this.lastKey = key;
      this.keys++;
      this.sink.pair(key, value);
      return;
    }
    if (this.sessions < h.sessions) {
      if (!Array.isArray(raw) || raw.length !== 4) corrupt('bad session line');
      const [clientId, highest, lastIndex, saved] = raw as unknown[];
      // The rest is checked by SessionTable.load; recency order is checked here.
      if (typeof lastIndex !== 'number' || !(lastIndex > this.lastIndex)) corrupt('sessions out of recency order');
      this.lastIndex = lastIndex;
      this.sessions++;
      this.sink.session({ clientId, highest, lastIndex, saved } as SessionRecord);
      return;
    }
    corrupt('more lines than its header counts');
  }
}

function parseHeader(raw: unknown): { keys: number; sessions: number } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return corrupt('bad header');
  const { version, keys, sessions } = raw as Record<string, unknown>;
  if (version !== snapshotVersion) return corrupt(`unknown version ${String(version)}`);
  const count = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!count(keys) || !count(sessions)) return corrupt('bad counts in header');
  return { keys: keys as number, sessions: sessions as number };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return corrupt('a line is not JSON');
  }
}

function corrupt(why: string): never {
  throw new Error(`invalid kv snapshot: ${why}`);
}
