// The wire format of peer RPC: POST /raft/messages with `{"messages": Message[]}`,
// answered with `{"messages": Message[]}` (the replies addressed to the sender).
//
// Peers are authenticated but still checked: a peer running other code, or a
// corrupted body, must be refused with a 400 rather than reach the core as a
// shape its types do not describe. Objects are strict, so an unknown field is
// refused too; the compile-time check below keeps this in step with messages.ts.
import { z } from 'zod';
import type { Message } from '../raft/messages';

/** Terms, indexes and rounds: non-negative safe integers. */
const count = z.number().int().nonnegative();
const nodeId = z.string().min(1);

const envelope = { from: nodeId, to: nodeId, term: count };

const entry = z.strictObject({
  index: count,
  term: count,
  kind: z.enum(['command', 'noop', 'config']),
  data: z.string(),
});

export const messageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...envelope,
    type: z.literal('vote'),
    pre: z.boolean(),
    lastLogIndex: count,
    lastLogTerm: count,
  }),
  z.strictObject({
    ...envelope,
    type: z.literal('voteResp'),
    pre: z.boolean(),
    granted: z.boolean(),
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
]);

export const peerRequestSchema = z.strictObject({ messages: z.array(messageSchema) });

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
