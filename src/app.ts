import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { bundle } from "./api/bundle";
import { events } from "./api/events";
import { list } from "./api/list";
import { media } from "./api/media";
import { documentApi } from "./api/openapi";
import { provider } from "./api/provider";
import { quarantineApi } from "./api/quarantine";
import { tasks } from "./api/tasks";
import { validationHook } from "./api/validation";
import { callbacks } from "./callbacks/route";
import type { AppEnv } from "./core/app-env";
import { config, sourceChecks } from "./core/config";
import { ApiError } from "./core/errors";
import { log } from "./core/log";

export const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

app.use(async (c, next) => {
  c.set("config", config(c.env));
  await next();
});

/**
 * 200 when the receiver can accept callbacks; 503 naming each setting that stops it. Once
 * EVENTS_URL is set, `events` says whether outbound events are sent (`on`) or not
 * (`misconfigured`, with `warnings` naming the setting); without it (events off) the answer is
 * the contract's plain `{ok, checks}`.
 */
app.get("/healthz", (c) => {
  const cfg = c.get("config");
  const checks = sourceChecks(cfg);
  const events = cfg.events.state === "off" ? {} : { events: cfg.events.state };
  const warnings = cfg.warnings.length > 0 ? { warnings: cfg.warnings } : {};
  if (cfg.problems.length > 0) {
    return c.json({ ok: false, checks, ...events, problems: cfg.problems, ...warnings }, 503);
  }
  return c.json({ ok: true, checks, ...events, ...warnings });
});
app.route("/callbacks", callbacks);
// Before the other /tasks routes: their bearer check would refuse a signed bundle link.
app.route("/tasks", bundle);
app.route("/tasks", list);
app.route("/tasks", tasks);
app.route("/tasks", events);
app.route("/media", media);
app.route("/provider", provider);
app.route("/quarantine", quarantineApi);
documentApi(app);

app.notFound((c) =>
  c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
);

/** The one place errors become responses: the contract's error JSON; only 5xx are logged. */
app.onError((error, c) => {
  if (error instanceof ApiError) {
    if (error.status >= 500) log.error("request_failed", { path: c.req.path, code: error.code });
    return c.json(error.toBody(), error.status);
  }
  // Hono's JSON validator throws this for a body that does not parse.
  if (error instanceof HTTPException && error.message === "Malformed JSON in request body") {
    return c.json({ error: { code: "invalid_json", message: "the body is not valid JSON" } }, 400);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return c.json({ error: { code: "bad_request", message: error.message || "bad request" } }, error.status);
  }
  log.error("request_failed", { path: c.req.path, error });
  return c.json(
    { error: { code: "internal_error", message: "internal error; the request was not recorded" } },
    500,
  );
});
