// Running one parsed command against the client and turning the result into
// output lines and an exit code. No process or terminal access here: the
// caller (cli.ts) prints the output.
import type { RaftKvClient } from '../client';
import type { ClientError, RequestOptions } from '../client-types';
import type { Command } from './parse';
import { usage } from './parse';
import { errorLine, membersTable, showValue, statusTable } from './format';

export const exitCodes = {
  ok: 0,
  /** get of an absent key, or a cas whose expected value did not match. */
  negative: 1,
  usage: 2,
  /** timeout, unavailable, or (PORT given) not the leader. */
  unavailable: 3,
  /** The cluster refused the request: session error or bad request. */
  refused: 4,
  /** A bug: an unexpected exception. */
  internal: 5,
} as const;

export interface Output {
  /** Lines for stdout. */
  out: string[];
  /** Lines for stderr. */
  err: string[];
  exitCode: number;
  /** The shell should stop after this command. */
  exit?: boolean;
}

/** `json`: one JSON object per result on stdout instead of text. */
export async function runCommand(client: RaftKvClient, command: Command, json: boolean): Promise<Output> {
  try {
    return await dispatch(client, command, json);
  } catch (err) {
    // The client throws only for bad arguments (a usage error) and for bugs.
    const message = err instanceof Error ? err.message : String(err);
    const isUsage = err instanceof RangeError || err instanceof TypeError;
    return failLine(json, isUsage ? 'usage' : 'internal', message, isUsage ? exitCodes.usage : exitCodes.internal);
  }
}

/** Output for a line that did not parse, or for bad process arguments. */
export function usageError(message: string, json: boolean): Output {
  return failLine(json, 'usage', message, exitCodes.usage);
}

async function dispatch(client: RaftKvClient, c: Command, json: boolean): Promise<Output> {
  switch (c.type) {
    case 'empty':
      return { out: [], err: [], exitCode: exitCodes.ok };
    case 'exit':
      return { out: [], err: [], exitCode: exitCodes.ok, exit: true };
    case 'help':
      return json ? print({ ok: true, command: 'help', text: usage }, exitCodes.ok) : print(usage, exitCodes.ok);
    case 'status': {
      const s = await client.status();
      const code = s.nodes.some((n) => n.reachable) ? exitCodes.ok : exitCodes.unavailable;
      return json ? print({ ok: true, command: 'status', ...s }, code) : { out: statusTable(s), err: [], exitCode: code };
    }
    case 'members': {
      const r = await client.members();
      if (!r.ok) return failure(json, 'members', null, r.error);
      return json ? print({ command: 'members', ...r }, exitCodes.ok) : { out: membersTable(r), err: [], exitCode: exitCodes.ok };
    }
    case 'add':
    case 'promote':
    case 'remove': {
      const r =
        c.type === 'add'
          ? await client.addMember(c.id, c.url, { role: c.role })
          : c.type === 'promote'
            ? await client.promote(c.id)
            : await client.removeMember(c.id);
      if (!r.ok) return failure(json, c.type, null, r.error);
      if (json) return print({ ok: true, command: c.type, id: c.id, configIndex: r.configIndex }, exitCodes.ok);
      return print(`ok (configuration at index ${r.configIndex ?? '?'})`, exitCodes.ok);
    }
    case 'transfer': {
      const r = await client.transferLeadership(c.id);
      if (!r.ok) return failure(json, 'transfer', null, r.error);
      return json ? print({ ok: true, command: 'transfer', leader: r.leader }, exitCodes.ok) : print(`ok: ${r.leader} leads`, exitCodes.ok);
    }
    case 'get': {
      const r = await client.get(c.key, routing(c));
      if (!r.ok) return failure(json, 'get', c.key, r.error);
      const code = r.value === null ? exitCodes.negative : exitCodes.ok;
      if (json) return print({ ok: true, command: 'get', key: c.key, value: r.value }, code);
      return print(r.value === null ? '(not found)' : r.value, code);
    }
    case 'set':
    case 'delete': {
      const r = c.type === 'set' ? await client.set(c.key, c.value, routing(c)) : await client.delete(c.key, routing(c));
      if (!r.ok) return failure(json, c.type, c.key, r.error);
      return json ? print({ ok: true, command: c.type, key: c.key }, exitCodes.ok) : print('ok', exitCodes.ok);
    }
    case 'cas': {
      const r = await client.cas(c.key, c.expected, c.value, routing(c));
      if (!r.ok) return failure(json, 'cas', c.key, r.error);
      if (r.swapped) {
        return json ? print({ ok: true, command: 'cas', key: c.key, swapped: true }, exitCodes.ok) : print('ok', exitCodes.ok);
      }
      if (json) return print({ ok: true, command: 'cas', key: c.key, swapped: false, current: r.current }, exitCodes.negative);
      return print(`mismatch: current value is ${showValue(r.current)}`, exitCodes.negative);
    }
  }
}

/**
 * With PORT the request goes to that node alone, once, and a not-leader answer
 * is reported rather than followed: the seed's behaviour, and what a person
 * poking at one node wants. Without PORT the client finds the leader and
 * retries until its deadline.
 */
function routing(c: { node?: string; serial?: number }): RequestOptions {
  const options: RequestOptions = {};
  if (c.serial !== undefined) options.serial = c.serial;
  if (c.node !== undefined) {
    options.node = c.node;
    options.followRedirects = false;
    options.retries = 0;
  }
  return options;
}

function failure(json: boolean, command: string, key: string | null, error: ClientError): Output {
  const refused = ['session', 'bad_request', 'refused', 'unauthorized'].includes(error.type);
  const code = refused ? exitCodes.refused : exitCodes.unavailable;
  if (json) return print(key === null ? { ok: false, command, error } : { ok: false, command, key, error }, code);
  return { out: [], err: [errorLine(error)], exitCode: code };
}

function failLine(json: boolean, type: string, message: string, exitCode: number): Output {
  if (json) return print({ ok: false, error: { type, message } }, exitCode);
  return { out: [], err: [type === 'usage' ? `error: ${message}` : `error (${type}): ${message}`], exitCode };
}

function print(x: string | object, exitCode: number): Output {
  return { out: [typeof x === 'string' ? x : JSON.stringify(x)], err: [], exitCode };
}
