import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../core/app-env";
import { sha256Hex } from "../core/crypto";
import { ApiError } from "../core/errors";
import type { Kind } from "../core/ids";
import { log } from "../core/log";
import { parseCallback, taskIdOf } from "../providers/parse-callback";
import { taskStub } from "../tasks/stub";
import { sourceGate, verifySignature } from "./source-checks";

export const callbacks = new Hono<AppEnv>();

const tooLarge = () => {
  throw new ApiError(413, "payload_too_large", "the callback body exceeds MAX_CALLBACK_BYTES");
};

/** A callback that would give its task more media files than MAX_ASSETS_PER_TASK: nothing is recorded. */
const tooManyAssets = (taskId: string, total: number, limit: number) =>
  new ApiError(
    400,
    "too_many_assets",
    `the callback would give task ${taskId} ${total} media files; at most ${limit} are archived per task (MAX_ASSETS_PER_TASK)`,
  );

/** Rejects oversized bodies from Content-Length up front, or while streaming a chunked body. */
callbacks.use("*", sourceGate, (c, next) =>
  bodyLimit({ maxSize: c.get("config").maxCallbackBytes, onError: tooLarge })(c, next),
);

/**
 * verify → parse → record, in one round trip to the task's Durable Object. The answer is 200 only
 * once the object has durably recorded the callback together with the outbox of its new assets'
 * queue messages (which it sends right after answering, and its alarm re-sends if need be).
 */
const receive = async (c: Context<AppEnv>, kind?: Kind) => {
  const raw = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const taskId = taskIdOf(body);
  await verifySignature(c, taskId);
  const update = parseCallback(body, kind);
  const limit = c.get("config").maxAssetsPerTask;
  const files = new Set(update.assets.map((asset) => asset.name)).size;
  if (files > limit) throw tooManyAssets(taskId, files, limit);
  const hash = await sha256Hex(JSON.stringify(body));
  // Where the callback arrived is the base of the links in the task's events (unless PUBLIC_URL).
  const origin = new URL(c.req.url).origin;
  const result = await taskStub(c.env, taskId).receiveCallback({ ...update, hash, raw }, origin);
  if (result.outcome === "too_many_assets") throw tooManyAssets(taskId, result.total, result.limit);
  if (result.outcome === "deleted") {
    // Answered like a duplicate, so the provider stops; nothing is recorded or downloaded.
    log.info("callback_ignored", { taskId, reason: "task_deleted" });
    return c.json({ status: "received", taskId, duplicate: true });
  }
  if (result.outcome === "kind_conflict") {
    throw new ApiError(400, "invalid_payload", `task ${taskId} is a ${result.kind} task, not ${update.kind}`);
  }
  return c.json({ status: "received", taskId, duplicate: result.duplicate });
};

callbacks.post("/", (c) => receive(c));
callbacks.post("/:kind{music|separation|video}", (c) => receive(c, c.req.param("kind") as Kind));
