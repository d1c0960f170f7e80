// One HTTP attempt against one node, and what its answer means for the retry
// loop. Only web-standard APIs (fetch, URL, AbortController, setTimeout) so
// the library runs in a Worker as well as in Node.

/** What one attempt produced, before the operation interprets a definite answer. */
export type Attempt =
  /** The node processed the request and answered (2xx, 4xx other than those below). */
  | { kind: 'answer'; status: number; body: unknown }
  /** 307 not_leader. `leader` is the usable leader base URL, or null. */
  | { kind: 'redirect'; leader: string | null }
  /** 503 no_leader: the node knows no leader; nothing was applied. */
  | { kind: 'no_leader' }
  /** Our per-attempt deadline passed, or the node said 504: outcome unknown. */
  | { kind: 'timeout'; message: string }
  /** Connection error or a broken answer. `reached`: the node may have acted on it. */
  | { kind: 'failed'; reached: boolean; message: string };

export interface HttpRequest {
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  /** Path and query, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Send one request to `base + req.path`, giving up after `timeoutMs`. Never throws. */
export async function attempt(fetchFn: typeof fetch, base: string, req: HttpRequest, timeoutMs: number): Promise<Attempt> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, timeoutMs));
  try {
    const init: RequestInit = {
      method: req.method,
      // Redirects are followed by the retry loop, which re-sends the body and
      // checks the target (same scheme) before trusting it.
      redirect: 'manual',
      signal: controller.signal,
    };
    if (req.headers !== undefined) init.headers = req.headers;
    if (req.body !== undefined) init.body = req.body;
    const res = await fetchFn(base + req.path, init);
    const text = await res.text();
    return classify(res.status, res.headers.get('location'), text, base, req.path);
  } catch (err) {
    if (controller.signal.aborted) {
      return { kind: 'timeout', message: `${base}: no answer within ${timeoutMs} ms` };
    }
    return { kind: 'failed', reached: !neverSent(err), message: `${base}: ${describeFetchError(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

export function classify(status: number, location: string | null, text: string, base: string, path: string): Attempt {
  const body = parseJson(text);
  const code = errorCode(body);
  if (status === 307 || status === 308 || code === 'not_leader') {
    const hinted = isRecord(body) && typeof body.leader === 'string' ? body.leader : null;
    return { kind: 'redirect', leader: leaderFromHints(base, path, location, hinted) };
  }
  if (status === 503 && code === 'no_leader') return { kind: 'no_leader' };
  if (status === 504) return { kind: 'timeout', message: `${base}: the node timed out (504)` };
  if (status >= 500 || body === undefined) {
    return { kind: 'failed', reached: true, message: `${base}: unexpected answer ${status}${preview(text)}` };
  }
  return { kind: 'answer', status, body };
}

/**
 * The leader's base URL from a not-leader answer: the body's `leader` first,
 * else the `Location` header with our path stripped. Only a URL of the same
 * scheme as the node that sent it is trusted (no https to http downgrade).
 */
export function leaderFromHints(base: string, path: string, location: string | null, hinted: string | null): string | null {
  const scheme = new URL(base).protocol;
  if (hinted !== null) {
    const url = tryNormalize(hinted);
    if (url !== null && new URL(url).protocol === scheme) return url;
  }
  if (location !== null) {
    let loc: URL;
    try {
      loc = new URL(location, base + path);
    } catch {
      return null;
    }
    if (loc.protocol !== scheme) return null;
    const full = loc.href;
    const stripped = full.endsWith(path) ? full.slice(0, full.length - path.length) : loc.origin;
    return tryNormalize(stripped);
  }
  return null;
}

/**
 * Canonical base URL of a node: scheme, host, port and path without a
 * trailing slash. A bare port means 127.0.0.1:PORT. Throws TypeError on
 * anything else (a bad argument).
 */
export function normalizeNodeUrl(input: string): string {
  const trimmed = input.trim();
  const raw = /^\d{1,5}$/.test(trimmed) ? `http://127.0.0.1:${trimmed}` : trimmed;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`not a node URL: ${JSON.stringify(input)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`node URL must be http or https: ${JSON.stringify(input)}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

function tryNormalize(input: string): string | null {
  try {
    return normalizeNodeUrl(input);
  } catch {
    return null;
  }
}

export function errorCode(body: unknown): string | undefined {
  return isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '';
  return `: ${oneLine.length > 120 ? `${oneLine.slice(0, 120)}...` : oneLine}`;
}

/** Codes of errors raised before any byte of the request left this machine. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ERR_INVALID_URL']);

/** Node's fetch wraps the socket error in `cause` (sometimes an AggregateError). */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (!isRecord(e) && !(e instanceof Error)) return;
    if (depth > 4) return;
    const rec = e as Record<string, unknown>;
    if (typeof rec.code === 'string') codes.push(rec.code);
    if (Array.isArray(rec.errors)) for (const inner of rec.errors) visit(inner, depth + 1);
    if (rec.cause !== undefined) visit(rec.cause, depth + 1);
  };
  visit(err, 0);
  return codes;
}

/** True only when we know the request never reached the node (refused, unresolvable). */
function neverSent(err: unknown): boolean {
  // fetch refuses some ports outright ("bad port", per the Fetch standard) before connecting.
  if (causeMessage(err) === 'bad port') return true;
  const codes = errorCodes(err);
  return codes.length > 0 && codes.every((c) => notSentCodes.has(c));
}

function causeMessage(err: unknown): string | null {
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof Error ? cause.message : null;
}

function describeFetchError(err: unknown): string {
  const codes = errorCodes(err);
  if (codes.includes('ECONNREFUSED')) return 'connection refused';
  if (codes.includes('ECONNRESET')) return 'connection reset';
  if (codes.length > 0) return `connection error (${[...new Set(codes)].join(', ')})`;
  const cause = causeMessage(err);
  if (cause !== null) return `${err instanceof Error ? err.message : 'error'} (${cause})`;
  return err instanceof Error ? err.message : String(err);
}
