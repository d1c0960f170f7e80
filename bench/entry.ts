// Running a bench script from the command line while keeping it importable by
// tests: `main` runs only when the file is the process's entry point, and the
// process exits 0 when it resolves, 1 (with the stack) when it throws.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
