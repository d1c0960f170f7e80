// The seed project's routes, answered the way its server did, so its
// interactive client works unchanged: GET /get/:key, POST /set/:key and
// POST /delete/:key. Its client sends JSON labelled text/plain, so the body
// is parsed as JSON whatever the Content-Type. Followers answer 400 in text
// instead of redirecting, as the seed did; bad input still gets a JSON 4xx.
import { Hono, type Context } from 'hono';
import { keepAliveOf, type AppDeps, type AppEnv } from './app-deps';
import { readBodyText } from './body';
import { refuse, refuseSeed } from './errors';
import { MAX_JSON_BODY_BYTES, parseKeyFromUrl, parseSeedBody } from './schemas';
import type { CommandRequest, KvError } from '../kv/commands';
import { unreachable } from '../raft/types';

/** Position of the key in "/get/<key>" after splitting on "/". */
const KEY_SEGMENT = 2;

export function seedRoutes<B extends object>(deps: AppDeps<B>): Hono<AppEnv<B>> {
  const r = new Hono<AppEnv<B>>();

  // 204 for an absent key: the seed's server sent an empty body then.
  r.get('/get/:key', async (c) => {
    const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
    if (!key.ok) return refuse(c, key);
    const outcome = await deps.node(c.env, keepAliveOf(c)).read(key.value);
    if (outcome.type !== 'ok') return refuseSeed(c, outcome);
    if (outcome.value === null) return c.body(null, 204);
    return c.text(outcome.value);
  });

  r.post('/set/:key', (c) => seedWrite(c, deps, 'set'));
  r.post('/delete/:key', (c) => seedWrite(c, deps, 'delete'));

  for (const path of ['/get', '/get/', '/set', '/set/', '/delete', '/delete/']) {
    r.all(path, (c) => refuse(c, { error: 'bad_request', message: 'key must not be empty' }));
  }

  return r;
}

async function seedWrite<B extends object>(c: Context<AppEnv<B>>, deps: AppDeps<B>, op: 'set' | 'delete'): Promise<Response> {
  const key = parseKeyFromUrl(c.req.url, KEY_SEGMENT);
  if (!key.ok) return refuse(c, key);
  const body = await readBodyText(c.req.raw, MAX_JSON_BODY_BYTES);
  if (!body.ok) return refuse(c, body);
  const req = parseSeedBody(body.value, op, key.value);
  if (!req.ok) return refuse(c, req);

  const outcome = await deps.node(c.env, keepAliveOf(c)).write(req.value);
  if (outcome.type !== 'ok') return refuseSeed(c, outcome);
  const result = outcome.result;
  if (!result.ok) return refuse(c, { error: result.error, message: seedSessionMessage(result.error, req.value) });
  if (result.op !== op) throw new Error(`seed ${op} returned a result for op ${result.op}`);
  return c.text('ok');
}

/**
 * A session refusal in the seed's own terms: its client sent `requestSerial`
 * and a numeric `clientId`, which the node sees as serial + 1 of "seed-<id>"
 * (schemas.ts), so the state machine's message would name numbers the client
 * never sent.
 */
function seedSessionMessage(error: KvError['error'], req: CommandRequest): string {
  const serial = (req.session?.serial ?? 1) - 1;
  const client = req.session?.clientId.replace(/^seed-/, '') ?? '?';
  switch (error) {
    case 'serial_reused':
      return `requestSerial ${serial} of clientId ${client} was already used for a different command; use a new requestSerial`;
    case 'stale_serial':
      return `requestSerial ${serial} of clientId ${client} is too old: only the most recent serials of a client are remembered`;
    case 'session_expired': // seed sessions are named, never registered; kept for completeness
      return `the session of clientId ${client} has expired; the request was not applied`;
    default:
      return unreachable(error);
  }
}
