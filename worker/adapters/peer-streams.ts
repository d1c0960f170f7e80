// Peer messages over one WebSocket per peer: the fast path of the transport.
//
// A POST to a peer passes through the peer's Worker: an HTTP request parsed,
// a route, a call from the Worker into its Durable Object, and a response. A
// WebSocket goes through the peer's Worker only once, at the upgrade
// (`GET /raft/stream`, authenticated with the cluster secret like a POST);
// from then on each frame is an event of the peer's Durable Object itself
// (adapters/peer-stream-server.ts listens). Measured between two workerds on
// this project's machine, a round trip with a durable write at the far end
// took 0.69 ms over a socket against 1.37 ms as a POST, at half the CPU on
// both sides (bench/README.md, "Peer streams").
//
// A frame carries what a POST body carries, plus a sequence number:
// `{"seq": n, "messages": [...]}`. The peer answers every frame with exactly
// one frame `{"seq": n, "messages": [replies]}`, sent through its output gate,
// so the answer leaves only once what the messages made it write is durable,
// as a POST's response does. An answer therefore means what a POST's response
// means, and fetch-transport.ts counts frames in flight exactly as it counts
// POSTs.
//
// This file is the sending side; peer-stream-server.ts is the receiving node's.
//
// A frame without an answer within the time limit fails alone, as a POST
// would; the socket is given up only when nothing at all came back on it for
// several time limits (a dead peer or link), so a follower that is briefly
// slow (a pause, a long write) does not make its stream flap.
//
// A stream is an accelerator, never a requirement: while a peer has no open
// socket (not yet connected, refused, closed), exchange() returns null and
// the transport POSTs instead, and a new connection is tried after a backoff.
import type { Logger } from '../raft/logger';
import type { Message } from '../raft/messages';
import type { Member, NodeId } from '../raft/types';
import { Deadlines } from './deadlines';

export const raftStreamPath = '/raft/stream';

/** What came back for one frame: the answer's body (checked by the caller), or why there is none. */
export type StreamExchange = { type: 'ok'; body: unknown } | { type: 'failed'; reason: string };

export interface PeerStreamOptions {
  secret: string;
  /** Per frame, as per POST; also the limit on the upgrade. */
  timeoutMs: number;
  logger: Logger;
  now: () => number;
  /** Keep the object alive while a connection attempt runs (ctx.waitUntil). */
  track: (work: Promise<unknown>) => void;
  fetch: typeof fetch;
  /** Told of each frame sent (metrics); its size in UTF-16 code units, which is its UTF-8 bytes for ASCII JSON. */
  sent?: (peer: NodeId, size: number) => void;
}

/**
 * Frames above this go as POSTs instead. workerd closes a socket that receives
 * a bigger message (1009); Cloudflare documents 32 MiB for Durable Objects,
 * but older workerds allow 1 MiB. A batch is rarely near it: the core caps
 * one AppendEntries at 512 KiB of entries.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** First wait after a failed or closed connection; doubled per failure up to the maximum. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 4000;

/** A socket with no answer for this many frame time limits is taken for dead and closed. */
export const DEAD_AFTER_TIMEOUTS = 3;

/** The upgrade's key among a stream's deadlines (frames are numbered from 1; one upgrade runs at a time). */
const upgradeKey = 0;

interface Stream {
  ws: WebSocket | null;
  connecting: boolean;
  retryAt: number;
  retryMs: number;
  nextSeq: number;
  waiting: Map<number, (outcome: StreamExchange) => void>;
  /** The time limits of the frames in `waiting`, by sequence number. */
  deadlines: Deadlines<number>;
  /** When the open socket last answered a frame (any frame, even one given up on), or opened. */
  lastHeard: number;
}

export class PeerStreams {
  private readonly streams = new Map<NodeId, Stream>();

  constructor(private readonly opts: PeerStreamOptions) {}

  /**
   * Send `messages` as one frame and wait for its answer; null when the peer
   * has no open socket (a connection is then started in the background) or
   * the frame would be too big: the caller should POST them.
   */
  exchange(peer: Member, messages: Message[]): Promise<StreamExchange> | null {
    const s = this.streamOf(peer.id);
    const ws = s.ws;
    if (ws === null) {
      this.connect(peer, s);
      return null;
    }
    const seq = s.nextSeq;
    const frame = JSON.stringify({ seq, messages });
    if (!fitsInFrame(frame)) return null;
    s.nextSeq++;
    return new Promise<StreamExchange>((resolve) => {
      // The limit is one of the stream's Deadlines, not a timer of its own (deadlines.ts says why).
      s.deadlines.add(seq, this.opts.timeoutMs, () => {
        const waiter = s.waiting.get(seq);
        if (waiter === undefined) return;
        // This frame fails alone (Raft resends what matters, §5.3). Only a socket that
        // answered nothing for several limits is dead: then start over with a new one,
        // and POSTs carry the messages meanwhile.
        s.waiting.delete(seq);
        waiter({ type: 'failed', reason: 'stream frame timed out' });
        const silentMs = this.opts.now() - s.lastHeard;
        if (s.ws === ws && silentMs >= DEAD_AFTER_TIMEOUTS * this.opts.timeoutMs) {
          this.closed(peer, s, ws, `no frame answered for ${silentMs} ms`);
        }
      });
      s.waiting.set(seq, (outcome) => {
        s.deadlines.cancel(seq);
        resolve(outcome);
      });
      try {
        ws.send(frame);
        this.opts.sent?.(peer.id, frame.length);
      } catch (err) {
        this.closed(peer, s, ws, `send failed: ${String(err)}`);
      }
    });
  }

