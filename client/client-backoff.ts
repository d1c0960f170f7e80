// Exponential backoff with jitter between failed attempts. After a leader
// crash every client retries at once; the jitter spreads them out so the new
// leader is not hit by a synchronized wave.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 20, maxMs: 500 };

/**
 * Delay before the retry that follows the `failures`-th failure (1-based):
 * the base doubles from `initialMs` up to `maxMs`, and the delay is drawn
 * uniformly from [base / 2, base) ("equal jitter": never zero, never more than base).
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return base / 2 + random() * (base / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
