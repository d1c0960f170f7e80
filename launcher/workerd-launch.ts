// Starts one node's workerd without Miniflare's code in the launcher host.
// Miniflare is only needed to turn its options into workerd's command line and
// config message; launcher/workerd-config.mjs does that in a short-lived
// process, and the host then starts workerd exactly as Miniflare would (same
// arguments, the config on stdin, a control pipe on fd 3). The host stays a
// small Node process that forwards workerd's output and watches it.
import childProcess, { type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { repoRoot } from './bundle';

export type LineSink = (line: string) => void;

/** What Miniflare would run: workerd's path, its arguments, and the config it writes to workerd's stdin. */
export interface WorkerdPlan {
  command: string;
  args: string[];
  config: Buffer;
}

/** Miniflare options that survive JSON: everything a node passes except its log and stdio callbacks. */
export type PlainMiniflareOptions = Record<string, unknown>;

export function forwardLines(stream: Readable, sink: LineSink): void {
  // Always drain: a full pipe would block the writer.
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', sink);
  rl.on('error', () => {});
}

/** Checks the one JSON line launcher/workerd-config.mjs prints. */
export function parsePlan(line: string): WorkerdPlan {
  const v = JSON.parse(line) as { command?: unknown; args?: unknown; config?: unknown };
  if (
    typeof v.command !== 'string' ||
    !Array.isArray(v.args) ||
    !v.args.every((a) => typeof a === 'string') ||
    typeof v.config !== 'string'
  )
    throw new Error(`workerd-config printed an unexpected line: ${line.slice(0, 200)}`);
  return { command: v.command, args: v.args as string[], config: Buffer.from(v.config, 'base64') };
}

/** Runs launcher/workerd-config.mjs on these options; its warnings go to sink. */
export async function planWorkerd(options: PlainMiniflareOptions, sink: LineSink): Promise<WorkerdPlan> {
  const child = childProcess.spawn(process.execPath, [join(repoRoot, 'launcher/workerd-config.mjs')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const errLines: string[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  forwardLines(child.stderr, (line) => {
    errLines.push(line);
    sink(line);
  });
  child.stdin.on('error', () => {}); // an early exit is reported below, with its stderr
  child.stdin.end(JSON.stringify(options));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`could not make workerd's config (exit ${code}): ${errLines.slice(-5).join(' | ')}`);
  return parsePlan(Buffer.concat(out).toString('utf8').trim());
}

/**
 * Starts workerd from a plan, as Miniflare's runtime does. The V8 flags hook
 * (workerd-v8-flags.ts) sees this spawn like Miniflare's and patches the config.
 * The caller owns the process: stop it with stopWorkerd.
 */
export function spawnWorkerd(plan: WorkerdPlan, sink: LineSink): ChildProcess {
  const child = childProcess.spawn(plan.command, plan.args, {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  forwardLines(child.stdout!, sink);
  forwardLines(child.stderr!, sink);
  child.stdin!.on('error', () => {});
  // write, then end: the V8 flags hook patches write(), which end(chunk) would bypass.
  child.stdin!.write(plan.config);
  child.stdin!.end();
  return child;
}

/**
 * Resolves once workerd says (on its control pipe, fd 3) that it listens on
 * port; rejects if it exits first, e.g. because the port is taken.
 */
export function listening(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const control = child.stdio[3] as Readable | null;
  if (!control) return Promise.reject(new Error('workerd has no control pipe'));
  control.on('error', () => {});
  return new Promise((resolve, reject) => {
    let done = false;
    const rl = createInterface({ input: control, crlfDelay: Infinity });
    // Keeps reading after the answer: the pipe must not fill.
    rl.on('line', (line) => {
      if (done) return;
      try {
        const m = JSON.parse(line) as { event?: unknown; port?: unknown };
        if (m.event === 'listen' && m.port === port) {
          clearTimeout(timer);
          done = true;
          resolve();
        }
      } catch {
        // not a control message
      }
    });
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`workerd did not listen on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    void exited(child).then(() => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      reject(new Error(`workerd exited while starting (code ${child.exitCode}, signal ${child.signalCode}); see its output above`));
    });
  });
}

/** Resolves when the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * One GET with node:http. The host asks only this (to wake the node); Node's
 * fetch would load undici, about three times the memory of node:http in a host
 * that otherwise holds almost nothing.
 */
export function httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
