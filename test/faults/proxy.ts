// One directed network link i→j as a TCP proxy. Node i's peer URL for j
// points at this proxy, which forwards to j's real port. Peer traffic is
// HTTP (POSTs, and WebSocket streams opened with an upgrade), so a message
// i→j and its answer travel on a connection opened by i through this proxy:
// cutting it means "i cannot reach j", while j's own messages to i still
// flow through the proxy j→i. That is how a one-way
// partition is built without touching node code.
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * How a cut link behaves:
 * - `reset`: new and existing connections are reset at once (a refused or
 *   dropped connection the sender notices immediately);
 * - `blackhole`: connections are accepted and everything sent is silently
 *   discarded, so the sender only notices through its own timeout (packet
 *   loss, a dead switch).
 */
export type CutMode = 'reset' | 'blackhole';
export type LinkState = 'open' | CutMode;

export class LinkProxy {
  private server: Server | null = null;
  private state: LinkState = 'open';
  /** Live forwarded connections: the accepted socket and its upstream. */
  private readonly pairs = new Set<{ down: Socket; up: Socket }>();
  /** Accepted sockets whose data is being thrown away (blackhole). */
  private readonly held = new Set<Socket>();
  /** Every accepted socket not yet closed, whatever its state. */
  private readonly accepted = new Set<Socket>();
  connectionsAccepted = 0;

  constructor(
    readonly from: string,
    readonly to: string,
    readonly listenPort: number,
    readonly targetPort: number,
    readonly host = '127.0.0.1',
  ) {}

  get url(): string {
    return `http://${this.host}:${this.listenPort}`;
  }

  get current(): LinkState {
    return this.state;
  }

  async start(): Promise<void> {
    const server = createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {}); // after listen, an accept error is not worth dying for
    this.server = server;
  }

  /** Cuts or heals the link; a change of state ends every connection of the old state. */
  set(state: LinkState): void {
    if (state === this.state) return;
    this.state = state;
    for (const s of this.held) s.destroy();
    this.held.clear();
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      pair.up.destroy();
      if (state === 'blackhole') this.hold(pair.down);
      else reset(pair.down);
    }
  }

  /**
   * Stops listening and ends every connection. It does not wait for the
   * server's close callback beyond a moment: after a reset, Node does not
   * always count the connection as closed, and the callback may never come.
   */
  async close(): Promise<void> {
    this.set('reset');
    for (const s of this.accepted) s.destroy();
    this.accepted.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => server.close(() => resolve())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, 500))),
    ]);
    clearTimeout(timer);
  }

  private accept(down: Socket): void {
    this.connectionsAccepted++;
    this.accepted.add(down);
    down.on('close', () => this.accepted.delete(down));
    down.on('error', () => {});
    switch (this.state) {
      case 'reset':
        reset(down);
        return;
      case 'blackhole':
        this.hold(down);
        return;
      case 'open':
        this.forward(down);
        return;
    }
  }

  private forward(down: Socket): void {
    const up = connect({ port: this.targetPort, host: this.host });
    const pair = { down, up };
    this.pairs.add(pair);
    // A failure on one side is passed on as a reset, so the sender sees a
    // broken connection rather than a clean but truncated exchange. A clean
    // end travels through the pipes as a clean end.
    up.on('error', () => reset(down));
    down.on('error', () => up.destroy());
    up.on('close', () => this.pairs.delete(pair));
    down.on('close', () => {
      this.pairs.delete(pair);
      up.destroy();
    });
    down.pipe(up);
    up.pipe(down);
  }

  private hold(down: Socket): void {
    down.unpipe();
    down.removeAllListeners('data');
    down.on('data', () => {}); // read and discard, so the sender never sees back-pressure
    down.on('error', () => {});
    down.on('close', () => this.held.delete(down));
    this.held.add(down);
  }
}

function reset(s: Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}
