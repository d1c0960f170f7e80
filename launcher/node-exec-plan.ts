// What launcher/node-exec.ts hands on: the script node.sh sources to become
// workerd, and the order node-wake.ts carries out.
import { join } from 'node:path';

/** Set by node.sh: the folder for config.bin and exec.sh. */
export const planVar = 'RAFT_KV_EXEC_PLAN';
/** Set by node.sh: its own pid, which workerd will have. */
export const shellPidVar = 'RAFT_KV_EXEC_PID';
/** Read by node-wake.ts: which node to wake and what to print. */
export const wakeVar = 'RAFT_KV_WAKE';

export interface WakeOrder {
  id: string;
  host: string;
  port: number;
  /** The process that becomes workerd (node.sh's shell): waking stops if it is gone, and it is stopped if waking fails. */
  pid: number;
  lines: string[];
  timeoutMs: number;
}

/** A word for sh, quoted so that nothing in it is special. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The lines node.sh sources: stdin from the config, the folder removed, then workerd in the shell's place. */
export function execScript(dir: string, command: string, args: readonly string[]): string {
  // Miniflare's plan reports readiness on fd 3 to the process that spawned workerd; here nobody reads it.
  const kept = args.filter((a) => !a.startsWith('--control-fd='));
  return [
    `exec 0<${shellQuote(join(dir, 'config.bin'))}`,
    `rm -rf ${shellQuote(dir)}`,
    `unset ${planVar} ${shellPidVar}`,
    'export FORCE_COLOR=0',
    `exec ${[command, ...kept].map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}
