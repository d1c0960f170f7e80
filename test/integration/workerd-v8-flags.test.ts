// The V8 flags hook against the real workerd that Miniflare starts: a flag
// with a visible effect (--expose-gc puts gc() on the global object) shows
// that workerd read the patched configuration.
import { Miniflare } from 'miniflare';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultV8Flags, useWorkerdV8Flags } from '../../launcher/workerd-v8-flags';

const script = `export default { fetch() { return new Response(typeof globalThis.gc) } }`;

async function typeofGc(): Promise<string> {
  const mf = new Miniflare({
    modules: true,
    script,
    host: '127.0.0.1',
    port: 0,
    // workerd's own report of a refused flag is expected in one test; keep it out of the output.
    handleRuntimeStdio: (out: Readable, err: Readable) => {
      out.resume();
      err.resume();
    },
  });
  try {
    const res = await mf.dispatchFetch('http://localhost/');
    return await res.text();
  } finally {
    await mf.dispose();
  }
}

describe('V8 flags for workerd', () => {
  afterAll(() => useWorkerdV8Flags(defaultV8Flags));

  it('workerd applies the flags given, alongside others', async () => {
    useWorkerdV8Flags(['--max-semi-space-size=1', '--expose-gc']);
    expect(await typeofGc()).toBe('function');
  });

  it('and none when none are given', async () => {
    useWorkerdV8Flags([]);
    expect(await typeofGc()).toBe('undefined');
  });

  it('a flag V8 does not know stops workerd from starting', async () => {
    useWorkerdV8Flags(['--no-such-v8-flag']);
    await expect(typeofGc()).rejects.toThrow(/runtime failed to start/i);
  });
});
