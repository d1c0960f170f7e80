// Host-level bugs the simulator can plant on purpose, to show its checkers
// notice them (plants.test.ts). SimNode plants the ones that need no host of
// their own; the ordering bugs need PlantedHost.
import { NodeHost } from '../../worker/host/node-host';
import type { HostOptions } from '../../worker/host/host-options';
import type { KvResult } from '../../worker/kv/commands';
import type { Ready } from '../../worker/raft/ready';

/** Host-level bugs the simulator can plant to prove its checkers can fail. */
export type Plant =
  /** A leader answers reads from its state machine at once, without ReadIndex. */
  | 'staleReads'
  /** A restarted node forgets whom it voted for. */
  | 'forgetVote'
  /** A crash loses the last few entries written (acked before they were durable). */
  | 'lostWrites'
  /** The host acts on a leader's held-back entries before writing them (counts them durable too early). */
  | 'unwrittenHeld'
  /** The host holds every write behind its messages, votes and a follower's entries too (sends before persisting). */
  | 'holdEveryWrite';

export const plants: readonly Plant[] = ['staleReads', 'forgetVote', 'lostWrites', 'unwrittenHeld', 'holdEveryWrite'];

/** The host with a planted ordering bug ('unwrittenHeld' or 'holdEveryWrite'). */
export class PlantedHost extends NodeHost<KvResult, string, string | null> {
  constructor(
    options: HostOptions<KvResult, string, string | null>,
    private readonly plant: 'unwrittenHeld' | 'holdEveryWrite',
    private readonly fired: () => void,
  ) {
    super(options);
  }

  protected override writeHeld(): void {
    if (this.plant !== 'unwrittenHeld') return super.writeHeld();
    if (this.heldWriteCount > 0) this.fired();
  }

  protected override mayHold(ready: Ready): boolean {
    const allowed = super.mayHold(ready);
    if (allowed || this.plant !== 'holdEveryWrite') return allowed;
    const writes = ready.hardState !== null || ready.entries.length > 0;
    if (writes && ready.messages.length > 0) this.fired();
    return writes;
  }
}
