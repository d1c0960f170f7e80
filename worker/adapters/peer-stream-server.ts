// The receiving side of a peer stream (peer-streams.ts is the sending side):
// what the Durable Object does when a peer opens a stream and sends frames.
// node/node-object.ts forwards the upgrade here, and the socket's listeners
// answer its frames. The Worker has already checked the cluster secret at the
// upgrade (api/peer-routes.ts), so the socket is authenticated; each frame is
// still checked like a POST body, because a peer may run other code.
import type { Logger } from '../raft/logger';
import type { Message } from '../raft/messages';
import { isPeerRequest } from '../api/message-schemas';
import { peerMessagesProblem } from '../api/peer-checks';
import { isRecord } from './peer-streams';

/**
 * Accept the upgrade in the object itself, so frames skip the Worker, and
 * answer each frame as it comes. Not with the hibernation API: each frame
 * would be a runtime event of its own, which costs workerd more CPU than a
 * listener (client-socket-server.ts says how much), and a node never
 * hibernates anyway.
 */
export function acceptPeerStream(request: Request, receive: (messages: Message[]) => Message[], logger?: Logger): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return Response.json({ error: 'upgrade_required', message: 'expected a WebSocket upgrade' }, { status: 426 });
  }
  const pair = new WebSocketPair();
  const ws = pair[1];
  ws.accept();
  ws.addEventListener('message', (ev) => answerFrame(ws, ev.data as string | ArrayBuffer, receive, logger));
  ws.addEventListener('close', (ev) => answerClose(ws, ev.code));
  ws.addEventListener('error', () => answerClose(ws, 1011));
  return new Response(null, { status: 101, webSocket: pair[0] });
}

/**
 * Step a frame's messages with `receive` (which returns the replies for the
 * sender, or throws when the node is not running) and answer the frame with
 * them under its number. The answer is held by the output gate until what the
 * messages made the node write is durable. A malformed frame closes the socket.
 */
export function answerFrame(
  ws: WebSocket,
  data: string | ArrayBuffer,
  receive: (messages: Message[]) => Message[],
  logger: Logger | undefined,
): void {
  const frame = parseFrame(data);
  if (!frame.ok) {
    // Inconsistent messages are a bug of the peer: as loud as the POST route makes them.
    const what = frame.inconsistent
      ? 'refused inconsistent messages on a peer stream; closing it'
      : 'refused a malformed frame on a peer stream; closing it';
    logger?.log(frame.inconsistent ? 'error' : 'warn', what, { issue: frame.message });
    ws.close(1008, closeReason(frame.message));
    return;
  }
  let replies: Message[];
  try {
    replies = receive(frame.messages);
  } catch {
    // Not running (misconfigured, or stopped after an internal error, which was logged): the peer falls back to POSTs.
    ws.close(1011, 'node is not running');
    return;
  }
  ws.send(JSON.stringify({ seq: frame.seq, messages: replies }));
}

/** The peer went away or closed its stream: answer the close (workerd reports 1006 for a dropped connection). */
function answerClose(ws: WebSocket, code: number): void {
  try {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closing');
  } catch {
    // already closed
  }
}

/** An inbound frame, checked like a POST body; `message` says what is wrong. */
export type InboundFrame = { ok: true; seq: number; messages: Message[] } | { ok: false; message: string; inconsistent?: true };

export function parseFrame(data: string | ArrayBuffer): InboundFrame {
  if (typeof data !== 'string') return { ok: false, message: 'frames must be text' };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  if (!isRecord(raw) || Object.keys(raw).length !== 2 || !Number.isSafeInteger(raw.seq) || (raw.seq as number) < 0) {
    return { ok: false, message: 'a frame is {"seq": <integer>, "messages": [...]}' };
  }
  const body = { messages: raw.messages };
  if (!isPeerRequest(body)) return { ok: false, message: 'messages are malformed' };
  const problem = peerMessagesProblem(body.messages);
  if (problem !== null) return { ok: false, message: problem, inconsistent: true };
  return { ok: true, seq: raw.seq as number, messages: body.messages };
}

/** A close reason is at most 123 bytes of UTF-8: printable ASCII, cut short. */
function closeReason(message: string): string {
  const ascii = message.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 120 ? ascii : `${ascii.slice(0, 117)}...`;
}
