import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execScript, shellQuote } from './node-exec-plan';

describe('the exec line node.sh sources', () => {
  it('quotes every word so sh passes it through unchanged', () => {
    for (const word of ['plain', "it's", 'two words', '$HOME', '`id`', '"q"', '\\', '*', '']) {
      expect(execFileSync('sh', ['-c', `printf '%s' ${shellQuote(word)}`], { encoding: 'utf8' })).toBe(word);
    }
  });

  it('feeds the config on stdin, removes the plan folder, drops the control fd and runs the command in the shell', () => {
    const dir = mkdtempSync(join(tmpdir(), "raft-kv exec 'plan' "));
    writeFileSync(join(dir, 'config.bin'), 'the config');
    // A stand-in for workerd that prints its arguments and what it reads on stdin.
    const script = execScript(dir, 'sh', ['-c', 'echo "args: $0|$(cat)|$$"', '--control-fd=3', 'a b']);
    writeFileSync(join(dir, 'exec.sh'), script);
    const out = execFileSync('sh', ['-c', `. ${shellQuote(join(dir, 'exec.sh'))}; echo not reached`], {
      encoding: 'utf8',
      env: { ...process.env, RAFT_KV_EXEC_PLAN: dir },
    });
    expect(out).toMatch(/^args: a b\|the config\|\d+\n$/);
    expect(existsSync(dir)).toBe(false);
  });
});
