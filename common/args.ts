// The command line of every command (launcher, node process, CLI, benchmark,
// fault test): node:util's parseArgs, with its errors turned into UsageError
// (one line for the user, exit code 2), a flag given twice refused, and
// checked parsers for the values.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A problem with the command line; the message is one line meant for the user. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

type Parsed<O extends FlagSpec, P extends boolean> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: P; tokens: true }>
>;

/**
 * Parses argv against the declared flags (`--name value`, `--name=value`;
 * after `--` everything is positional). Unknown flags, missing values, stray
 * words (unless `positionals`), and a flag given twice (unless `multiple`)
 * throw UsageError.
 */
export function parseFlags<O extends FlagSpec, P extends boolean = false>(
  argv: readonly string[],
  options: O,
  positionals?: P,
): { values: Parsed<O, P>['values']; positionals: string[] } {
  let parsed: Parsed<O, P>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: (positionals ?? false) as P, tokens: true });
  } catch (err) {
    throw toUsageError(err);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || options[t.name]?.multiple) continue;
    if (seen.has(t.name)) throw new UsageError(`option --${t.name} given twice`);
    seen.add(t.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/**
 * The same parse for commands whose flags are all strings or booleans, as a
 * map from flag name to its text ("true" for a boolean given).
 */
export function parseFlagMap(argv: readonly string[], kinds: Record<string, 'string' | 'boolean'>): Map<string, string> {
  const spec: FlagSpec = Object.fromEntries(Object.entries(kinds).map(([name, type]) => [name, { type }]));
  const { values } = parseFlags(argv, spec);
  return new Map(Object.entries(values).map(([name, v]) => [name, v === true ? 'true' : String(v)]));
}

/** parseArgs's errors, reworded as one line (they name the flag but run to several sentences). */
function toUsageError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return err;
  const message = (err as Error).message;
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${flag}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument "${/'([^']*)'/.exec(message)?.[1] ?? ''}"`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (message.includes('does not take an argument')) return new UsageError(`option ${flag} takes no value`);
      if (message.includes('ambiguous'))
        return new UsageError(`option ${flag} needs a value (write ${flag}=-... for one that starts with a dash)`);
      return new UsageError(`option ${flag} needs a value`);
    default:
      return new UsageError(message.split('\n')[0] ?? message);
  }
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

/** A finite number of zero or more. */
export function parseNonNegative(what: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`${what} must be a number of 0 or more, got "${text}"`);
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

/** One of the allowed words. */
export function parseOneOf<T extends string>(what: string, text: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${what} must be one of ${allowed.join('|')}, got "${text}"`);
}
