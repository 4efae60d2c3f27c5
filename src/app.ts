import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { callbacks } from "./callbacks/route";
import { configuredChecks } from "./callbacks/source-checks";
import { config } from "./config";
import { ApiError } from "./errors";
import { benchBaseline } from "./media/bench-baseline";
import { media } from "./read/media";
import { tasks } from "./read/tasks";

export const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ ok: true, checks: configuredChecks(config(c.env)) }));
app.route("/callbacks", callbacks);
app.route("/tasks", tasks);
app.route("/media", media);
app.route("/__bench", benchBaseline);

app.notFound((c) =>
  c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
);

/** The one place errors become responses: the contract's error JSON; only 5xx are logged. */
app.onError((error, c) => {
  if (error instanceof ApiError) {
    if (error.status >= 500) console.error(JSON.stringify({ event: "request_failed", code: error.code }));
    return c.json(error.toBody(), error.status);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: { code: "bad_request", message: error.message || "bad request" } }, error.status);
  }
  console.error(
    JSON.stringify({
      event: "request_failed",
      path: c.req.path,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  return c.json(
    { error: { code: "internal_error", message: "internal error; the request was not recorded" } },
    500,
  );
});
