// What a well-formed peer message must also satisfy before it reaches the
// node: message-schemas.ts checks shapes; this checks that an append is
// consistent in itself. A peer that sends entries with holes, duplicates or
// terms from the future, an entry too big to store, or a command the state
// machine cannot decode runs buggy or other code; such a message is refused
// here, so it never reaches the core or the disk (issue 20).
import { decodeRequest } from '../kv/commands';
import type { AppendRequest, Message } from '../raft/messages';

/**
 * The most UTF-8 bytes of data one entry may carry. Far above any command a
 * client can make (a 64 KiB value and a 512-byte key, even fully escaped),
 * and below what one SQLite row of the Durable Object's storage may hold.
 */
export const MAX_ENTRY_DATA_BYTES = 1024 * 1024;

/** What is wrong with the first inconsistent message, or null when all are fine. */
export function peerMessagesProblem(messages: readonly Message[]): string | null {
  for (const m of messages) {
    const problem = m.type === 'append' ? appendProblem(m) : m.type === 'vote' ? voteProblem(m.term, m.lastLogTerm) : null;
    if (problem !== null) return `${m.type} from ${m.from}: ${problem}`;
  }
  return null;
}

function voteProblem(term: number, lastLogTerm: number): string | null {
  return lastLogTerm > term ? `lastLogTerm ${lastLogTerm} is after the term ${term}` : null;
}

function appendProblem(m: AppendRequest): string | null {
  if (m.prevLogTerm > m.term) return `prevLogTerm ${m.prevLogTerm} is after the term ${m.term}`;
  let termBefore = m.prevLogTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    const want = m.prevLogIndex + 1 + i;
    // §5.3: the entries follow prevLogIndex without holes or repeats.
    if (e.index !== want) return `entry ${i} has index ${e.index}; entries must be contiguous from prevLogIndex + 1 (${want})`;
    // Terms along a log never decrease, and a leader holds no entry of a later term than its own.
    if (e.term < termBefore || e.term > m.term) {
      return `entry ${e.index} has term ${e.term}; terms must not decrease along the log nor exceed the message term ${m.term}`;
    }
    termBefore = e.term;
    // A UTF-16 unit is at most 3 bytes of UTF-8: encode only when that bound is not enough.
    const bytes = e.data.length * 3 <= MAX_ENTRY_DATA_BYTES ? 0 : new TextEncoder().encode(e.data).byteLength;
    if (bytes > MAX_ENTRY_DATA_BYTES) return `entry ${e.index} carries ${bytes} bytes of data; the limit is ${MAX_ENTRY_DATA_BYTES}`;
    if (e.kind === 'command' && !isCommand(e.data)) return `entry ${e.index} is not a command this node can apply`;
  }
  return null;
}

function isCommand(data: string): boolean {
  try {
    decodeRequest(data);
    return true;
  } catch {
    return false;
  }
}
