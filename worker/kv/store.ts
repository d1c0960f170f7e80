// The key-value state machine the Raft log drives. It is deterministic: it
// reads nothing but the entries it is given (no clock, no randomness), so
// every replica that applies the same entries holds the same state, down to
// the bytes of its snapshot.
import { unreachable } from '../raft/types';
import type { Entry } from '../raft/types';
import type { StateMachine } from '../raft/state-machine';
import { decodeRequest, isRegister } from './commands';
import type { KvCommand, KvResult, KvSuccess } from './commands';
import { SessionTable, defaultSessionLimits } from './sessions';
import type { SessionLimits } from './sessions';

export interface KvStateMachineOptions {
  /** Every replica must use the same limits, or their session tables diverge. */
  sessionLimits?: Partial<SessionLimits>;
}

/**
 * 2: sessions save a 128-bit digest of each command (a string) instead of a 32-bit hash.
 * 3: registered sessions ("session-<index>", highest serial 0 until their first request).
 */
const snapshotVersion = 3;

export class KvStateMachine implements StateMachine<KvResult> {
  private readonly limits: SessionLimits;
  private data = new Map<string, string>();
  private sessions: SessionTable;

  constructor(options: KvStateMachineOptions = {}) {
    this.limits = { ...defaultSessionLimits, ...options.sessionLimits };
    this.sessions = new SessionTable(this.limits);
  }

  apply(entry: Entry): KvResult | null {
    switch (entry.kind) {
      case 'noop':
      case 'config':
        return null;
      case 'command': {
        const req = decodeRequest(entry.data);
        if (isRegister(req)) return this.sessions.register(entry.index);
        const { cmd, session } = req;
        if (session === undefined) return this.execute(cmd);
        return this.sessions.run(session, cmd, entry.index, () => this.execute(cmd));
      }
      default:
        return unreachable(entry.kind);
    }
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Number of keys. */
  size(): number {
    return this.data.size;
  }

  /** Number of client sessions remembered (at most `maxSessions`). */
  sessionCount(): number {
    return this.sessions.size();
  }

  /**
   * Keys are listed in insertion order and sessions in order of last use.
   * Both orders follow from the entries applied, so replicas produce
   * identical snapshots, and restore keeps them so that eviction after a
   * restore picks the same session it would have picked before.
   */
  snapshot(): string {
    return JSON.stringify({ version: snapshotVersion, data: [...this.data], sessions: this.sessions.dump() });
  }

  /** Replace the whole state. Throws on a malformed snapshot, leaving the state as it was. */
  restore(snapshot: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(snapshot);
    } catch {
      throw new Error('invalid kv snapshot: not JSON');
    }
    if (typeof raw !== 'object' || raw === null) throw new Error('invalid kv snapshot: not an object');
    const { version, data, sessions } = raw as Record<string, unknown>;
    if (version !== snapshotVersion) throw new Error(`invalid kv snapshot: unknown version ${String(version)}`);
    // Build everything first so a bad snapshot cannot leave a half-restored machine.
    const nextData = parseData(data);
    const nextSessions = SessionTable.load(sessions, this.limits);
    this.data = nextData;
    this.sessions = nextSessions;
  }

  private execute(cmd: KvCommand): KvSuccess {
    switch (cmd.op) {
      case 'set':
        this.data.set(cmd.key, cmd.value);
        return { ok: true, op: 'set' };
      case 'delete':
        return { ok: true, op: 'delete', existed: this.data.delete(cmd.key) };
      case 'cas': {
        const current = this.get(cmd.key);
        if (current !== cmd.expected) return { ok: true, op: 'cas', swapped: false, current };
        this.data.set(cmd.key, cmd.value);
        return { ok: true, op: 'cas', swapped: true, current: cmd.value };
      }
      default:
        return unreachable(cmd);
    }
  }
}

function parseData(raw: unknown): Map<string, string> {
  if (!Array.isArray(raw)) throw new Error('invalid kv snapshot: data is not an array');
  const map = new Map<string, string>();
  for (const pair of raw as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new Error('invalid kv snapshot: bad data pair');
    const [key, value] = pair as unknown[];
    if (typeof key !== 'string' || typeof value !== 'string') {
      throw new Error('invalid kv snapshot: keys and values must be strings');
    }
    if (map.has(key)) throw new Error(`invalid kv snapshot: duplicate key ${JSON.stringify(key)}`);
    map.set(key, value);
  }
  return map;
}
