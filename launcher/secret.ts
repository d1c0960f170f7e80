// The cluster secret: generated once, kept in a 0600 file next to the nodes'
// data folders, so every node started from the same machine (npm start, or
// npm run node for each node) shares it and a restart reuses it.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function generateSecret(): string {
  return randomBytes(24).toString('hex');
}

/** Reads the secret in file, creating the file (mode 0600) with a new secret if absent. */
export async function loadOrCreateSecret(file: string): Promise<{ secret: string; created: boolean }> {
  mkdirSync(dirname(file), { recursive: true });
  try {
    // 'wx' fails if the file exists, so two nodes starting together cannot both create it.
    const fd = openSync(file, 'wx', 0o600);
    const secret = generateSecret();
    try {
      writeSync(fd, `${secret}\n`);
    } finally {
      closeSync(fd);
    }
    return { secret, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // Another process may have created it a moment ago and not written it yet.
  for (let attempt = 0; attempt < 20; attempt++) {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret) return { secret, created: false };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`cluster secret file ${file} is empty; delete it or pass a secret`);
}
