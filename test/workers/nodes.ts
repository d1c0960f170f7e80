// Helpers the Durable Object tests share: reaching a node by name, electing a
// node that has no peers, and a node that starts from a long stored log.
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect } from 'vitest';
import { SqlRaftStorage } from '../../worker/adapters/sql-storage';
import type { Env } from '../../worker/env';
import { encodeRequest, type KvRequest, type Session } from '../../worker/kv/commands';
import type { RaftNodeObject } from '../../worker/node/node-object';
import type { Entry } from '../../worker/raft/types';

const bindings = env as unknown as Env;

/** The node object called `name` (each name is its own node with its own storage). */
export const nodeNamed = (name: string) => bindings.RAFT_NODE.get(bindings.RAFT_NODE.idFromName(name));
export type Stub = ReturnType<typeof nodeNamed>;

export const set = (key: string, value: string, session?: Session): KvRequest =>
  session ? { cmd: { op: 'set', key, value }, session } : { cmd: { op: 'set', key, value } };

/** Fire alarms until the node leads; a single node needs a pre-vote round and a vote round at most. */
export async function electAlone(stub: Stub): Promise<void> {
  for (let i = 0; i < 4; i++) {
    if ((await stub.status()).role === 'leader') return;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
  }
  expect((await stub.status()).role).toBe('leader');
}

/**
 * A node that restarts from `count` committed writes of keys k0..k6 (value
 * v<index>) stored behind its back, is elected, and takes one more write
 * (`after` = `compaction`). With the workers project's SNAPSHOT_EVERY (500)
 * and LOG_RETAIN (2048), it compacts on the way.
 */
export async function nodeFromLongLog(name: string, count: number): Promise<Stub> {
  await runInDurableObject(nodeNamed(name), (_obj: RaftNodeObject, state) => {
    const s = new SqlRaftStorage(state.storage);
    s.migrate();
    const log = Array.from({ length: count }, (_, i): Entry => ({
      index: i + 1,
      term: 1,
      kind: 'command',
      data: encodeRequest(set(`k${i % 7}`, `v${i + 1}`)),
    }));
    s.save({ term: 1, vote: 'n1', commit: count }, log);
  });
  await abortAllDurableObjects();
  const stub = nodeNamed(name);
  await electAlone(stub);
  expect(await stub.write(set('after', 'compaction'))).toMatchObject({ type: 'ok' });
  return stub;
}
