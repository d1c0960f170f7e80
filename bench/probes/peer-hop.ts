// `npx tsx bench/probes/peer-hop.ts [--round-trips 1500] [--rounds 4] [--v8-flags="..."]`
//
// What one message to a peer costs in the runtime, with no Raft: two
// workerds, A and B, each a Worker with one SQLite-backed Durable Object, on
// ports 19901 and 19902. A's object sends B's a small message and waits for
// the answer, one at a time; B's object writes the message to SQLite first, so
// the answer waits for a durable write, as a follower's does. Two ways:
// - post: fetch() to B's Worker, which reads the body and calls B's object
//   over JS RPC (what raft-kv does with PEER_STREAMS=off);
// - ws:   one WebSocket that B's Worker handed to B's object at the upgrade,
//         so each message is an event of the object (worker/adapters/peer-streams.ts).
// The two alternate, and each round prints the mean round trip and the CPU of
// each workerd per round trip.
import type { Miniflare } from 'miniflare';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, parseIntIn } from '../../common/args';
import { pidListeningOn } from '../../launcher/procfs';
import { cpuMs } from '../procstat';
import { defaultV8Flags, parseV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';
import { probeWorkerd } from './probe-workerd';

const worker = `
import { DurableObject } from 'cloudflare:workers';
export class Peer extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS log (i INTEGER PRIMARY KEY, d TEXT)');
    this.seq = 0;
    this.socket = null;
    this.waiting = new Map();
  }
  store(d) { this.ctx.storage.sql.exec('INSERT INTO log (d) VALUES (?)', d); }
  // B's side.
  async fetch() {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage(ws, text) {
    const m = JSON.parse(text);
    this.store(m.d);
    ws.send(JSON.stringify({ id: m.id }));
  }
  async receive(m) { this.store(m.d); return { id: m.id }; }
  // A's side.
  async run(mode, url, n) {
    if (mode === 'ws' && this.socket === null) {
      const res = await fetch(url + '/ws', { headers: { upgrade: 'websocket' } });
      const ws = res.webSocket;
      ws.accept();
      ws.addEventListener('message', (ev) => {
        const m = JSON.parse(ev.data);
        this.waiting.get(m.id)?.();
        this.waiting.delete(m.id);
      });
      this.socket = ws;
    }
    const d = 'x'.repeat(200);
    for (let k = 0; k < n; k++) {
      const id = ++this.seq;
      if (mode === 'ws') {
        await new Promise((resolve) => {
          this.waiting.set(id, resolve);
          this.socket.send(JSON.stringify({ id, d }));
        });
      } else {
        const res = await fetch(url + '/post', { method: 'POST', body: JSON.stringify({ id, d }) });
        await res.json();
      }
    }
    return n;
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const peer = env.PEER.get(env.PEER.idFromName('peer'));
    if (url.pathname === '/ws') return peer.fetch(request);
    if (url.pathname === '/post') return Response.json(await peer.receive(await request.json()));
    if (url.pathname === '/run') {
      const q = url.searchParams;
      return Response.json(await peer.run(q.get('mode'), q.get('url'), Number(q.get('n'))));
    }
    return new Response('not found', { status: 404 });
  },
};`;

interface Options {
  roundTrips: number;
  rounds: number;
  v8Flags: string[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { roundTrips: 1500, rounds: 4, v8Flags: [...defaultV8Flags] };
  const { values: v } = parseFlags(argv, { 'round-trips': { type: 'string' }, rounds: { type: 'string' }, 'v8-flags': { type: 'string' } });
  if (v['round-trips'] !== undefined) o.roundTrips = parseIntIn('--round-trips', v['round-trips'], 1, Number.MAX_SAFE_INTEGER);
  if (v.rounds !== undefined) o.rounds = parseIntIn('--rounds', v.rounds, 1, Number.MAX_SAFE_INTEGER);
  if (v['v8-flags'] !== undefined) o.v8Flags = parseV8Flags('--v8-flags', v['v8-flags']);
  return o;
}

/** CPU time of `pid` so far, in ms (0 if it is gone). */
function cpuOf(pid: number): number {
  return cpuMs(pid) ?? 0;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  useWorkerdV8Flags(o.v8Flags);
  const dirs: string[] = [];
  const start = (port: number): Miniflare => {
    const persist = mkdtempSync(join(tmpdir(), 'raft-kv-peer-hop-'));
    dirs.push(persist);
    return probeWorkerd({ port, code: worker, durableObjects: { PEER: { className: 'Peer', useSQLite: true } }, persist });
  };
  const a = start(19901);
  const b = start(19902);
  try {
    await Promise.all([a.ready, b.ready]);
    const pidA = pidListeningOn(19901);
    const pidB = pidListeningOn(19902);
    if (pidA === null || pidB === null) throw new Error('a workerd is not listening');
    console.log(`${o.roundTrips} round trips per line, V8 flags: ${o.v8Flags.join(' ') || '(none)'}`);
    for (let round = 1; round <= o.rounds; round++) {
      for (const mode of ['post', 'ws']) {
        const [cpuA, cpuB] = [cpuOf(pidA), cpuOf(pidB)];
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:19901/run?mode=${mode}&n=${o.roundTrips}&url=http://127.0.0.1:19902`);
        if (!res.ok) throw new Error(`run failed: HTTP ${res.status} ${await res.text()}`);
        await res.json();
        const perTrip = (performance.now() - t0) / o.roundTrips;
        const usA = ((cpuOf(pidA) - cpuA) / o.roundTrips) * 1000;
        const usB = ((cpuOf(pidB) - cpuB) / o.roundTrips) * 1000;
        console.log(
          `round ${round} ${mode.padEnd(4)}: ${perTrip.toFixed(3)} ms per round trip; CPU per round trip: A ${usA.toFixed(0)} us, B ${usB.toFixed(0)} us`,
        );
      }
    }
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
