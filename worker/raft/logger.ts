// The core logs through this interface; hosts decide where lines go.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  /** Whether lines at `level` are written; lets hot paths skip building fields for nothing. */
  enabled?(level: LogLevel): boolean;
}

export const silentLogger: Logger = { log() {}, enabled: () => false };

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes one JSON object per line to `write`, dropping lines below `min`. */
export function jsonLogger(min: LogLevel, base: Record<string, unknown>, write: (line: string) => void): Logger {
  return {
    log(level, msg, fields) {
      if (order[level] < order[min]) return;
      write(JSON.stringify({ level, msg, ...base, ...fields }));
    },
    enabled: (level) => order[level] >= order[min],
  };
}

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(order, s);
}