  /** Whether frames to `peer` go over a socket now (observability and tests). */
  isOpen(peer: NodeId): boolean {
    return this.streams.get(peer)?.ws != null;
  }

  private streamOf(peer: NodeId): Stream {
    let s = this.streams.get(peer);
    if (s === undefined) {
      s = {
        ws: null,
        connecting: false,
        retryAt: 0,
        retryMs: RETRY_MIN_MS,
        nextSeq: 1,
        waiting: new Map(),
        deadlines: new Deadlines(this.opts.now),
        lastHeard: 0,
      };
      this.streams.set(peer, s);
    }
    return s;
  }

  private connect(peer: Member, s: Stream): void {
    if (s.connecting || this.opts.now() < s.retryAt) return;
    s.connecting = true;
    const attempt = this.open(peer, s)
      .then((ws) => {
        s.ws = ws;
        s.retryMs = RETRY_MIN_MS;
        s.lastHeard = this.opts.now();
        ws.addEventListener('message', (ev) => this.answered(peer, s, ws, ev.data));
        ws.addEventListener('close', (ev) => this.closed(peer, s, ws, `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`));
        ws.addEventListener('error', () => this.closed(peer, s, ws, 'socket error'));
        this.opts.logger.log('info', 'peer stream open', { peer: peer.id });
      })
      .catch((err: unknown) => {
        this.backOff(s);
        this.opts.logger.log('debug', 'peer stream not opened; using POST', { peer: peer.id, reason: describeError(err) });
      })
      .finally(() => {
        s.connecting = false;
      });
    this.opts.track(attempt);
  }

  private async open(peer: Member, s: Stream): Promise<WebSocket> {
    // The limit covers the handshake only: aborting the request later would
    // also cut the socket it became (AbortSignal.timeout would, after timeoutMs).
    // It is one of the stream's deadlines, under a key no frame has: a peer that
    // stays down is retried every few seconds for as long as it is down.
    const abort = new AbortController();
    s.deadlines.add(upgradeKey, this.opts.timeoutMs, () => abort.abort(new DOMException('upgrade timed out', 'TimeoutError')));
    let res: Response;
    try {
      res = await this.opts.fetch(`${peer.url}${raftStreamPath}`, {
        headers: { upgrade: 'websocket', authorization: `Bearer ${this.opts.secret}` },
        signal: abort.signal,
      });
    } finally {
      s.deadlines.cancel(upgradeKey);
    }
    const ws = res.webSocket;
    if (ws === null) {
      await res.body?.cancel();
      throw new Error(`upgrade refused: HTTP ${res.status}`);
    }
    ws.accept();
    return ws;
  }

  private answered(peer: Member, s: Stream, ws: WebSocket, data: unknown): void {
    let frame: unknown;
    try {
      frame = typeof data === 'string' ? JSON.parse(data) : null;
    } catch {
      frame = null;
    }
    const seq = isRecord(frame) && typeof frame.seq === 'number' ? frame.seq : null;
    if (seq === null) {
      this.opts.logger.log('warn', 'ignored a malformed answer on a peer stream', { peer: peer.id });
      return;
    }
    // Even a late answer shows the socket and the peer are alive.
    if (s.ws === ws) s.lastHeard = this.opts.now();
    const waiter = s.waiting.get(seq);
    // (Nobody waits for an answer that came too late, or on a socket already given up on.)
    if (waiter === undefined) return;
    s.waiting.delete(seq);
    waiter({ type: 'ok', body: frame });
  }

  /** The socket is gone: frames still waiting fail now, and POSTs carry on until a reconnection. */
  private closed(peer: Member, s: Stream, ws: WebSocket, reason: string): void {
    if (s.ws !== ws) return; // an older socket, already dealt with
    s.ws = null;
    this.backOff(s);
    try {
      ws.close(1000, 'closing');
    } catch {
      // already closed
    }
    const waiting = [...s.waiting.values()];
    s.waiting.clear();
    for (const w of waiting) w({ type: 'failed', reason: `stream ${reason}` });
    this.opts.logger.log('info', 'peer stream lost; using POST until it reconnects', { peer: peer.id, reason });
  }

  private backOff(s: Stream): void {
    s.retryAt = this.opts.now() + s.retryMs;
    s.retryMs = Math.min(RETRY_MAX_MS, s.retryMs * 2);
  }
}

function fitsInFrame(text: string): boolean {
  // A UTF-16 code unit is at most 3 bytes of UTF-8; encode only when that bound is not enough.
  if (text.length * 3 <= MAX_FRAME_BYTES) return true;
  return text.length <= MAX_FRAME_BYTES && new TextEncoder().encode(text).byteLength <= MAX_FRAME_BYTES;
}

/** A JSON object (not an array, not null). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A failed request or upgrade, in a few words for the log. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.name === 'TimeoutError' ? 'timed out' : `${err.name}: ${err.message}`;
  return String(err);
}
