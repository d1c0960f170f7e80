// Free ports on 127.0.0.1. Other programs (and other benchmark or test runs)
// may hold ports in the default range, so a started cluster moves to the
// first block where every port it needs is free.
import { portIsFree } from '../launcher/port-free';

export function portFree(port: number): Promise<boolean> {
  return portIsFree(port);
}

/** The ports a cluster of `size` nodes starting at `base` uses (wrangler also needs inspector ports at +100). */
export function portsNeeded(base: number, size: number, wrangler: boolean): number[] {
  const http = Array.from({ length: size }, (_, i) => base + i);
  return wrangler ? [...http, ...http.map((p) => p + 100)] : http;
}

export async function allFree(ports: number[]): Promise<boolean> {
  for (const p of ports) if (!(await portFree(p))) return false;
  return true;
}

/** The first base in base, base+step, ... (at most `tries` of them) whose ports are all free. */
export async function findFreeBase(base: number, size: number, wrangler: boolean, step = 10, tries = 40): Promise<number> {
  for (let i = 0; i < tries; i++) {
    const candidate = base + i * step;
    if (candidate + 100 + size > 65535) break;
    if (await allFree(portsNeeded(candidate, size, wrangler))) return candidate;
  }
  throw new Error(`no free block of ${size} ports found from ${base} (tried ${tries} blocks ${step} apart)`);
}
