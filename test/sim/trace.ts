// What a run leaves behind: a digest of every event (two runs of one seed
// must produce the same digest) and a ring of the most recent log lines,
// kept as objects and formatted only when a seed fails.
import type { Logger, LogLevel } from '../../worker/raft/logger';

const levelOrder: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface LogLine {
  t: number;
  node: string;
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** Two independent 32-bit lanes (FNV-1a and a multiply-xorshift) folded into one 64-bit hex digest. */
export class Digest {
  private a = 0x811c9dc5;
  private b = 0x2545f491;

  int(x: number): void {
    // Split into 32-bit halves so large or fractional numbers still count.
    const lo = x | 0;
    const hi = Math.floor(x / 0x1_0000_0000) | 0;
    this.word(lo);
    if (hi !== 0) this.word(hi);
  }

  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
    this.word(s.length);
  }

  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }

  private word(w: number): void {
    this.a = Math.imul(this.a ^ w, 0x01000193);
    let b = (this.b ^ w) | 0;
    b = Math.imul(b ^ (b >>> 15), 0x2c1b3c6d);
    b = Math.imul(b ^ (b >>> 12), 0x297a2d39);
    this.b = b ^ (b >>> 15);
  }
}

export class Trace {
  readonly digest = new Digest();
  private readonly ring: (LogLine | undefined)[];
  private next = 0;
  private total = 0;
  private readonly min: number;

  constructor(
    private readonly clock: { now: number },
    capacity: number,
    minLevel: LogLevel,
  ) {
    this.ring = new Array<LogLine | undefined>(Math.max(1, capacity));
    this.min = levelOrder[minLevel];
  }

  log(node: string, level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (levelOrder[level] < this.min) return;
    this.ring[this.next] = { t: this.clock.now, node, level, msg, fields };
    this.next = (this.next + 1) % this.ring.length;
    this.total++;
  }

  /** A Logger for one node that writes into this trace's ring. */
  loggerFor(node: string): Logger {
    return { log: (level, msg, fields) => this.log(node, level, msg, fields) };
  }

  /** The buffered lines, oldest first, as text. */
  format(): string[] {
    const out: string[] = [];
    const n = this.ring.length;
    if (this.total > n) out.push(`... ${this.total - n} earlier lines dropped`);
    for (let i = 0; i < n; i++) {
      const line = this.ring[(this.next + i) % n];
      if (!line) continue;
      const fields = line.fields ? ' ' + safeJson(line.fields) : '';
      out.push(`${String(line.t).padStart(7)}ms ${line.node.padEnd(4)} ${line.level.padEnd(5)} ${line.msg}${fields}`);
    }
    return out;
  }
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x);
  } catch {
    return String(x);
  }
}
