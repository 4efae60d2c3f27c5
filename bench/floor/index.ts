// The ack-path floor (see wrangler.toml here): GET /healthz answers at once; POST /object/<id>
// stores the request body as one row in the SQLite Durable Object named <id> and answers once
// that write is durable. No checks, no parsing, no queue: one object per task, one row.

import { DurableObject } from "cloudflare:workers";

interface FloorEnv {
  OBJECTS: DurableObjectNamespace<FloorObject>;
}

export class FloorObject extends DurableObject<FloorEnv> {
  record(body: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS callbacks (received_at INTEGER NOT NULL, raw TEXT NOT NULL)");
    sql.exec("INSERT INTO callbacks VALUES (?, ?)", Date.now(), body);
  }
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return Response.json({ ok: true });
    const id = /^\/object\/([\w-]{1,128})$/.exec(pathname)?.[1];
    if (request.method !== "POST" || !id) return Response.json({ error: "not found" }, { status: 404 });
    await env.OBJECTS.get(env.OBJECTS.idFromName(id)).record(await request.text());
    return Response.json({ recorded: id });
  },
} satisfies ExportedHandler<FloorEnv>;
