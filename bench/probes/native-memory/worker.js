/* global Response, TextEncoder, URL, crypto */
// One Worker, no Raft: each GET /?n=N&mode=M does N operations of one kind and
// answers with a checksum, so run.ts can watch workerd's RSS grow (or not)
// with the count. Modes:
// - encode: UTF-8 encode a 100-byte command and await a resolved promise (the control);
// - digest: the same, then Web Crypto SHA-256 of it, as the leader does per write
//   (worker/kv/sessions.ts, fingerprintNative);
// - node: node:crypto's createHash('sha256') of it (needs nodejs_compat).
import { createHash } from 'node:crypto';

const utf8 = new TextEncoder();

export default {
  async fetch(req) {
    const url = new URL(req.url);
    const n = Number(url.searchParams.get('n'));
    const mode = url.searchParams.get('mode');
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const text = `{"op":"put","key":"k${i}","value":"${'v'.repeat(100)}"}`;
      if (mode === 'digest') sum += new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text)))[0];
      else if (mode === 'node') {
        sum += createHash('sha256').update(text).digest()[0];
        await Promise.resolve();
      } else {
        sum += utf8.encode(text)[0];
        await Promise.resolve();
      }
    }
    return new Response(String(sum));
  },
};
