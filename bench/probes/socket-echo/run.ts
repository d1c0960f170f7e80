// `npx tsx bench/probes/socket-echo/run.ts [--clients 64] [--seconds 4]
//   [--rounds 2] [--modes hibernation,listener] [--v8-flags="..."] [--port 18992]`
//
// What one client-socket frame costs workerd with no Raft: a Worker hands
// GET / upgrades to one Durable Object, which answers each frame (a get
// request) with one answer frame, as a node does. Two ways to accept the
// socket, alternating each round: `hibernation` (ctx.acceptWebSocket and the
// webSocketMessage handler, one runtime event per frame) and `listener`
// (ws.accept() and a message listener). `--clients` sockets each keep one
// request in flight; prints frames/s, workerd CPU per frame and workerd's
// anonymous memory (RssAnon) after each measurement. With one mode and many
// rounds it shows whether that memory grows with the frames a socket carries
// (each round opens new sockets).
import { parseFlags, parseIntIn, parseOneOf, parsePort, parsePositive } from '../../../common/args';
import WebSocket from 'ws';
import { pidListeningOn } from '../../../launcher/procfs';
import { cpuMs, statusKiB } from '../../procstat';
import { probeWorkerd, useProbeV8Flags } from '../probe-workerd';

const worker = `
import { DurableObject } from 'cloudflare:workers';
const value = 'x'.repeat(100);
function answer(ws, data) {
  const r = JSON.parse(data);
  ws.send(JSON.stringify([{ id: r.id, status: 200, body: { key: r.key, value } }]));
}
export class Echo extends DurableObject {
  async fetch(request) {
    const pair = new WebSocketPair();
    if (new URL(request.url).pathname === '/hibernation') this.ctx.acceptWebSocket(pair[1]);
    else {
      pair[1].accept();
      pair[1].addEventListener('message', (ev) => answer(pair[1], ev.data));
    }
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  webSocketMessage(ws, data) { answer(ws, data); }
}
export default {
  fetch(request, env) { return env.ECHO.get(env.ECHO.idFromName('echo')).fetch(request); },
};`;

type Mode = 'hibernation' | 'listener';

async function measure(port: number, pid: number, mode: Mode, clients: number, seconds: number): Promise<string> {
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/${mode}`, { perMessageDeflate: false });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  const sockets = await Promise.all(Array.from({ length: clients }, open));
  let answered = 0;
  let stopped = false;
  for (const ws of sockets) {
    let id = 0;
    const ask = () => ws.send(JSON.stringify({ id: ++id, op: 'get', key: 'k' }));
    ws.on('message', () => {
      answered++;
      if (!stopped) ask();
    });
    ask();
  }
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  const cpu0 = cpuMs(pid) ?? 0;
  const n0 = answered;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const frames = answered - n0;
  const line = `${mode.padEnd(11)} ${(frames / ((performance.now() - t0) / 1000)).toFixed(0).padStart(7)} frames/s, workerd ${((((cpuMs(pid) ?? 0) - cpu0) * 1000) / frames).toFixed(1)} us CPU per frame, RssAnon ${(statusKiB(pid, 'RssAnon') / 1024).toFixed(0)} MiB`;
  stopped = true;
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => setTimeout(r, 300));
  return line;
}

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    clients: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    'v8-flags': { type: 'string' },
    port: { type: 'string' },
    modes: { type: 'string' },
  });
  const clients = v.clients === undefined ? 64 : parseIntIn('--clients', v.clients, 1, 1024);
  const seconds = v.seconds === undefined ? 4 : parsePositive('--seconds', v.seconds);
  const rounds = v.rounds === undefined ? 2 : parseIntIn('--rounds', v.rounds, 1, 100);
  const port = v.port === undefined ? 18992 : parsePort('--port', v.port);
  const modes = (v.modes ?? 'hibernation,listener').split(',').map((m) => parseOneOf('--modes', m, ['hibernation', 'listener'] as const));
  const flags = useProbeV8Flags(v['v8-flags']);
  const mf = probeWorkerd({ port, code: worker, durableObjects: { ECHO: { className: 'Echo', useSQLite: true } } });
  try {
    await mf.ready;
    const pid = pidListeningOn(port);
    if (pid === null) throw new Error(`no process listens on port ${port}`);
    console.log(`one workerd (V8 flags: ${flags.join(' ') || 'none'}), ${clients} sockets, one request in flight each`);
    for (let r = 1; r <= rounds; r++) {
      for (const mode of modes) console.log(`round ${r} ${await measure(port, pid, mode, clients, seconds)}`);
    }
  } finally {
    await mf.dispose();
  }
}

await main();
