// Helpers for the HTTP-level cluster tests (cluster-api, cluster-refusals, stale-reads):
// one classified HTTP exchange, bounded polls, and request identities.
import { expect } from 'vitest';
export const timing = { electionTimeoutMs: 300, heartbeatIntervalMs: 60, requestTimeoutMs: 1000 };
export const runId = Math.random().toString(36).slice(2, 8);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

export interface Send {
  method?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  redirect?: 'manual' | 'follow';
  timeoutMs?: number;
}

/** One HTTP exchange; 307s are returned as they are unless redirect is 'follow'. */
export async function http(url: string, init: Send = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    body: init.body,
    headers: init.headers,
    redirect: init.redirect ?? 'manual',
    signal: AbortSignal.timeout(init.timeoutMs ?? 8000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Sends the same request until it gets an answer other than "try again"
 * (503, 504, 500 from a cut-short call, or no connection), following 307s by
 * hand and checking each one. Safe for writes only when they carry a request
 * identity: a retry is then never applied twice.
 */
export async function settle(urls: string[], path: string, init: Send = {}, timeoutMs = 25_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing sent';
  for (let attempt = 0; ; attempt++) {
    let url = `${urls[attempt % urls.length]}${path}`;
    try {
      for (let hop = 0; hop < 5; hop++) {
        const a = await http(url, init);
        if (a.status === 307) {
          expect(a.json).toMatchObject({ error: 'not_leader' });
          expect(a.headers.get('Location')).toBe(`${a.json.leader}${path}`);
          url = a.headers.get('Location')!;
          continue;
        }
        if (a.status !== 503 && a.status !== 504 && a.status !== 500) return a;
        last = `${a.status} ${a.text}`;
        break;
      }
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`no settled answer for ${init.method ?? 'GET'} ${path} within ${timeoutMs} ms; last: ${last}`);
    await sleep(100);
  }
}

/** Registers a session (POST /sessions through whichever node leads) and returns its Client-Id. */
export async function newSession(urls: string[]): Promise<string> {
  const a = await settle(urls, '/sessions', { method: 'POST' });
  expect(a.status).toBe(200);
  expect(a.json?.clientId).toMatch(/^session-[1-9][0-9]*$/);
  return a.json.clientId as string;
}

let session: Promise<string> | null = null;
let serial = 0;
/** A fresh request identity for one write (retries of it reuse it), in a session registered on first use. */
export async function identity(urls: string[]): Promise<Record<string, string>> {
  session ??= newSession(urls);
  const clientId = await session;
  return { 'Client-Id': clientId, 'Request-Serial': String(++serial) };
}

export const put = async (urls: string[], key: string, value: string) =>
  settle(urls, `/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value, headers: await identity(urls) });
export const read = (urls: string[], key: string) => settle(urls, `/kv/${encodeURIComponent(key)}`);

/** Polls probe until check passes; returns the last value (undefined if every probe threw). */
export async function eventually<T>(
  probe: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs: number,
  pollMs = 100,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (check(last)) return last;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) return last;
    await sleep(pollMs);
  }
}
