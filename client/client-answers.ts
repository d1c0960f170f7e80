// How the client reads the nodes' answers (a definite result, a final
// refusal, or not an answer at all) and checks its own arguments: the pure
// parts of RaftKvClient (client.ts), apart so that file stays about the
// retry loop and sessions.
import { errorCode, isRecord } from './client-http';
import type { ClusterMember, Failure, MemberRef } from './client-types';

export function kvPath(key: string): string {
  return `/kv/${encodeURIComponent(key)}`;
}

/** Answer of set/delete: 200 {ok:true}, else a refusal. */
export function interpretOk(status: number, body: unknown): { ok: true } | Failure | undefined {
  if (status === 200 && isRecord(body) && body.ok === true) return { ok: true };
  return refusal(status, body, true);
}

/** A definite refusal by the node (session or bad input), or undefined if the answer is not one. */
export function refusal(status: number, body: unknown, write: boolean): Failure | undefined {
  const code = errorCode(body);
  const message = isRecord(body) && typeof body.message === 'string' ? body.message : (code ?? `status ${status}`);
  if (write && status === 409 && (code === 'serial_reused' || code === 'stale_serial' || code === 'session_expired')) {
    return { ok: false, error: { type: 'session', code, message: `${code}: ${message}`, outcomeUnknown: false } };
  }
  if ((status === 400 || status === 413) && code !== undefined) {
    return { ok: false, error: { type: 'bad_request', code, message: `rejected (${status}): ${message}`, outcomeUnknown: false } };
  }
  return undefined;
}

/** 401 and 409 membership_refused of the admin API, or undefined. */
export function adminRefusal(status: number, body: unknown): Failure | undefined {
  const code = errorCode(body);
  const message = isRecord(body) && typeof body.message === 'string' ? body.message : (code ?? `status ${status}`);
  if (status === 401) {
    return {
      ok: false,
      error: { type: 'unauthorized', code: code ?? 'unauthorized', message: `unauthorized: ${message}`, outcomeUnknown: false },
    };
  }
  if (status === 409 && code === 'membership_refused') {
    return { ok: false, error: { type: 'refused', code, message, outcomeUnknown: false } };
  }
  return undefined;
}

/** A GET /cluster answer, or undefined when it is not one. */
export function parseClusterView(
  body: unknown,
): { ok: true; leader: MemberRef | null; members: ClusterMember[]; configIndex: number } | undefined {
  if (!isRecord(body) || !Array.isArray(body.members) || typeof body.configIndex !== 'number') return undefined;
  const leader = body.leader;
  if (leader !== null && !(isRecord(leader) && typeof leader.id === 'string' && typeof leader.url === 'string')) return undefined;
  const members: ClusterMember[] = [];
  for (const m of body.members as unknown[]) {
    if (!isRecord(m) || typeof m.id !== 'string' || typeof m.url !== 'string') return undefined;
    if (m.role !== 'voter' && m.role !== 'learner') return undefined;
    const matchIndex = typeof m.matchIndex === 'number' ? m.matchIndex : null;
    members.push({ id: m.id, url: m.url, role: m.role, matchIndex });
  }
  return {
    ok: true,
    leader: leader === null ? null : { id: leader.id as string, url: leader.url as string },
    members,
    configIndex: body.configIndex,
  };
}

export function checkMemberId(id: string): void {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
    throw new RangeError(`member id must be 1-64 letters, digits, "_", "." or "-", got ${JSON.stringify(id)}`);
  }
}

export function positive(name: string, n: number): number {
  if (!(n > 0)) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

export function nonNegative(name: string, n: number): number {
  if (!(n >= 0)) throw new RangeError(`${name} must be zero or more, got ${n}`);
  return n;
}
