// Text rendering for the CLI: result lines, error lines and the status table.
import type { ClientError, ClusterMember, ClusterStatus, MemberRef } from '../client-types';

/** One readable line for a failed operation, with what to do about an unknown outcome. */
export function errorLine(error: ClientError): string {
  if (error.type === 'not_leader') {
    const port = error.leader !== null && error.leader !== undefined ? portOf(error.leader) : null;
    const hint = port !== null ? ` (send to PORT ${port}, or leave PORT out)` : '';
    return `${error.message}${hint}`;
  }
  let line = `error (${error.type}): ${error.message}`;
  if (error.code === 'session_expired') {
    // The session is gone, so no retry of this write can be judged a retry any more.
    line += error.outcomeUnknown
      ? '; outcome unknown: an earlier attempt may have been applied before the session expired; read the key before writing again'
      : '; the write was not applied';
    return `${line}. The next write registers a new session`;
  }
  if (error.outcomeUnknown) {
    if (error.serial === undefined) return `${line}; outcome unknown: the write may have been applied`;
    const restart = error.clientId !== undefined ? ` (after a restart: --client-id ${error.clientId})` : '';
    return `${line}; outcome unknown: the write may have been applied. Retrying it with REQUEST_ID ${error.serial} is safe${restart}`;
  }
  if (error.type === 'session') line += '; use a new REQUEST_ID, or a higher --first-serial after a restart';
  return line;
}

/** A printable form of a value: as is when plain, JSON-quoted when it has spaces, quotes or control characters. */
export function showValue(value: string | null): string {
  if (value === null) return '(absent)';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must be quoted
  return /^[^\s"'\\\u0000-\u001f]+$/.test(value) ? value : JSON.stringify(value);
}

export function statusTable(status: ClusterStatus): string[] {
  const header = ['NODE', 'URL', 'ROLE', 'MEMBER', 'TERM', 'COMMIT', 'APPLIED', 'SNAPSHOT', 'FIRST', 'LEADER', 'PEERS'];
  const rows: string[][] = status.nodes.map((n) => {
    if (!n.reachable) return ['?', n.url, 'unreachable', '-', '-', '-', '-', '-', '-', '-', n.error];
    const s = n.status;
    // Each node's own view of the configuration: a node that joins is in none until it hears of one.
    const member = s.membership.voters.some((m) => m.id === s.id)
      ? 'voter'
      : s.membership.learners.some((m) => m.id === s.id)
        ? 'learner'
        : '(none)';
    return [
      s.id,
      n.url,
      s.role,
      member,
      String(s.term),
      String(s.commitIndex),
      String(s.appliedIndex),
      String(s.snapshotIndex),
      String(s.firstLogIndex),
      s.leader === null ? '(none)' : s.leader.id,
      // Only a leader replicates, so only its view of the peers means anything.
      s.role === 'leader' && s.peers.length > 0 ? s.peers.map((p) => `${p.id}:${p.state}`).join(' ') : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const leaderLine = status.leader === null ? 'leader: none known' : `leader: ${status.leader.id} at ${status.leader.url}`;
  return [render(header), ...rows.map(render), leaderLine];
}

export function membersTable(view: { leader: MemberRef | null; members: ClusterMember[]; configIndex: number }): string[] {
  const header = ['ID', 'URL', 'ROLE', 'MATCH'];
  const rows = view.members.map((m) => [
    view.leader?.id === m.id ? `${m.id}*` : m.id,
    m.url,
    m.role,
    m.matchIndex === null ? '-' : String(m.matchIndex),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const leaderLine = view.leader === null ? 'leader: none known' : `leader: ${view.leader.id} (*)`;
  return [render(header), ...rows.map(render), `${leaderLine}; configuration at index ${view.configIndex}`];
}

function portOf(url: string): string | null {
  try {
    const u = new URL(url);
    return u.hostname === '127.0.0.1' && u.port !== '' ? u.port : null;
  } catch {
    return null;
  }
}
