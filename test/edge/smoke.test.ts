import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

describe('edge smoke', () => {
  it('elects and serves', async () => {
    let report: any;
    for (let i = 0; i < 100; i++) {
      const res = await SELF.fetch('http://edge.test/c/basic/edge/members');
      report = await res.json();
      if (report.leader) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(JSON.stringify(report));
    expect(report.leader).not.toBeNull();
    const put = await SELF.fetch('http://edge.test/c/basic/kv/a', { method: 'PUT', body: 'one' });
    expect(put.status).toBe(200);
    const get = await SELF.fetch('http://edge.test/c/basic/kv/a');
    expect(await get.json()).toEqual({ key: 'a', value: 'one' });
  });
});
