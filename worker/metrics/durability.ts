// Times storage writes until the runtime reports them durable, one at a time:
// after a write, storage.sync() resolves once every write before it is on
// disk. At most one measurement is open, so a busy node adds one promise per
// flush rather than one per Ready.
export class DurabilitySampler {
  private open = false;

  constructor(
    private readonly sync: () => Promise<void>,
    private readonly now: () => number,
    private readonly record: (ms: number) => void,
  ) {}

  /** Call right after a write; starts a measurement unless one is open. */
  wrote(): void {
    if (this.open) return;
    this.open = true;
    const start = this.now();
    this.sync()
      .then(() => this.record(this.now() - start))
      .catch(() => {}) // a failed write breaks the object anyway; this sample just goes
      .finally(() => (this.open = false));
  }
}
