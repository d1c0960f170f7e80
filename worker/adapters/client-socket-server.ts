// The node's side of a client socket (docs/client-sockets.md): the Durable
// Object accepts the upgrade itself and listens on the socket, so each frame
// is one object event with no Worker event and no RPC. A frame's writes are
// proposed together and its reads share one ReadIndex round. Answers are sent as they settle, those of
// one turn in one frame; the output gate holds them until the storage writes
// before them are durable, so an acknowledged write is on a majority's disk.
import { clientAnswer, MAX_IN_FLIGHT, parseClientFrame, type ClientAnswer, type ClientRequest } from '../api/client-socket';
import { readAnswer, registerAnswer, writeAnswer, type KvAnswer } from '../api/kv-answers';
import type { KvRequest } from '../kv/commands';
import type { ReadOutcome, WriteOutcome } from '../node-api';
import type { Logger } from '../raft/logger';

/** What a client socket needs of the node: batched writes and reads, or a throw when it is not running. */
export interface ClientSocketNode {
  /** Proposes every request in one go; the outcomes in request order. */
  writes(reqs: KvRequest[]): Promise<Promise<WriteOutcome>[]>;
  /** Linearizable reads sharing one ReadIndex round; the outcomes in key order. */
  reads(keys: string[]): Promise<ReadOutcome>[];
}

interface SocketState {
  /** Ids of requests whose answers have not been sent. */
  inFlight: Set<number>;
  /** Answers settled in this turn, sent together at its end; null when none are waiting. */
  outbox: ClientAnswer[] | null;
}

/**
 * Per socket, for as long as it is open. Keyed by the socket, so that
 * answerClientFrame can also serve a socket it is handed directly (tests).
 */
const states = new WeakMap<WebSocket, SocketState>();

/**
 * Accept a client socket in the object itself. Not with the hibernation API
 * (ctx.acceptWebSocket), nor are peer streams: a hibernatable socket's every
 * frame is a new event for the runtime to set up, which costs workerd about
 * a sixth more CPU per frame than a listener on a socket the object accepted
 * (bench/probes/socket-echo). A node never hibernates anyway: its timers keep
 * it awake. The output gate holds this socket's sends as it does any other's.
 */
export function acceptClientSocket(request: Request, node: ClientSocketNode, logger?: Logger): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return Response.json({ error: 'upgrade_required', message: 'expected a WebSocket upgrade' }, { status: 426 });
  }
  const pair = new WebSocketPair();
  const ws = pair[1];
  ws.accept();
  states.set(ws, { inFlight: new Set(), outbox: null });
  ws.addEventListener('message', (ev) => answerClientFrame(ws, ev.data as string | ArrayBuffer, node, logger));
  ws.addEventListener('close', (ev) => forget(ws, ev.code));
  ws.addEventListener('error', () => forget(ws, 1011));
  return new Response(null, { status: 101, webSocket: pair[0] });
}

/** The socket closed: its pending answers have nowhere to go (the client counts them as unknown). */
function forget(ws: WebSocket, code: number): void {
  states.delete(ws);
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
  } catch {
    // already closed
  }
}

