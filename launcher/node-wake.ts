// The background half of launcher/node-exec.ts: once the workerd that
// node.sh became answers, wake its Durable Object (so its election timer
// runs) and print the node's "listening" lines, then exit. If it does not
// come up in time, say so and stop that workerd, so `npm run node` fails
// instead of serving nothing.
import { wakeNode } from './instance';
import { wakeVar, type WakeOrder } from './node-exec-plan';
import { isAlive } from './procfs';

async function main(): Promise<void> {
  const order = JSON.parse(process.env[wakeVar] ?? 'null') as WakeOrder | null;
  if (order === null) throw new Error(`${wakeVar} is not set; node-exec.ts starts this`);
  try {
    await wakeNode(order, order.timeoutMs, () => isAlive(order.pid));
  } catch (err) {
    if (!isAlive(order.pid)) return; // workerd exited and said why
    process.stderr.write(`node: ${(err as Error).message}; stopping it\n`);
    process.kill(order.pid, 'SIGTERM');
    return;
  }
  for (const line of order.lines) process.stdout.write(`${line}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`node-wake: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
