import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../core/app-env";
import type { Config } from "../core/config";
import { sha256Hex } from "../core/crypto";
import { ApiError } from "../core/errors";
import { KINDS, type Kind } from "../core/ids";
import { log } from "../core/log";
import { checkMediaUrl } from "../media/url-policy";
import { findTaskId } from "../providers/callback-schemas";
import type { ParsedCallback } from "../providers/model";
import { parseCallback, taskIdOf } from "../providers/parse-callback";
import { duplicateTally, receivedKey } from "../tasks/duplicate-tally";
import { taskStub } from "../tasks/stub";
import { quarantine } from "./quarantine";
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
 * queue messages (which it sends right after answering, and its alarm re-sends if need be). An
 * authenticated body is never thrown away: one of a shape stemvault does not know is recorded on
 * its task (`recognized: false`); one refused with a 400 after the source checks (no task id, a
 * kind that contradicts the route or the task, too many files) is quarantined.
 */
const receive = async (c: Context<AppEnv>, kind?: Kind) => {
  const raw = await c.req.text();
  const route = c.req.path;
  // A repeat of a callback this isolate saw recorded: answered without parsing or a round trip.
  const received = receivedKey(route, await sha256Hex(raw));
  const known = duplicateTally.recall(received);
  if (known) {
    await verifySignature(c, known.taskId);
    duplicateTally.count(c.env, (promise) => keepAlive(c, promise), known);
    return answer(c, known.taskId, true, known.recognized);
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const cfg = c.get("config");
  let taskId: string;
  try {
    taskId = taskIdOf(body);
  } catch (error) {
    // The kie.ai signature covers the task id: with HMAC on, a body without one fails here (401).
    const candidate = findTaskId(body);
    await verifySignature(c, typeof candidate === "string" ? candidate : "");
    await quarantine(c.env.MEDIA, raw, route);
    throw error;
  }
  await verifySignature(c, taskId);
  let update: ParsedCallback;
  try {
    update = parseCallback(body, {
      expected: kind,
      salvage: { allow: (url) => mayDownload(url, cfg), limit: cfg.maxAssetsPerTask },
    });
  } catch (error) {
    await quarantine(c.env.MEDIA, raw, route);
    throw error;
  }
  const limit = cfg.maxAssetsPerTask;
  const files = new Set(update.assets.map((asset) => asset.name)).size;
  if (update.recognized && files > limit) {
    await quarantine(c.env.MEDIA, raw, route);
    throw tooManyAssets(taskId, files, limit);
  }
  const hash = await sha256Hex(JSON.stringify(body));
  // Where the callback arrived is the base of the links in the task's events (unless PUBLIC_URL).
  const origin = new URL(c.req.url).origin;
  const result = await taskStub(c.env, taskId).receiveCallback({ ...update, hash, raw, route }, origin);
  if (result.outcome === "too_many_assets") {
    await quarantine(c.env.MEDIA, raw, route);
    throw tooManyAssets(taskId, result.total, result.limit);
  }
  if (result.outcome === "deleted") {
    // Answered like a duplicate, so the provider stops; nothing is recorded or downloaded.
    log.info("callback_ignored", { taskId, reason: "task_deleted" });
    return c.json({ status: "received", taskId, duplicate: true });
  }
  if (result.outcome === "kind_conflict") {
    // Refused, as before (the task is of another kind), but kept: nothing authenticated is lost.
    await quarantine(c.env.MEDIA, raw, route);
    const named = update.recognized ? update.kind : "unknown";
    throw new ApiError(400, "invalid_payload", `task ${taskId} is a ${result.kind} task, not ${named}`);
  }
  duplicateTally.remember(received, { taskId, hash, recognized: update.recognized });
  return answer(c, taskId, result.duplicate, update.recognized);
};

/** The 200: `recognized` is only said when it is false (a recognised callback's answer is as before). */
const answer = (c: Context<AppEnv>, taskId: string, duplicate: boolean, recognized: boolean) =>
  c.json({ status: "received", taskId, duplicate, ...(recognized ? {} : { recognized: false }) });

/** Keeps the isolate alive for `promise` after the answer (app.request without a context: it just runs). */
function keepAlive(c: Context<AppEnv>, promise: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(promise);
  } catch {
    // No ExecutionContext: nothing ends the isolate under it either.
  }
}

/** Whether a salvaged URL may be archived: the consumer's own URL policy (MEDIA_HOSTS, https). */
function mayDownload(url: string, cfg: Config): boolean {
  try {
    checkMediaUrl(url, cfg);
    return true;
  } catch {
    return false;
  }
}

callbacks.post("/", (c) => receive(c));
callbacks.post(`/:kind{${KINDS.join("|")}}`, (c) => receive(c, c.req.param("kind") as Kind));
