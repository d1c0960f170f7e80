// The memory bounds of the core, checked after every Ready: the committed
// entries one Ready hands out, and the payloads the core holds beyond the
// unapplied ones (its payload window).
import type { RaftConfig } from '../../../worker/raft/config';
import type { Ready } from '../../../worker/raft/ready';
import { violation } from './violation';

/** What the check reads from the host after the Ready. */
export interface HostView {
  status(): { lastLogIndex: number; appliedIndex: number };
  readonly core: { payloadsHeld(): number };
}

export function checkReadyBounds(cfg: RaftConfig, node: string, now: number, host: HostView, ready: Ready): void {
  let bytes = 0;
  for (const e of ready.committed) bytes += e.data.length;
  const n = ready.committed.length;
  const fail = (why: string) => violation('host', now, `${node}: ${why}`);
  if (n > cfg.maxCommittedEntriesPerReady || (n > 1 && bytes > cfg.maxCommittedBytesPerReady)) {
    throw fail(`a Ready hands out ${n} committed entries (${bytes} bytes), over the limits`);
  }
  const s = host.status();
  const held = host.core.payloadsHeld();
  if (held > s.lastLogIndex - s.appliedIndex + cfg.payloadWindowEntries) {
    throw fail(`holds ${held} payloads with ${s.lastLogIndex - s.appliedIndex} unapplied and a window of ${cfg.payloadWindowEntries}`);
  }
}
