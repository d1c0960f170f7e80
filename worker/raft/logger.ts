// The core logs through this interface; hosts decide where lines go.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { log() {} };

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes one JSON object per line to `write`, dropping lines below `min`. */
export function jsonLogger(
  min: LogLevel,
  base: Record<string, unknown>,
  write: (line: string) => void,
): Logger {
  return {
    log(level, msg, fields) {
      if (order[level] < order[min]) return;
      write(JSON.stringify({ level, msg, ...base, ...fields }));
    },
  };
}

export function isLogLevel(s: string): s is LogLevel {
  return Object.hasOwn(order, s);
}
