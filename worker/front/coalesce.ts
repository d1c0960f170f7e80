// Concurrent requests of one Worker isolate share one call into the node.
//
// Each call from the Worker into its Durable Object is an RPC that workerd
// handles as a new event on the object; measured on this machine it costs
// about 260 µs of CPU however little the object does, more than the whole
// Raft write path. So while a call to the node is in flight, requests that
// arrive queue here, and one macrotask later the queue goes out as one
// batch call; its results are handed back to each request. With a cap on
// the calls in flight (maxInflight), a queue that finds the cap reached goes
// out instead when one of them comes back, so under load the calls are fewer
// and larger.
//
// The batch is sent by the request that opened the queue, with its own stub
// (a stub belongs to the request that made it), and the others' promises are
// settled from that request's context. workerd tags each promise with the
// request that made it and, when another request settles it, runs its
// continuations back in the owner's context. It cancels a request it
// thinks can never finish, though: one whose only pending work is a promise
// another request will settle. So every waiting request also holds a timer
// of its own, its give-up deadline; if the sending request is cut short, the
// others answer with that outcome (for a write: unknown, which a client with
// a session retries safely) instead of hanging.
//
// Every promise another request settles is made by pendingPromise(), never
// by `new Promise(...)`: in the workerd this project pins, code TurboFan has
// optimized builds the promise of `new Promise` inline without that tag, so
// once the request path was hot a waiting request resumed in the settling
// request's context and workerd failed its response ("Cannot perform I/O on
// behalf of a different request"; docs/turbofan-context.md,
// bench/probes/turbofan-context). Promise.withResolvers() is a builtin call
// that tags its promise however hot its caller is.
//
// A request that finds nothing in flight goes at once, alone: one client
// pays no extra macrotask.
//
// Off unless COALESCE_REQUESTS is "on"; the launchers turn it on.

export interface CoalesceOptions<O> {
  /** Most inputs in one batch; more start the next one. */
  maxBatch: number;
  /** How long a queued input waits for its batch before answering `gaveUp()`; also how long a batch counts as in flight at most. */
  waitLimitMs: number;
  /**
   * Most batches in flight at once (default: no limit). A queue that opens
   * while this many are out waits until one comes back, gathering everything
   * that arrives meanwhile, instead of going out one macrotask later.
   */
  maxInflight?: number;
  /**
   * A queue not flushed this long after it opened belongs to a request that
   * was cut short, and later inputs open a new one. Pass the node's request
   * timeout: a live batch comes back within it, so a queue waiting for its
   * slot is flushed within it too, and a shorter limit would split a slow
   * but live queue.
   */
  staleQueueMs: number;
  /** The answer of an input whose batch never came back. */
  gaveUp: () => O;
  /** Milliseconds; Date.now by default (tests pass their own). */
  now?: () => number;
}

/** Sends one batch; answers with one output per input, in order. */
export type SendBatch<I, O> = (inputs: I[]) => Promise<O[]>;

/**
 * Keeps the calling request alive until `work` settles, even if its client
 * goes away (the Worker passes ExecutionContext.waitUntil). A request that
 * sends a batch, or must send one later, carries the others' answers: if the
 * runtime tore it down with its client, they would wait out their give-up
 * deadline, and with maxInflight every later call behind them too.
 */
export type KeepAlive = (work: Promise<unknown>) => void;

type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Waiter<I, O> {
  input: I;
  settle: (result: Settled<O>) => void;
}

interface Queue<I, O> {
  waiters: Waiter<I, O>[];
  openedAt: number;
}

export class Coalescer<I, O> {
  private queue: Queue<I, O> | null = null;
  /** Batches in flight: id -> when to stop counting it (a batch whose sender was cut short never reports back). */
  private readonly inflight = new Map<number, number>();
  private nextBatch = 1;
  /** Openers of queues waiting for a batch in flight to come back (maxInflight). */
  private readonly slotWaiters: (() => void)[] = [];
  private readonly maxInflight: number;
  private requests = 0;
  private readonly now: () => number;

  constructor(private readonly options: CoalesceOptions<O>) {
    this.now = options.now ?? Date.now;
    this.maxInflight = options.maxInflight ?? Infinity;
  }

