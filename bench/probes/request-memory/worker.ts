// One Worker and one Durable Object, no Raft: each POST answers a small JSON
// body, so run.ts can watch workerd's RSS while it serves millions of HTTP
// requests. The path picks what a request does:
// - /plain: the Worker reads the body and answers it itself;
// - /rpc: the Worker hands the body to the object over RPC, one call per
//   request (the front with COALESCE_REQUESTS=off);
// - /shared: concurrent requests share calls through the front's own
//   Coalescer (worker/front/coalesce.ts), as a node's Worker does by default;
// - /fetch: the Worker forwards the request to the object's fetch handler.
import { DurableObject } from 'cloudflare:workers';
import { Coalescer } from '../../../worker/front/coalesce';

interface Env {
  ECHO: DurableObjectNamespace<Echo>;
}

interface Echoed {
  ok: boolean;
  length: number;
  count: number;
}

export class Echo extends DurableObject {
  private count = 0;

  answer(body: string): Echoed {
    return { ok: true, length: body.length, count: ++this.count };
  }

  answerBatch(bodies: string[]): Echoed[] {
    return bodies.map((b) => this.answer(b));
  }

  override async fetch(req: Request): Promise<Response> {
    return Response.json(this.answer(await req.text()));
  }
}

const shared = new Coalescer<string, Echoed>({
  maxBatch: 128,
  maxInflight: 1,
  waitLimitMs: 11_000,
  staleQueueMs: 5_000,
  gaveUp: () => ({ ok: false, length: 0, count: 0 }),
});

let id: DurableObjectId | undefined;

export default {
  async fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(req.url).pathname;
    id ??= env.ECHO.idFromName('echo');
    const stub = env.ECHO.get(id);
    if (path === '/fetch') return stub.fetch(req);
    const body = await req.text();
    if (path === '/rpc') return Response.json(await stub.answer(body));
    if (path === '/shared')
      return Response.json(
        await shared.call(
          body,
          (bodies) => stub.answerBatch(bodies),
          (work) => ctx.waitUntil(work),
        ),
      );
    return Response.json({ ok: true, length: body.length, count: 0 });
  },
} satisfies ExportedHandler<Env>;
