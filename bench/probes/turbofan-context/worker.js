/* global Response, setTimeout, clearTimeout */
// The smallest Worker that shows a waiting request resuming in another
// request's context (bench/probes/turbofan-context/README.md). Requests that
// arrive while one is "in flight" wait for it; the request in flight settles
// their promises from its own context. The env var VARIANT picks how.
import { DurableObject } from 'cloudflare:workers';

export class Sink extends DurableObject {
  echo(n) {
    return { n };
  }
}

let waiters = null; // resolvers of the requests waiting for the one in flight

// How a waiting request makes the promise it waits on. Only this differs
// between the variants that wait on a promise.
const makers = {
  // `new Promise(executor)`: TurboFan inlines the constructor in hot code.
  new: () => {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    return { promise, resolve };
  },
  // Promise.withResolvers(): a builtin call, never inlined.
  withResolvers: () => Promise.withResolvers(),
};

// The request that goes first does some I/O in its own context (an RPC to
// the object, or only a timer), then settles the others from there.
async function lead(env, source) {
  const mine = (waiters = []);
  let value;
  if (source === 'rpc') value = await env.SINK.get(env.SINK.idFromName('sink')).echo(mine.length);
  else {
    await new Promise((r) => setTimeout(r, 1));
    value = { n: mine.length };
  }
  waiters = null;
  for (const resolve of mine) resolve(value);
  return value;
}

function wait(maker) {
  const { promise, resolve } = makers[maker]();
  waiters.push(resolve);
  return promise;
}

export default {
  async fetch(request, env) {
    // VARIANT = "<maker>-<source>-<consume>", e.g. "new-rpc-await".
    const [maker, source, consume] = env.VARIANT.split('-');
    if (waiters === null) {
      const value = await lead(env, source);
      return Response.json({ lead: true, n: value.n });
    }
    // A timer of this request's own, so workerd does not count it as hung
    // while its only pending work is a promise another request settles.
    const timer = setTimeout(() => {}, 10_000);
    try {
      if (consume === 'then') return await wait(maker).then((value) => Response.json({ lead: false, n: value.n }));
      const value = await wait(maker);
      return Response.json({ lead: false, n: value.n });
    } finally {
      clearTimeout(timer);
    }
  },
};
