// What a key-value request's outcome means for the client, without HTTP:
// a status and a JSON body, or a refusal (errors.ts). The /kv routes
// (kv-routes.ts) and the client socket (client-socket.ts) both answer
// through these, so a request gets the same answer on either.
import type { ReadOutcome, WriteOutcome } from '../node-api';
import type { KvCommand, KvSuccess } from '../kv/commands';
import { outcomeRefusal, type Refusal } from './errors';

export type KvAnswer = { ok: true; body: Record<string, unknown> } | { ok: false; refusal: Refusal };

/** Every successful set and delete answers this body (the HTTP route sends it as prebuilt bytes). */
export const okWriteBody: Record<string, unknown> = Object.freeze({ ok: true });

/** GET /kv/:key: the value, or not_found, or why the node could not answer linearizably. */
export function readAnswer(key: string, outcome: ReadOutcome): KvAnswer {
  if (outcome.type !== 'ok') return { ok: false, refusal: outcomeRefusal(outcome) };
  if (outcome.value === null) return { ok: false, refusal: { error: 'not_found', key } };
  return { ok: true, body: { key, value: outcome.value } };
}

/** PUT, DELETE and cas: `{ok: true}`, cas_mismatch, a session refusal, or why it was not done. */
export function writeAnswer(cmd: KvCommand, outcome: WriteOutcome): KvAnswer {
  if (outcome.type !== 'ok') return { ok: false, refusal: outcomeRefusal(outcome) };
  const result = outcome.result;
  if (!result.ok) return { ok: false, refusal: { error: result.error, message: result.message } };
  if (result.op === 'register') throw new Error(`write of op ${cmd.op} returned a register result`);
  return success(cmd, result);
}

/** POST /sessions: the new session's id. */
export function registerAnswer(outcome: WriteOutcome): KvAnswer {
  if (outcome.type !== 'ok') return { ok: false, refusal: outcomeRefusal(outcome) };
  const result = outcome.result;
  if (!result.ok || result.op !== 'register') throw new Error(`register returned ${JSON.stringify(result)}`);
  return { ok: true, body: { clientId: result.clientId } };
}

function success(cmd: KvCommand, result: KvSuccess): KvAnswer {
  if (result.op !== cmd.op) {
    // The state machine answers the command it was given; anything else is a bug.
    throw new Error(`write of op ${cmd.op} returned a result for op ${result.op}`);
  }
  if (result.op === 'cas' && !result.swapped) return { ok: false, refusal: { error: 'cas_mismatch', current: result.current } };
  return { ok: true, body: okWriteBody };
}
