// A member object on its own: how it learns who it is, and that it still
// knows after a reset when it is woken without its name (an alarm, or a stub
// made from the id's string: ctx.id.name is then undefined).
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { EdgeEnv } from '../../worker/edge/edge-config';
import { resetMember, waitForLeader } from './helpers';

const ns = (env as unknown as EdgeEnv).RAFT_MEMBER;

describe('edge member object', () => {
  it('keeps its identity across a reset, also when the next call comes without its name', async () => {
    await waitForLeader('basic');
    const id = ns.idFromName('basic/n1');
    await resetMember('basic', 'n1');
    // A stub from the id's string: the object is re-created without ctx.id.name.
    const nameless = ns.get(ns.idFromString(id.toString()));
    const status = await nameless.status();
    expect(status).toMatchObject({ id: 'n1' });
  });

  it('refuses to be booted as another member than its name says', async () => {
    const stub = ns.get(ns.idFromName('basic/n2'));
    // Settle the RPC promise into a plain one before asserting: a matcher that reads
    // properties of an RpcPromise starts pipelined calls whose rejections nobody handles.
    const outcome = await stub.boot({ cluster: 'basic', id: 'n3' }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/this object is basic\/n2, not basic\/n3/);
  });
});
