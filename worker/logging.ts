// Structured logs for a node: one JSON object per line on console.log, with
// the fields every line needs to be read in a merged cluster log (level, msg,
// node, term, role). The term and role are read from a live context object
// that the Durable Object updates after each step, so lines written from deep
// inside the core still say which term they belong to.
import type { Logger, LogLevel } from './raft/logger';
import type { NodeId, Role, Term } from './raft/types';

export interface LogContext {
  node: NodeId;
  term: Term;
  role: Role;
}

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function nodeLogger(min: LogLevel, context: LogContext, write: (line: string) => void = (line) => console.log(line)): Logger {
  return {
    log(level, msg, fields) {
      if (rank[level] < rank[min]) return;
      const { node, term, role } = context;
      write(JSON.stringify({ level, msg, node, term, role, ...fields }));
    },
    enabled: (level) => rank[level] >= rank[min],
  };
}

/**
 * Lets through at most one line per key per `intervalMs`, and counts the ones
 * it held back so the next line can say how many there were. Used for peer
 * failures: a dead peer fails every heartbeat, and one line per heartbeat
 * would bury everything else.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** null: stay quiet; a number: log now, mentioning that many held-back lines. */
  admit(key: string, now: number): number | null {
    const seen = this.last.get(key);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return null;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }
}
