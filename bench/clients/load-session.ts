// The session a load-generator client writes in (docs/sessions.md), shared by
// every client kind (http, raw, ws): registered before the first write, again
// after `session_expired`, with serials counting from 1 in each session. How
// a registration travels (POST /sessions, or a socket's register request) is
// the transport's business; what is done with its answer is decided here once.
import type { OpResult } from './load-client';

export class LoadSession {
  private serial = 1;
  /** A registration in flight, shared by the writes that wait for it. */
  private registering: Promise<string | OpResult> | null = null;

  /**
   * `register` opens a session and answers its id (or why it could not, or
   * undefined when the answer had no id). `id`: a registered session to start
   * in (tests); by default one is registered on the first write.
   */
  constructor(
    private readonly register: () => Promise<{ ok: true; id: string | undefined } | OpResult>,
    private id: string | null = null,
  ) {}

  /** The session to write in and the serial of this write, or why there is none. */
  async next(): Promise<{ clientId: string; serial: number } | OpResult> {
    const clientId = this.id ?? (await this.open());
    if (typeof clientId !== 'string') return clientId;
    return { clientId, serial: this.serial++ };
  }

  /** A write's result: after `session_expired` the next write registers anew. */
  settled(clientId: string, r: OpResult): OpResult {
    if (!r.ok && r.error.code === 'session_expired' && this.id === clientId) this.id = null;
    return r;
  }

  /** A retried registration at worst opens a spare session, which is evicted in time. */
  private open(): Promise<string | OpResult> {
    this.registering ??= (async (): Promise<string | OpResult> => {
      const r = await this.register();
      if (!r.ok) return r;
      if (!('id' in r) || r.id === undefined) return { ok: false, error: { type: 'protocol', code: 'no_session_id' } };
      this.id = r.id;
      this.serial = 1;
      return r.id;
    })().finally(() => {
      this.registering = null;
    });
    return this.registering;
  }
}
