// A small command-line flag parser shared by the launcher commands:
// `--name value` and `--name=value`, unknown flags refused, every value checked.

/** A problem with the command line; the message is one line meant for the user. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagKind = 'string' | 'boolean';

/** Parses argv against the known flags (names without the leading dashes). */
export function parseFlags(argv: string[], known: Record<string, FlagKind>): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = known[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (flags.has(name)) throw new UsageError(`option --${name} given twice`);
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`option --${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    if (eq !== -1) {
      flags.set(name, arg.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new UsageError(`option --${name} needs a value`);
    flags.set(name, next);
    i++;
  }
  return flags;
}

/** An integer in [min, max]; `what` names the flag or variable in the error. */
export function parseIntIn(what: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

/** A finite number greater than zero. */
export function parsePositive(what: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${what} must be a number greater than 0, got "${text}"`);
  }
  return n;
}

/** "on" or "off" (any case). */
export function parseOnOff(what: string, text: string): boolean {
  const v = text.trim().toLowerCase();
  if (v === 'on' || v === 'off') return v === 'on';
  throw new UsageError(`${what} must be on or off, got "${text}"`);
}

export function parsePort(what: string, text: string): number {
  return parseIntIn(what, text, 1, 65535);
}
