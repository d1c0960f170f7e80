// Checks on every message a node sends, against what its disk holds at that
// moment (the host sends only after persisting, so the disk is what a crash
// right now would leave):
//   - a granted vote is already durable (§5.2: persist before replying);
//   - a success reply to AppendEntries only acknowledges entries on disk;
//   - no message carries a term the node has not persisted (pre-votes excepted:
//     they name a term the sender only hopes for);
//   - AppendEntries respects the batching limits, so a follower far behind
//     catches up in bounded messages.
import type { RaftConfig } from '../../../worker/raft/config';
import type { Message } from '../../../worker/raft/messages';
import type { HardState, Entry } from '../../../worker/raft/types';
import { violation } from './violation';

export interface NodeDisk {
  readonly hardState: HardState;
  readonly entries: readonly Entry[];
}

export function checkOutgoing(cfg: RaftConfig, disk: NodeDisk, m: Message, now: number): void {
  const self = cfg.self.id;
  const fail = (why: string) => {
    throw violation('host', now, `${self} sent ${m.type} to ${m.to} in term ${m.term}: ${why}`);
  };
  if (m.from !== self) fail(`it claims to be from ${m.from}`);
  const hs = disk.hardState;
  const prospective = (m.type === 'vote' || m.type === 'voteResp') && m.pre;
  if (!prospective && m.term > hs.term) fail(`its term is ahead of the persisted term ${hs.term}`);
  switch (m.type) {
    case 'voteResp':
      if (!m.pre && m.granted && (hs.term !== m.term || hs.vote !== m.to)) {
        fail(`vote granted before it was persisted (disk: term ${hs.term}, vote ${hs.vote ?? 'none'})`);
      }
      return;
    case 'appendResp':
      if (m.success && m.matchIndex > disk.entries.length) {
        fail(`acknowledges index ${m.matchIndex} but only ${disk.entries.length} entries are on disk`);
      }
      return;
    case 'append': {
      if (m.entries.length > cfg.maxEntriesPerMessage) fail(`${m.entries.length} entries, over the limit of ${cfg.maxEntriesPerMessage}`);
      let bytes = 0;
      for (const e of m.entries) bytes += e.data.length;
      if (m.entries.length > 1 && bytes > cfg.maxBytesPerMessage)
        fail(`${bytes} bytes of entries, over the limit of ${cfg.maxBytesPerMessage}`);
      m.entries.forEach((e, i) => {
        if (e.index !== m.prevLogIndex + 1 + i) fail(`entry ${i} has index ${e.index} after prevLogIndex ${m.prevLogIndex}`);
      });
      return;
    }
    case 'vote':
      return;
  }
}
