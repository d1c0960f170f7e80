// Cluster membership: who votes, who only learns, and how it changes.
//
// Changes are single-server (thesis §4.1): each configuration differs from the
// one before it by at most one voter, so any majority of the old voters and
// any majority of the new ones overlap, and no joint consensus is needed.
// The known flaw of single-server changes (thesis §4.1, the errata of 2015:
// two leaders of adjacent terms each appending a change could lose one) is
// closed the usual way: a leader proposes a change only once an entry of its
// own term is committed, and only one change is ever uncommitted.
//
// A configuration is a log entry of kind `config` carrying the whole new
// membership, and it takes effect as soon as a node appends it, committed or
// not (§4.1); a node whose log loses the entry (truncation) goes back to the
// one before. Learners receive the log but neither vote nor count toward a
// commit; a new node joins as a learner and is promoted once caught up.
import type { Entry, Index, Member, NodeId } from './types';

export interface Membership {
  voters: Member[];
  learners: Member[];
}

export type MemberRole = 'voter' | 'learner';

export type MembershipChange =
  { type: 'add'; member: Member; role: MemberRole } | { type: 'promote'; id: NodeId } | { type: 'remove'; id: NodeId };

export function encodeMembership(m: Membership): string {
  return JSON.stringify({ voters: m.voters, learners: m.learners });
}

/** Reads a config entry's data; throws on anything else (a log entry of ours is never malformed). */
export function decodeMembership(data: string): Membership {
  const raw = JSON.parse(data) as unknown;
  const members = (x: unknown): Member[] => {
    if (!Array.isArray(x)) throw new Error('invalid membership: not a list');
    return x.map((m: unknown) => {
      const r = m as Record<string, unknown>;
      if (typeof r?.id !== 'string' || typeof r.url !== 'string') throw new Error('invalid membership: bad member');
      return { id: r.id, url: r.url };
    });
  };
  const r = raw as Record<string, unknown>;
  return { voters: members(r?.voters), learners: members(r?.learners) };
}

export function roleOf(m: Membership, id: NodeId): MemberRole | null {
  if (m.voters.some((v) => v.id === id)) return 'voter';
  if (m.learners.some((l) => l.id === id)) return 'learner';
  return null;
}

export function allMembers(m: Membership): Member[] {
  return [...m.voters, ...m.learners];
}

/**
 * The membership after `change`, or why it cannot be made. Enforces the
 * single-server rule: at most one voter added or removed.
 */
export function applyChange(m: Membership, change: MembershipChange): { ok: true; membership: Membership } | { ok: false; reason: string } {
  switch (change.type) {
    case 'add': {
      const { member, role } = change;
      if (roleOf(m, member.id) !== null) return { ok: false, reason: `${member.id} is already a member` };
      if (allMembers(m).some((x) => x.url === member.url)) return { ok: false, reason: `another member already has the URL ${member.url}` };
      return role === 'voter'
        ? { ok: true, membership: { voters: [...m.voters, member], learners: m.learners } }
        : { ok: true, membership: { voters: m.voters, learners: [...m.learners, member] } };
    }
    case 'promote': {
      const learner = m.learners.find((l) => l.id === change.id);
      if (learner === undefined) {
        return { ok: false, reason: roleOf(m, change.id) === 'voter' ? `${change.id} is already a voter` : `${change.id} is not a member` };
      }
      return { ok: true, membership: { voters: [...m.voters, learner], learners: m.learners.filter((l) => l.id !== change.id) } };
    }
    case 'remove': {
      const role = roleOf(m, change.id);
      if (role === null) return { ok: false, reason: `${change.id} is not a member` };
      if (role === 'voter' && m.voters.length === 1) return { ok: false, reason: `${change.id} is the last voter` };
      return {
        ok: true,
        membership: { voters: m.voters.filter((v) => v.id !== change.id), learners: m.learners.filter((l) => l.id !== change.id) },
      };
    }
  }
}

/**
 * The configurations a node knows: the one in force at its compaction point
 * (stored with its snapshot) and every config entry in its log after that.
 * The last one is in force, committed or not (§4.1).
 */
export class MembershipLog {
  private base: { index: Index; membership: Membership };
  private readonly entries: { index: Index; membership: Membership }[] = [];

  constructor(base: { index: Index; membership: Membership }, entries: readonly Entry[]) {
    this.base = base;
    for (const e of entries) if (e.kind === 'config' && e.index > base.index) this.append(e.index, decodeMembership(e.data));
  }

  get current(): Membership {
    return (this.entries[this.entries.length - 1] ?? this.base).membership;
  }

  /** Index of the entry that made the current configuration (the base's index if none in the log). */
  get currentIndex(): Index {
    return (this.entries[this.entries.length - 1] ?? this.base).index;
  }

  /** The configuration in force at `index` (which must not be before the base). */
  at(index: Index): Membership {
    let found = this.base.membership;
    for (const e of this.entries) if (e.index <= index) found = e.membership;
    return found;
  }

  append(index: Index, membership: Membership): void {
    this.entries.push({ index, membership });
  }

  /** Entries from `index` on left the log; returns whether the configuration in force changed. */
  truncateFrom(index: Index): boolean {
    const before = this.entries.length;
    while (this.entries.length > 0 && this.entries[this.entries.length - 1]!.index >= index) this.entries.pop();
    return this.entries.length !== before;
  }

  /** The log is compacted up to `index`: the configuration then in force becomes the base. */
  compact(index: Index): void {
    const m = this.at(index);
    while (this.entries.length > 0 && this.entries[0]!.index <= index) this.entries.shift();
    this.base = { index, membership: m };
  }

  /** A snapshot at `index` carrying `membership` replaced the log (keeping what follows only if `keepLog`). */
  restore(index: Index, membership: Membership, keepLog: boolean): void {
    if (!keepLog) this.entries.length = 0;
    while (this.entries.length > 0 && this.entries[0]!.index <= index) this.entries.shift();
    this.base = { index, membership };
  }
}
