// The wire format of peer RPC: POST /raft/messages with `{"messages": Message[]}`,
// answered with `{"messages": Message[]}` (the replies addressed to the sender).
//
// Peers are authenticated but still checked: a peer running other code, or a
// corrupted body, must be refused with a 400 rather than reach the core as a
// shape its types do not describe. Objects are strict, so an unknown field is
// refused too; the compile-time check below keeps this in step with messages.ts.
import { z } from 'zod';
import type { Message } from '../raft/messages';

/**
 * The largest term, index or round a peer message may carry. A node stores
 * the terms and indexes it accepts and later sends them plus one; far below
 * 2^53, so that arithmetic stays exact and whatever is accepted can still be
 * incremented and sent. No honest cluster gets near it: it is 2^50 elections,
 * or entries.
 */
export const MAX_WIRE_COUNT = 2 ** 50;

/** Terms, indexes and rounds: integers in [0, MAX_WIRE_COUNT]. */
const count = z.number().int().nonnegative().max(MAX_WIRE_COUNT);
const nodeId = z.string().min(1);

const envelope = { from: nodeId, to: nodeId, term: count };

const entry = z.strictObject({
  index: count,
  term: count,
  kind: z.enum(['command', 'noop', 'config']),
  data: z.string(),
});

const member = z.strictObject({ id: nodeId, url: z.string().min(1) });
const membership = z.strictObject({ voters: z.array(member), learners: z.array(member) });

export const messageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...envelope,
    type: z.literal('vote'),
    pre: z.boolean(),
    transfer: z.boolean(),
    lastLogIndex: count,
    lastLogTerm: count,
    round: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('voteResp'),
    pre: z.boolean(),
    granted: z.boolean(),
    round: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('append'),
    leaderUrl: z.string().min(1),
    prevLogIndex: count,
    prevLogTerm: count,
    entries: z.array(entry),
    commit: count,
    round: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('appendResp'),
    success: z.boolean(),
    prevLogIndex: count,
    matchIndex: count,
    round: count,
    lastIndex: count,
    conflictTerm: count,
    conflictIndex: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('snapshot'),
    leaderUrl: z.string().min(1),
    index: count,
    lastTerm: count,
    chunk: count,
    data: z.string(),
    done: z.boolean(),
    membership,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('snapshotResp'),
    index: count,
    lastTerm: count,
    nextChunk: count,
    installed: z.boolean(),
    matchIndex: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('timeoutNow'),
  }),
]);

export const peerRequestSchema = z.strictObject({ messages: z.array(messageSchema) });

/**
 * The same check as `peerRequestSchema`, written out by hand: it runs on every
 * peer POST, where zod's generality costs more than the rest of the route. It
 * only answers yes or no; on a no the route asks the schema what is wrong.
 * message-schemas.test.ts checks that the two agree.
 */
export function isPeerRequest(x: unknown): x is PeerRequest {
  if (!isObject(x) || !hasKeys(x, 1) || !Array.isArray(x.messages)) return false;
  for (const m of x.messages as unknown[]) if (!isMessage(m)) return false;
  return true;
}

/** One peer message, checked as strictly as in a request; replies are checked with this too. */
export function isMessage(m: unknown): m is Message {
  if (!isObject(m) || !isId(m.from) || !isId(m.to) || !isCount(m.term)) return false;
  switch (m.type) {
    case 'vote':
      return (
        hasKeys(m, 9) &&
        typeof m.pre === 'boolean' &&
        typeof m.transfer === 'boolean' &&
        isCount(m.lastLogIndex) &&
        isCount(m.lastLogTerm) &&
        isCount(m.round)
      );
    case 'voteResp':
      return hasKeys(m, 7) && typeof m.pre === 'boolean' && typeof m.granted === 'boolean' && isCount(m.round);
    case 'append':
      return (
        hasKeys(m, 10) &&
        isId(m.leaderUrl) &&
        isCount(m.prevLogIndex) &&
        isCount(m.prevLogTerm) &&
        isCount(m.commit) &&
        isCount(m.round) &&
        Array.isArray(m.entries) &&
        (m.entries as unknown[]).every(isEntry)
      );
    case 'appendResp':
      return (
        hasKeys(m, 11) &&
        typeof m.success === 'boolean' &&
        isCount(m.prevLogIndex) &&
        isCount(m.matchIndex) &&
        isCount(m.round) &&
        isCount(m.lastIndex) &&
        isCount(m.conflictTerm) &&
        isCount(m.conflictIndex)
      );
    case 'snapshot':
      return (
        hasKeys(m, 11) &&
        isId(m.leaderUrl) &&
        isCount(m.index) &&
        isCount(m.lastTerm) &&
        isCount(m.chunk) &&
        typeof m.data === 'string' &&
        typeof m.done === 'boolean' &&
        isMembership(m.membership)
      );
    case 'timeoutNow':
      return hasKeys(m, 4);
    case 'snapshotResp':
      return (
        hasKeys(m, 9) &&
        isCount(m.index) &&
        isCount(m.lastTerm) &&
        isCount(m.nextChunk) &&
        typeof m.installed === 'boolean' &&
        isCount(m.matchIndex)
      );
    default:
      return false;
  }
}

function isMembership(x: unknown): boolean {
  const isMember = (y: unknown) => isObject(y) && hasKeys(y, 2) && isId(y.id) && isId(y.url);
  return (
    isObject(x) &&
    hasKeys(x, 2) &&
    Array.isArray(x.voters) &&
    Array.isArray(x.learners) &&
    (x.voters as unknown[]).every(isMember) &&
    (x.learners as unknown[]).every(isMember)
  );
}

function isEntry(e: unknown): boolean {
  return (
    isObject(e) &&
    hasKeys(e, 4) &&
    isCount(e.index) &&
    isCount(e.term) &&
    (e.kind === 'command' || e.kind === 'noop' || e.kind === 'config') &&
    typeof e.data === 'string'
  );
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Exactly `n` own keys: with the fields checked present, that makes the object strict. */
function hasKeys(o: object, n: number): boolean {
  return Object.keys(o).length === n;
}

const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_WIRE_COUNT;
const isId = (x: unknown): boolean => typeof x === 'string' && x.length > 0;

export interface PeerRequest {
  messages: Message[];
}
export interface PeerResponse {
  messages: Message[];
}

// Fails to compile if the schema and the Message type drift apart in either direction.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesMessage: Same<z.infer<typeof messageSchema>, Message> = true;
void schemaMatchesMessage;
