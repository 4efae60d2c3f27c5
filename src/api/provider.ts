import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../core/app-env";
import { sourceChecks } from "../core/config";
import { ApiError } from "../core/errors";
import { readLimitedText } from "../core/limited-text";
import { SUBMIT_ENDPOINTS, type SubmitEndpoint } from "../providers/submit-endpoints";
import type { RecordedAnswer } from "../submit/submission-object";
import { submitJob } from "../submit/submit";
import { requireBearer } from "./auth";
import { validationHook } from "./validation";

/**
 * `POST /provider/<path>`: the providers' submit endpoints passed through (the closed list of
 * submit-endpoints.ts, one route each; any other path is the app's 404). The body is the
 * provider's own; the answer is the provider's, plus the task's id and status URL when it
 * accepted the job.
 */
export const provider = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

/** Bodies are a few hundred bytes of JSON; this bounds what is read (lyrics included). */
export const MAX_SUBMIT_BYTES = 256 * 1024;
/** RFC-style visible ASCII, 1–255 characters (as Stripe's Idempotency-Key). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

for (const entry of SUBMIT_ENDPOINTS) {
  provider.post(entry.path, requireBearer, (c) => submit(c, entry));
}

async function submit(c: Context<AppEnv>, entry: SubmitEndpoint): Promise<Response> {
  const cfg = c.get("config");
  if (!cfg.providerApiKey) {
    throw new ApiError(
      503,
      "provider_not_configured",
      "PROVIDER_API_KEY is not set: nothing can be submitted",
    );
  }
  if (sourceChecks(cfg).length === 0) {
    throw new ApiError(
      503,
      "receiver_not_configured",
      "no source check is configured, so the job's callbacks would be refused",
    );
  }
  const key = c.req.header("idempotency-key") ?? null;
  if (key !== null && !IDEMPOTENCY_KEY.test(key)) {
    throw new ApiError(
      400,
      "invalid_idempotency_key",
      "Idempotency-Key must be 1-255 visible ASCII characters (%x21-7E)",
    );
  }
  const raw = await readBody(c);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new ApiError(400, "invalid_payload", "the body must be the provider's JSON object", [
      { path: "", message: "expected an object" },
    ]);
  }
  const result = await submitJob(c.env, cfg, {
    entry,
    body: body as Record<string, unknown>,
    raw,
    key,
    origin: new URL(c.req.url).origin,
  });
  if (result.outcome === "reused") {
    throw new ApiError(
      422,
      "idempotency_key_reused",
      "this Idempotency-Key was used with another request; use a new key for a new job",
    );
  }
  if (result.outcome === "in_flight") {
    throw new ApiError(
      409,
      "idempotency_in_flight",
      "a request with this Idempotency-Key is still waiting for the provider; retry in a moment",
    );
  }
  return answer(result.answer, result.replay);
}

/** The body as text, refusing more than MAX_SUBMIT_BYTES without reading it all. */
async function readBody(c: Context<AppEnv>): Promise<string> {
  const declared = Number(c.req.header("content-length") ?? "0");
  const tooLarge = () =>
    new ApiError(413, "payload_too_large", `the body is larger than ${MAX_SUBMIT_BYTES} bytes`);
  if (declared > MAX_SUBMIT_BYTES) throw tooLarge();
  const { text, overflow } = await readLimitedText(c.req.raw.body, MAX_SUBMIT_BYTES);
  if (overflow) throw tooLarge();
  return text;
}

/** The recorded answer as a response: the provider's status and body, and stemvault's headers. */
function answer(recorded: RecordedAnswer, replay: boolean): Response {
  const headers = new Headers(recorded.headers);
  if (recorded.taskId) {
    headers.set("stemvault-task-id", recorded.taskId);
    headers.set("location", `/tasks/${recorded.taskId}`);
  }
  if (replay) headers.set("stemvault-idempotent-replay", "true");
  const empty = [204, 205, 304].includes(recorded.status);
  return new Response(empty ? null : recorded.body, { status: recorded.status, headers });
}
