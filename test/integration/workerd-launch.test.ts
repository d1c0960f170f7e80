// A node whose workerd cannot start must fail at once with workerd's reason,
// even when something else answers on its port (the launcher starts workerd
// itself, launcher/workerd-launch.ts, and watches it while it wakes the node).
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeInstance } from '../../launcher/instance';

describe('NodeInstance.start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-kv-launch-'));
  const port = 18_790;
  let impostor: Server;

  beforeAll(async () => {
    // Answers every request with 200, as a node's /status would.
    impostor = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((r) => impostor.listen(port, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => impostor.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("fails with workerd's own reason when workerd exits while starting", async () => {
    const lines: string[] = [];
    const node = new NodeInstance(
      { id: 'n1', host: '127.0.0.1', port, url: `http://127.0.0.1:${port}`, peers: [], dataDir: dir, secret: 'test secret' },
      (line) => lines.push(line),
    );
    await expect(node.start()).rejects.toThrow(/workerd exited while starting/);
    expect(node.running).toBe(false);
    expect(lines.join('\n')).toMatch(/Address already in use/);
  }, 30_000);
});