/** One frame: check it, refuse what must be refused, hand the rest to the node, answer as outcomes arrive. */
export function answerClientFrame(ws: WebSocket, data: string | ArrayBuffer, node: ClientSocketNode, logger?: Logger): void {
  const state = stateOf(ws);
  const frame = parseClientFrame(data);
  if (!frame.ok) {
    if (frame.close) {
      logger?.log('warn', 'closing a client socket on an unreadable frame', { reason: frame.reason });
      states.delete(ws);
      ws.close(frame.code, frame.reason);
      return;
    }
    queue(ws, state, clientAnswer(null, { ok: false, refusal: frame.refusal }));
    return;
  }
  const writes: Extract<ClientRequest, { kind: 'write' }>[] = [];
  const reads: Extract<ClientRequest, { kind: 'read' }>[] = [];
  for (const r of frame.requests) {
    if (r.kind === 'refused') queue(ws, state, clientAnswer(r.id, { ok: false, refusal: r.refusal }));
    else if (state.inFlight.has(r.id)) {
      queue(ws, state, clientAnswer(r.id, refusal('bad_request', `request id ${r.id} is already in flight on this socket`)));
    } else if (state.inFlight.size >= MAX_IN_FLIGHT) {
      const message = `${MAX_IN_FLIGHT} requests are already in flight on this socket; wait for answers before sending more`;
      queue(ws, state, clientAnswer(r.id, refusal('too_many_in_flight', message)));
    } else {
      state.inFlight.add(r.id);
      (r.kind === 'write' ? writes : reads).push(r as never);
    }
  }
  if (writes.length > 0) {
    const settle = (i: number, outcome: WriteOutcome): KvAnswer => {
      const w = writes[i]!;
      return w.cmd === null ? registerAnswer(outcome) : writeAnswer(w.cmd, outcome);
    };
    let started: Promise<Promise<WriteOutcome>[]>;
    try {
      started = node.writes(writes.map((w) => w.req));
    } catch (err) {
      started = Promise.reject(err);
    }
    started.then(
      (outcomes) => outcomes.forEach((o, i) => answerWhenSettled(ws, state, writes[i]!.id, o, (x) => settle(i, x), logger)),
      (err: unknown) => writes.forEach((w) => failed(ws, state, w.id, err, logger)),
    );
  }
  if (reads.length > 0) {
    let outcomes: Promise<ReadOutcome>[];
    try {
      outcomes = node.reads(reads.map((r) => r.key));
    } catch (err) {
      reads.forEach((r) => failed(ws, state, r.id, err, logger));
      return;
    }
    outcomes.forEach((o, i) => answerWhenSettled(ws, state, reads[i]!.id, o, (x) => readAnswer(reads[i]!.key, x), logger));
  }
}

function stateOf(ws: WebSocket): SocketState {
  let state = states.get(ws);
  if (state === undefined) {
    state = { inFlight: new Set(), outbox: null };
    states.set(ws, state);
  }
  return state;
}

function answerWhenSettled<T>(
  ws: WebSocket,
  state: SocketState,
  requestId: number,
  outcome: Promise<T>,
  answer: (o: T) => KvAnswer,
  logger: Logger | undefined,
): void {
  outcome.then(
    (o) => {
      let a: KvAnswer;
      try {
        a = answer(o);
      } catch (err) {
        failed(ws, state, requestId, err, logger);
        return;
      }
      state.inFlight.delete(requestId);
      queue(ws, state, clientAnswer(requestId, a));
    },
    (err: unknown) => failed(ws, state, requestId, err, logger),
  );
}

/** The node failed this request (not running, or a bug): a 500 as HTTP gives, the details only in the log. */
function failed(ws: WebSocket, state: SocketState, requestId: number, err: unknown, logger: Logger | undefined): void {
  const message = err instanceof Error ? err.message : String(err);
  logger?.log('error', 'client socket request failed', { error: message });
  state.inFlight.delete(requestId);
  queue(ws, state, clientAnswer(requestId, refusal('internal', message)));
}

function refusal(error: 'bad_request' | 'too_many_in_flight' | 'internal', message: string): KvAnswer {
  return { ok: false, refusal: { error, message } };
}

/** Answers settled in one turn go out as one frame (an array), at the turn's end. */
function queue(ws: WebSocket, state: SocketState, answer: ClientAnswer): void {
  if (state.outbox !== null) {
    state.outbox.push(answer);
    return;
  }
  state.outbox = [answer];
  queueMicrotask(() => {
    const out = state.outbox;
    state.outbox = null;
    try {
      ws.send(JSON.stringify(out));
    } catch {
      // The socket closed meanwhile: the client counts these requests as unknown and retries them.
    }
  });
}
