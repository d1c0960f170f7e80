// Running a bench script from the command line while keeping it importable by
// tests: `main` runs only when the file is the process's entry point, and the
// process exits 0 when it resolves, 1 (with the stack) when it throws.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../common/args';

/**
 * Parses the command line with `parse`. A UsageError prints
 * "<name>: <message>" and the usage, and exits 2; --help prints the usage and
 * gives null.
 */
export function parseArgsOrExit<T>(name: string, usage: string, parse: (argv: string[]) => T | 'help'): T | null {
  let parsed: T | 'help';
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (parsed === 'help') {
    process.stdout.write(`${usage}\n`);
    return null;
  }
  return parsed;
}

export function runIfEntry(moduleUrl: string, name: string, main: () => Promise<void>): void {
  const entry = process.argv[1];
  if (entry === undefined || resolve(entry) !== fileURLToPath(moduleUrl)) return;
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
