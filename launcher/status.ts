// Reading /status from nodes and deciding who leads, for the launchers.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { StatusReport } from '../worker/node-api';
import type { Member } from './node-config';

/** GET <url>/status; throws on a network error, a timeout or a non-200 answer. */
export async function fetchStatus(url: string, timeoutMs = 1000): Promise<StatusReport> {
  const { status, text } = await getText(`${url}/status`, timeoutMs);
  if (status !== 200) throw new Error(`GET ${url}/status answered ${status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as StatusReport;
}

/**
 * One GET by node:http(s), not fetch: the first fetch loads undici and
 * compiles its WebAssembly HTTP parser, ~15 MiB that would then stay in every
 * launcher host that polls /status (npm start's).
 */
function getText(url: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const get = target.protocol === 'https:' ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(target, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The leader, if a majority of the cluster (clusterSize, not just the nodes
 * that answered) names the same node in the same term, and that node itself
 * says it leads in that term. Otherwise null.
 */
export function agreedLeader(statuses: StatusReport[], clusterSize: number): Member | null {
  const majority = Math.floor(clusterSize / 2) + 1;
  for (const s of statuses) {
    if (s.role !== 'leader') continue;
    const votes = statuses.filter((o) => o.term === s.term && o.leader?.id === s.id).length;
    if (votes >= majority) return { id: s.id, url: s.url };
  }
  return null;
}

/** Statuses of every member that answers (the others are skipped). */
export async function collectStatuses(members: Member[], timeoutMs = 500): Promise<StatusReport[]> {
  const answers = await Promise.allSettled(members.map((m) => fetchStatus(m.url, timeoutMs)));
  return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
}

/** Polls until a majority agrees on a leader; throws after timeoutMs. */
export async function waitForAgreedLeader(members: Member[], clusterSize: number, timeoutMs: number, pollMs = 50): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusReport[];
  for (;;) {
    last = await collectStatuses(members, Math.min(500, Math.max(50, deadline - Date.now())));
    const leader = agreedLeader(last, clusterSize);
    if (leader) return leader;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const seen = last.map((s) => `${s.id}:${s.role}@${s.term}->${s.leader?.id ?? 'none'}`).join(' ');
  throw new Error(`no leader agreed by a majority within ${timeoutMs} ms (answers: ${seen || 'none'})`);
}
