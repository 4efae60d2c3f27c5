// The archive path's baseline (see wrangler.toml here): GET /healthz answers at once; POST
// /put?url=<media URL> fetches the URL and hands the response body to `R2.put` untouched — no
// checks, no hashing — then deletes the object and answers with the bytes stored and the time it
// took. A put the runtime refuses (a body of unknown length) answers 500 with its error.

interface BaselineEnv {
  MEDIA: R2Bucket;
}

export default {
  async fetch(request: Request, env: BaselineEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ ok: true });
    const source = url.searchParams.get("url");
    if (request.method !== "POST" || url.pathname !== "/put" || !source)
      return Response.json({ error: "not found" }, { status: 404 });
    const started = Date.now();
    try {
      const response = await fetch(source);
      if (!response.ok || !response.body) throw new Error(`the origin answered ${response.status}`);
      const key = crypto.randomUUID();
      const object = await env.MEDIA.put(key, response.body);
      await env.MEDIA.delete(key);
      return Response.json({ bytes: object?.size ?? 0, ms: Date.now() - started });
    } catch (error) {
      return Response.json(
        { error: error instanceof Error ? error.message : String(error) },
        { status: 500 },
      );
    }
  },
} satisfies ExportedHandler<BaselineEnv>;
