// The key-value API: GET/PUT/DELETE /kv/:key, POST /kv/:key/cas, and
// POST /sessions to register a client session.
//
// Each handler validates everything (key, request identity, body) before it
// touches the node, so a refused request has changed nothing.
import { Hono, type Context } from 'hono';
import { keepAliveOf, type AppDeps, type AppEnv } from './app-deps';
import type { WriteOutcome } from '../node-api';
import type { KvCommand } from '../kv/commands';
import { okWriteBody, readAnswer, registerAnswer, writeAnswer, type KvAnswer } from './kv-answers';
import { readBodyText } from './body';
import { refuse } from './errors';
import { MAX_JSON_BODY_BYTES, MAX_VALUE_BYTES, checkValue, parseCasBody, parseKeyFromUrl, parseSessionHeaders } from './schemas';

/** Position of the key in "/kv/<key>" and "/kv/<key>/cas" after splitting on "/". */
const KEY_SEGMENT = 2;

export function kvRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();

  // Linearizable: the node answers through ReadIndex (thesis §6.4) or refuses.
  r.get('/kv/:key', async (c) => {
    const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
    if (!key.ok) return refuse(c, key);
    return answer(c, readAnswer(key.value, await deps.node(c.env, keepAliveOf(c)).read(key.value)));
  });

  // The body is the value itself, whatever its Content-Type.
  r.put('/kv/:key', async (c) => {
    const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
    if (!key.ok) return refuse(c, key);
    const session = parseSessionHeaders(c.req.raw.headers);
    if (!session.ok) return refuse(c, session);
    const body = await readBodyText(c.req.raw, MAX_VALUE_BYTES);
    if (!body.ok) return refuse(c, body);
    const value = checkValue(body.value);
    if (!value.ok) return refuse(c, value);
    return write(c, deps, { op: 'set', key: key.value, value: value.value }, session.value);
  });

  // Deleting an absent key succeeds too: the client's intent ("absent") holds.
  r.delete('/kv/:key', async (c) => {
    const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
    if (!key.ok) return refuse(c, key);
    const session = parseSessionHeaders(c.req.raw.headers);
    if (!session.ok) return refuse(c, session);
    return write(c, deps, { op: 'delete', key: key.value }, session.value);
  });

  r.post('/kv/:key/cas', async (c) => {
    const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
    if (!key.ok) return refuse(c, key);
    const session = parseSessionHeaders(c.req.raw.headers);
    if (!session.ok) return refuse(c, session);
    const body = await readBodyText(c.req.raw, MAX_JSON_BODY_BYTES);
    if (!body.ok) return refuse(c, body);
    const cmd = parseCasBody(body.value, key.value);
    if (!cmd.ok) return refuse(c, cmd);
    return write(c, deps, cmd.value, session.value);
  });

  // Opens a registered session (thesis §6.3; docs/sessions.md). Not itself
  // exactly-once: a retried registration may open a second session, which
  // costs one table slot until it is evicted, and nothing else.
  r.post('/sessions', async (c) => {
    return answer(c, registerAnswer(await deps.node(c.env, keepAliveOf(c)).write({ register: true })));
  });

  // "/kv" and "/kv/" name no key; say so instead of a bare 404.
  for (const path of ['/kv', '/kv/']) {
    r.all(path, (c) => refuse(c, { error: 'bad_request', message: 'key must not be empty: use /kv/<key>' }));
  }

  return r;
}

async function write<B extends object>(
  c: Context<AppEnv<B>>,
  deps: AppDeps<B>,
  cmd: KvCommand,
  session: { clientId: string; serial: number } | undefined,
): Promise<Response> {
  const outcome: WriteOutcome = await deps.node(c.env, keepAliveOf(c)).write(session ? { cmd, session } : { cmd });
  return answer(c, writeAnswer(cmd, outcome));
}

function answer(c: Context, a: KvAnswer): Response {
  if (!a.ok) return refuse(c, a.refusal);
  return a.body === okWriteBody ? c.body(okBody, 200, jsonHeaders) : c.json(a.body);
}

/** Every successful write answers the same bytes; built once. */
const okBody = JSON.stringify(okWriteBody);
const jsonHeaders = { 'Content-Type': 'application/json' };
