// How many writes of one session may be in flight at once.
//
// A node remembers the answers of a session's last 64 serials and refuses a
// serial at or below `highest - 64` that it does not remember (`stale_serial`,
// worker/kv/sessions.ts): past that point it can no longer tell a first try
// from a late retry. A program that starts 100 writes at once on one client
// would otherwise see some of them refused whenever serial 100 overtakes
// serial 30. So a write with serial s is sent only once every serial at or
// below s - 64 of the same session is finished (answered, or given up by its
// own deadline); until then it waits here, within its own deadline.

/** The server's session window (worker/kv/sessions.ts, defaultSessionLimits.window). */
export const SESSION_WINDOW = 64;

export class SerialWindow {
  /** Serials taken and not yet finished. */
  private readonly open = new Set<number>();
  private waiters: { serial: number; wake: () => void }[] = [];

  constructor(private readonly size: number = SESSION_WINDOW) {}

  /** Takes `serial`; every call must be matched by one `finish(serial)`. */
  take(serial: number): void {
    this.open.add(serial);
  }

  /** True when `serial` may be sent now: no open serial lies a whole window below it. */
  ready(serial: number): boolean {
    return serial - this.size < this.lowestOpen();
  }

  private lowestOpen(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const s of this.open) if (s < lowest) lowest = s;
    return lowest;
  }

  /** Resolves true once `serial` may be sent, or false at `deadline` (ms since the epoch). */
  async wait(serial: number, deadline: number): Promise<boolean> {
    while (!this.ready(serial)) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return false;
      let waiter: { serial: number; wake: () => void } | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((wake) => {
        waiter = { serial, wake };
        this.waiters.push(waiter);
        timer = setTimeout(wake, remainingMs);
      });
      clearTimeout(timer);
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
    return true;
  }

  /** `serial` is answered or given up: wake the writes it held back. */
  finish(serial: number): void {
    this.open.delete(serial);
    const lowest = this.lowestOpen();
    for (const w of this.waiters) if (w.serial - this.size < lowest) w.wake();
  }

  /** Writes waiting for the window (for tests and debugging). */
  get waiting(): number {
    return this.waiters.length;
  }
}