  /** `send` is the caller's own way to reach the node; it is used if this call ends up sending a batch. */
  call(input: I, send: SendBatch<I, O>, keepAlive?: KeepAlive): Promise<O> {
    this.requests++;
    const now = this.now();
    if (this.queue !== null && now - this.queue.openedAt > this.options.staleQueueMs) this.queue = null;
    // A batch whose sender was cut short never comes back to wake a queue waiting for its slot.
    if (this.slotWaiters.length > 0 && this.inflightCount(now) < this.maxInflight) this.slotWaiters.shift()!();
    if (this.queue === null && !this.busy(now)) {
      const sent = this.sendBatch([input], send);
      keepAlive?.(sent.catch(() => {}));
      return sent.then((outs) => outs[0]!);
    }
    const { promise: answer, resolve, reject } = pendingPromise<O>();
    const timer = setTimeout(() => resolve(this.options.gaveUp()), this.options.waitLimitMs);
    const settle = (r: Settled<O>): void => {
      if (r.ok) resolve(r.value);
      else reject(r.error);
    };
    let queue = this.queue;
    if (queue === null || queue.waiters.length >= this.options.maxBatch) {
      const opened: Queue<I, O> = { waiters: [], openedAt: now };
      this.queue = queue = opened;
      const flushed = this.scheduleFlush(opened, send, now);
      keepAlive?.(flushed);
    }
    queue.waiters.push({ input, settle });
    // The timer belongs to this request: clear it here, in this request's own
    // context, not from the sender's `settle`, where the id means nothing.
    return answer.finally(() => clearTimeout(timer));
  }

  /** Requests seen and batches sent since the isolate started (observability and tests). */
  get stats(): { requests: number; batches: number } {
    return { requests: this.requests, batches: this.nextBatch - 1 };
  }

  private busy(now: number): boolean {
    return this.inflightCount(now) > 0;
  }

  /** Batches in flight, forgetting those past their limit. */
  private inflightCount(now: number): number {
    for (const [id, until] of this.inflight) if (until <= now) this.inflight.delete(id);
    return this.inflight.size;
  }

  /**
   * Sends the queue one macrotask from now; or, with maxInflight batches out,
   * when one of them comes back. The wait is a promise of the opener's own
   * (its continuation, and so the send, runs in the opener's context, where
   * its stub is valid), settled by whichever request's batch returns first.
   */
  private scheduleFlush(queue: Queue<I, O>, send: SendBatch<I, O>, now: number): Promise<void> {
    const turn = pendingPromise<void>();
    if (this.inflightCount(now) < this.maxInflight) setTimeout(() => turn.resolve(), 0);
    else this.slotWaiters.push(() => turn.resolve());
    return turn.promise.then(() => this.flush(queue, send));
  }

  /** Sends the queue's batch and hands out its answers; settles (never rejects) once they are handed out. */
  private flush(queue: Queue<I, O>, send: SendBatch<I, O>): Promise<void> {
    if (this.queue === queue) this.queue = null;
    const { waiters } = queue;
    return this.sendBatch(
      waiters.map((w) => w.input),
      send,
    ).then(
      (outs) => waiters.forEach((w, i) => w.settle({ ok: true, value: outs[i]! })),
      (error: unknown) => waiters.forEach((w) => w.settle({ ok: false, error })),
    );
  }

  private async sendBatch(inputs: I[], send: SendBatch<I, O>): Promise<O[]> {
    const id = this.nextBatch++;
    this.inflight.set(id, this.now() + this.options.waitLimitMs);
    try {
      const outs = await send(inputs);
      if (outs.length !== inputs.length) throw new Error(`batch of ${inputs.length} answered with ${outs.length} results`);
      return outs;
    } finally {
      this.inflight.delete(id);
      this.slotWaiters.shift()?.();
    }
  }
}

interface Pending<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

/**
 * A promise to be settled from outside, made with Promise.withResolvers()
 * wherever the runtime has it (workerd does; the top of this file says why
 * it must not be `new Promise`). Node before 22 lacks it; there requests have
 * no contexts and the plain form does as well.
 */
function pendingPromise<T>(): Pending<T> {
  const withResolvers = (Promise as unknown as { withResolvers?: () => Pending<T> }).withResolvers;
  if (withResolvers !== undefined) return withResolvers.call(Promise);
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
