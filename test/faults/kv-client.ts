// A thin key-value client that knows exactly what it knows. Each operation
// has a deadline; inside it the client retries (writes with the same
// Client-Id and Request-Serial, so a retry is never applied twice), follows
// 307 redirects and tries other nodes on 503 or connection errors. Its
// Client-Id is a session it registers (POST /sessions) before its first
// write: the API takes no other. A run opens far fewer sessions than the
// table holds, so `session_expired` is never expected and counts as an
// anomaly. The outcome is one of:
// - ok: a definite answer (the observed result);
// - failed: the operation certainly did not take effect (every attempt was
//   refused or never sent);
// - unknown: some attempt may have been applied and none gave an answer.
// A get that got no answer is simply "failed": a read changes nothing.
import type { KvObserved, KvOp } from '../sim/checkers/history';
import type { Prng } from '../sim/prng';
import { attempt, field, type Attempt } from './kv-http';

export type OpOutcome = { type: 'ok'; observed: KvObserved } | { type: 'failed'; why: string } | { type: 'unknown'; why: string };

export interface KvClientOptions {
  /** Names the client in histories and values; the Client-Id is the session it registers. */
  name: string;
  /** Node id → client URL. */
  nodes: Map<string, string>;
  /** Proxy port → node id, to undo a redirect to a peer URL that is really a proxy. */
  proxyTargets: Map<number, string>;
  opDeadlineMs: number;
  attemptTimeoutMs: number;
  maxAttempts: number;
  rng: Prng;
  /** Called for an answer the API contract does not allow: a bug somewhere. */
  onAnomaly: (description: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class KvClient {
  /** Never reset, so a value naming name and serial is unique even across sessions. */
  private serial = 0;
  private session: string | null = null;
  private hint: string | null = null;
  private readonly urls: string[];

  constructor(private readonly o: KvClientOptions) {
    this.urls = [...o.nodes.values()];
  }

  get id(): string {
    return this.o.name;
  }

  /** The serial the next write will carry (so values can name it). */
  nextSerial(): number {
    return this.serial + 1;
  }

  async perform(key: string, op: KvOp): Promise<OpOutcome> {
    const isWrite = op.type !== 'get';
    const deadline = Date.now() + this.o.opDeadlineMs;
    if (isWrite && this.session === null) {
      const registered = await this.register(deadline);
      if (registered !== null) return { type: 'failed', why: `no session: ${registered}` }; // the write was never sent
    }
    const serial = isWrite ? ++this.serial : 0;
    const clientId = this.session ?? '';
    let target = this.hint ?? this.o.rng.pick(this.urls);
    let mayHaveApplied = false;
    let lastWhy = 'deadline passed before any attempt';
    let redirects = 0;
    for (let n = 0; n < this.o.maxAttempts; n++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const a = await attempt({
        baseUrl: target,
        timeoutMs: Math.min(left, this.o.attemptTimeoutMs),
        ...request(key, op, clientId, serial),
      });
      const verdict = this.judge(op, a, `${op.type} ${key} serial ${serial} at ${target}`);
      switch (verdict.type) {
        case 'ok':
          this.hint = target;
          return verdict;
        case 'redirect': {
          redirects++;
          lastWhy = `redirected to ${verdict.to}`;
          const next = this.resolve(verdict.to);
          if (next === null) {
            this.o.onAnomaly(`${op.type} ${key}: 307 to unknown node ${verdict.to} from ${target}`);
            target = this.other(target);
          } else {
            target = next;
          }
          if (redirects > 2) await sleep(Math.min(50 * (redirects - 2), 200)); // a leader change in progress
          continue;
        }
        case 'refused':
          lastWhy = verdict.why;
          this.hint = null;
          target = this.other(target);
          await sleep(verdict.backoffMs);
          continue;
        case 'maybe':
          mayHaveApplied = true;
          lastWhy = verdict.why;
          this.hint = null;
          target = this.other(target);
          continue;
      }
    }
    if (isWrite && mayHaveApplied) return { type: 'unknown', why: lastWhy };
    return { type: 'failed', why: lastWhy };
  }

  /**
   * Opens the session writes use; null when done, else why not. A retry after
   * a lost answer may open a spare session, which costs a table slot only.
   */
  private async register(deadline: number): Promise<string | null> {
    let target = this.hint ?? this.o.rng.pick(this.urls);
    let why = 'deadline passed before any attempt';
    for (let n = 0; n < this.o.maxAttempts; n++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const a = await attempt({ baseUrl: target, timeoutMs: Math.min(left, this.o.attemptTimeoutMs), method: 'POST', path: '/sessions' });
      if (a.kind === 'answer' && a.status === 200) {
        const id = field(a.body, 'clientId');
        if (typeof id === 'string' && /^session-[1-9][0-9]*$/.test(id)) {
          this.session = id;
          this.hint = target;
          return null;
        }
        this.o.onAnomaly(`register at ${target}: 200 with unexpected body ${JSON.stringify(a.body)}`);
        return 'bad answer';
      }
      if (a.kind === 'answer' && a.status === 307) {
        const to = a.location ?? field(a.body, 'leader');
        const next = typeof to === 'string' ? this.resolve(to) : null;
        why = `redirected to ${String(to)}`;
        target = next ?? this.other(target);
        continue;
      }
      why = a.kind === 'answer' ? `${a.status} ${JSON.stringify(a.body)}` : a.reason;
      target = this.other(target);
      await sleep(30);
    }
    return why;
  }

  private judge(
    op: KvOp,
    a: Attempt,
    what: string,
  ): OpOutcome | { type: 'redirect'; to: string } | { type: 'refused'; why: string; backoffMs: number } | { type: 'maybe'; why: string } {
    if (a.kind === 'notSent') return { type: 'refused', why: `not sent: ${a.reason}`, backoffMs: 30 };
    if (a.kind === 'noAnswer') return { type: 'maybe', why: `no answer: ${a.reason}` };
    const error = field(a.body, 'error');
    switch (a.status) {
      case 200:
        return this.success(op, a.body, what);
      case 404:
        if (op.type === 'get' && error === 'not_found') return { type: 'ok', observed: { type: 'get', value: null } };
        break;
      case 409:
        if (op.type === 'cas' && error === 'cas_mismatch') {
          const current = field(a.body, 'current');
          if (current === null || typeof current === 'string') return { type: 'ok', observed: { type: 'cas', swapped: false, current } };
        }
        break;
      case 307: {
        const to = a.location ?? field(a.body, 'leader');
        if (typeof to === 'string') return { type: 'redirect', to };
        break;
      }
      case 503:
        if (error === 'no_leader') return { type: 'refused', why: '503 no_leader', backoffMs: 100 };
        break;
      case 504:
        if (error === 'timeout') return { type: 'maybe', why: '504 timeout' };
        break;
    }
    this.o.onAnomaly(`${what}: unexpected answer ${a.status} ${JSON.stringify(a.body)}`);
    return { type: 'maybe', why: `unexpected ${a.status}` };
  }

  private success(op: KvOp, body: unknown, what: string): OpOutcome | { type: 'maybe'; why: string } {
    switch (op.type) {
      case 'get': {
        const value = field(body, 'value');
        if (typeof value === 'string') return { type: 'ok', observed: { type: 'get', value } };
        break;
      }
      case 'set':
        if (field(body, 'ok') === true) return { type: 'ok', observed: { type: 'set' } };
        break;
      case 'delete':
        if (field(body, 'ok') === true) return { type: 'ok', observed: { type: 'delete' } };
        break;
      case 'cas':
        // Swapped: the value after the op is the one we wrote.
        if (field(body, 'ok') === true) return { type: 'ok', observed: { type: 'cas', swapped: true, current: op.value } };
        break;
    }
    this.o.onAnomaly(`${what}: 200 with unexpected body ${JSON.stringify(body)}`);
    return { type: 'maybe', why: 'unexpected 200 body' };
  }

  /** A Location or leader URL as one of our node URLs (a proxy port maps to the node behind it). */
  private resolve(to: string): string | null {
    let u: URL;
    try {
      u = new URL(to);
    } catch {
      return null;
    }
    const origin = `${u.protocol}//${u.host}`;
    if (this.urls.includes(origin)) return origin;
    const behind = this.o.proxyTargets.get(Number(u.port));
    return behind === undefined ? null : (this.o.nodes.get(behind) ?? null);
  }

  private other(current: string): string {
    const rest = this.urls.filter((u) => u !== current);
    return rest.length === 0 ? current : this.o.rng.pick(rest);
  }
}

function request(
  key: string,
  op: KvOp,
  clientId: string,
  serial: number,
): { method: 'GET' | 'PUT' | 'DELETE' | 'POST'; path: string; headers?: Record<string, string>; body?: string } {
  const path = `/kv/${encodeURIComponent(key)}`;
  const session = { 'client-id': clientId, 'request-serial': String(serial) };
  switch (op.type) {
    case 'get':
      return { method: 'GET', path };
    case 'set':
      return { method: 'PUT', path, headers: { ...session, 'content-type': 'text/plain' }, body: op.value };
    case 'delete':
      return { method: 'DELETE', path, headers: session };
    case 'cas':
      return {
        method: 'POST',
        path: `${path}/cas`,
        headers: { ...session, 'content-type': 'application/json' },
        body: JSON.stringify({ expected: op.expected, value: op.value }),
      };
  }
}
