// `npx tsx bench/probes/sql-cost.ts [--calls 3000] [--rows 20] [--rounds 3] [--v8-flags="..."]`
//
// What the write path's SQL costs workerd, one Durable Object event at a
// time, with no Raft: each call is one RPC into a Durable Object with SQLite
// storage that writes what one follower's Ready writes for `--rows` writes of
// 100-byte values (log rows, key rows, saved results, the applied index) in
// one of several ways, and the probe reads workerd's CPU time around the calls.
// `none` (the RPC alone) is the floor to subtract. Each call's writes end in
// their own commit, as each event's do in a node.
import { Log, LogLevel, Miniflare } from 'miniflare';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, parseIntIn } from '../../common/args';
import { pidListeningOn } from '../../launcher/procfs';
import { cpuMs } from '../procstat';
import { defaultV8Flags, parseV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';
import { fmt } from '../run';

const variants = ['none', 'meta', 'log', 'log+flush', 'log+flush one tx', 'log+flush no tx', 'flush rows only'] as const;
type Variant = (typeof variants)[number];

const worker = `
import { DurableObject } from 'cloudflare:workers';
const texts = new Map();
function rowsText(head, columns, rows, tail = '') {
  const k = head + rows;
  let t = texts.get(k);
  if (t === undefined) {
    t = head + ' VALUES ' + Array(rows).fill('(' + Array(columns).fill('?').join(', ') + ')').join(', ') + ' ' + tail;
    texts.set(k, t);
  }
  return t;
}
function insertRows(sql, head, columns, rows, tail) {
  const per = Math.floor(100 / columns);
  for (let at = 0; at < rows.length; at += per) {
    const part = rows.slice(at, at + per);
    sql.exec(rowsText(head, columns, part.length, tail), ...part.flat());
  }
}
export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS raft_log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS kv_data (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    sql.exec('CREATE TABLE IF NOT EXISTS kv_session_saved (client_id TEXT NOT NULL, slot INTEGER NOT NULL, serial INTEGER NOT NULL, digest TEXT NOT NULL, result TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (client_id, slot)) WITHOUT ROWID');
    sql.exec('CREATE TABLE IF NOT EXISTS kv_meta (id INTEGER PRIMARY KEY CHECK (id = 1), applied INTEGER NOT NULL)');
    sql.exec('INSERT OR IGNORE INTO kv_meta (id, applied) VALUES (1, 0)');
    this.next = (sql.exec('SELECT max(idx) AS m FROM raft_log').one().m ?? 0) + 1;
    this.serial = 1;
  }
  async call(variant, rows) {
    const sql = this.ctx.storage.sql;
    const storage = this.ctx.storage;
    const value = 'x'.repeat(100);
    const log = [];
    const keys = [];
    const saved = [];
    for (let i = 0; i < rows; i++) {
      const idx = this.next++;
      const serial = this.serial++;
      const client = 'client-' + (i % 64);
      const data = JSON.stringify({ cmd: { op: 'set', key: 'key-' + (idx % 1000), value }, session: { clientId: client, serial }, digest: 'ungWv48Bz+pBQUDeXa4iIw' });
      log.push([idx, 1, 'command', data]);
      keys.push(['key-' + (idx % 1000), value]);
      saved.push([client, serial % 64, serial, 'ungWv48Bz+pBQUDeXa4iIw', '{"ok":true,"op":"set"}', idx]);
    }
    const last = this.next - 1;
    const logWrite = () => insertRows(sql, 'INSERT INTO raft_log (idx, term, kind, data)', 4, log);
    const flushRows = () => {
      insertRows(sql, 'INSERT INTO kv_data (key, value)', 2, keys, 'ON CONFLICT (key) DO UPDATE SET value = excluded.value');
      insertRows(sql, 'INSERT OR REPLACE INTO kv_session_saved (client_id, slot, serial, digest, result, idx)', 6, saved);
      sql.exec('UPDATE kv_meta SET applied = ?', last);
    };
    switch (variant) {
      case 'none': break;
      case 'meta': sql.exec('UPDATE kv_meta SET applied = ?', last); break;
      case 'log': logWrite(); break;
      case 'log+flush': storage.transactionSync(flushRows); logWrite(); break;
      case 'log+flush one tx': storage.transactionSync(() => { flushRows(); logWrite(); }); break;
      case 'log+flush no tx': flushRows(); logWrite(); break;
      case 'flush rows only': storage.transactionSync(flushRows); break;
    }
    if (this.next > 200000) { sql.exec('DELETE FROM raft_log'); }
    return 1;
  }
}
export default { async fetch() { return new Response('probe'); } };`;

async function main(): Promise<void> {
  const { values: v } = parseFlags(process.argv.slice(2), {
    calls: { type: 'string' },
    rows: { type: 'string' },
    rounds: { type: 'string' },
    'v8-flags': { type: 'string' },
  });
  const calls = v.calls === undefined ? 3000 : parseIntIn('--calls', v.calls, 1, 1e7);
  const rows = v.rows === undefined ? 20 : parseIntIn('--rows', v.rows, 1, 1000);
  const rounds = v.rounds === undefined ? 3 : parseIntIn('--rounds', v.rounds, 1, 100);
  const flags = v['v8-flags'] === undefined ? [...defaultV8Flags] : parseV8Flags('--v8-flags', v['v8-flags']);
  useWorkerdV8Flags(flags);
  const persist = mkdtempSync(join(tmpdir(), 'raft-kv-sql-cost-'));
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    cf: false,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio: () => {},
    modules: [{ type: 'ESModule', path: 'index.js', contents: worker }],
    compatibilityDate: '2026-04-26',
    durableObjects: { PROBE: { className: 'Probe', useSQLite: true } },
    durableObjectsPersist: persist,
  });
  try {
    const url = await mf.ready;
    const ns = await mf.getDurableObjectNamespace('PROBE');
    const stub = ns.get(ns.idFromName('probe')) as unknown as { call(v: Variant, rows: number): Promise<number> };
    await stub.call('none', rows);
    const pid = pidListeningOn(Number(url.port));
    if (pid === null) throw new Error(`no workerd listening on ${url.port}`);
    console.log(`${calls} calls per variant and round, ${rows} rows each, V8 flags: ${flags.join(' ') || '(none)'}`);
    const results = new Map<Variant, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const variant of round % 2 === 1 ? variants : [...variants].reverse()) {
        for (let i = 0; i < 200; i++) await stub.call(variant, rows);
        const before = cpuMs(pid) ?? 0;
        for (let i = 0; i < calls; i++) await stub.call(variant, rows);
        const us = (((cpuMs(pid) ?? 0) - before) / calls) * 1000;
        results.set(variant, [...(results.get(variant) ?? []), us]);
      }
    }
    const floor = median(results.get('none')!);
    for (const variant of variants) {
      const m = median(results.get(variant)!);
      console.log(
        `${variant.padEnd(18)} ${fmt(m).padStart(6)} us CPU per call, ${fmt(m - floor).padStart(6)} over the RPC alone  [${results
          .get(variant)!
          .map((x) => fmt(x))
          .join(', ')}]`,
      );
    }
  } finally {
    await mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

await main();
