// Argument checks (the client refuses locally what every node would refuse,
// by throwing: a bad argument is the caller's bug) and the shape check of a
// node's /status answer.
import { isRecord } from './client-http';
import type { MemberRef, NodeStatus, PeerStatus, Role } from './client-types';

/** Limits of the HTTP API (issue 3). */
export const limits = { keyMaxBytes: 512, valueMaxBytes: 64 * 1024, clientIdMaxChars: 128 } as const;

const utf8 = new TextEncoder();

/** A UTF-16 surrogate with no partner: it has no UTF-8 form, so the server refuses it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkKey(key: string): void {
  if (typeof key !== 'string') throw new TypeError('key must be a string');
  if (loneSurrogate.test(key)) throw new RangeError('key has a lone surrogate (not valid Unicode text)');
  const bytes = utf8.encode(key).length;
  if (bytes === 0) throw new RangeError('key must not be empty');
  if (bytes > limits.keyMaxBytes) throw new RangeError(`key is ${bytes} bytes; the limit is ${limits.keyMaxBytes}`);
}

export function checkValue(name: string, value: string): void {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  // fetch would send U+FFFD in its place, so the server would store something else.
  if (loneSurrogate.test(value)) throw new RangeError(`${name} has a lone surrogate (not valid Unicode text)`);
  const bytes = utf8.encode(value).length;
  if (bytes > limits.valueMaxBytes) {
    throw new RangeError(`${name} is ${bytes} bytes; the limit is ${limits.valueMaxBytes}`);
  }
}

export function checkClientId(id: string): void {
  if (typeof id !== 'string' || id.length < 1 || id.length > limits.clientIdMaxChars) {
    throw new RangeError(`clientId must be 1..${limits.clientIdMaxChars} characters`);
  }
  // A comma is how the server recognises a repeated Client-Id header, so it refuses one.
  if (id.includes(',')) throw new RangeError('clientId must not contain a comma');
  // The server takes only ids it handed out (POST /sessions); see docs/sessions.md.
  if (!/^session-[1-9][0-9]*$/.test(id)) {
    throw new RangeError(`clientId ${JSON.stringify(id)} is not a registered session id (session-<n>); leave it out to register one`);
  }
}

export function checkSerial(serial: number): void {
  if (!Number.isSafeInteger(serial) || serial < 1) {
    throw new RangeError(`serial must be a positive integer, got ${serial}`);
  }
}

/** A /status body, or null if it lacks the fields a status table needs. */
export function parseNodeStatus(body: unknown): NodeStatus | null {
  if (!isRecord(body)) return null;
  const { id, url, role, term } = body;
  if (typeof id !== 'string' || typeof url !== 'string' || !isRole(role) || typeof term !== 'number') {
    return null;
  }
  const peers = Array.isArray(body.peers) ? body.peers.map(parsePeer).filter((p): p is PeerStatus => p !== null) : [];
  return {
    id,
    url,
    role,
    term,
    leader: parseMember(body.leader),
    commitIndex: num(body.commitIndex),
    appliedIndex: num(body.appliedIndex),
    lastLogIndex: num(body.lastLogIndex),
    lastLogTerm: num(body.lastLogTerm),
    firstLogIndex: num(body.firstLogIndex),
    snapshotIndex: num(body.snapshotIndex),
    membership: parseMembership(body.membership),
    configIndex: num(body.configIndex),
    peers,
  };
}

/** A node's configuration; an older node that reports none counts as none known. */
function parseMembership(raw: unknown): NodeStatus['membership'] {
  if (!isRecord(raw)) return { voters: [], learners: [] };
  const list = (x: unknown) => (Array.isArray(x) ? x.map(parseMember).filter((m): m is NonNullable<typeof m> => m !== null) : []);
  return { voters: list(raw.voters), learners: list(raw.learners) };
}

/** Every role a node can report, so a /status answer can be checked at run time. */
const roles = { follower: true, precandidate: true, candidate: true, leader: true } as const satisfies Record<Role, true>;

function isRole(x: unknown): x is Role {
  return typeof x === 'string' && Object.hasOwn(roles, x);
}

const peerStates = { probe: true, replicate: true, snapshot: true } as const satisfies Record<PeerStatus['state'], true>;

function isPeerState(x: unknown): x is PeerStatus['state'] {
  return typeof x === 'string' && Object.hasOwn(peerStates, x);
}

function parseMember(x: unknown): MemberRef | null {
  if (!isRecord(x) || typeof x.id !== 'string' || typeof x.url !== 'string') return null;
  return { id: x.id, url: x.url };
}

function parsePeer(x: unknown): PeerStatus | null {
  const m = parseMember(x);
  if (m === null || !isRecord(x)) return null;
  const last = x.lastContactMs;
  return {
    ...m,
    matchIndex: num(x.matchIndex),
    nextIndex: num(x.nextIndex),
    lastContactMs: typeof last === 'number' ? last : null,
    // A node from before snapshots does not report it; it could only probe or replicate.
    state: isPeerState(x.state) ? x.state : 'probe',
  };
}

function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : 0;
}
