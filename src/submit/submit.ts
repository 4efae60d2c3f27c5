import type { Config } from "../core/config";
import { sha256Hex } from "../core/crypto";
import { Kind } from "../core/ids";
import { log } from "../core/log";
import {
  acceptedTaskId,
  callbackUrl,
  jobKind,
  requestFields,
  type SubmitEndpoint,
} from "../providers/submit-endpoints";
import { taskStub } from "../tasks/stub";
import { forwardToProvider } from "./forward";
import { type PendingRegistration, type RecordedAnswer, timeoutAnswer } from "./submission-object";

export type SubmitResult =
  | { outcome: "answer"; answer: RecordedAnswer; replay: boolean }
  | { outcome: "reused" }
  | { outcome: "in_flight" };

export interface Submission {
  entry: SubmitEndpoint;
  /** The provider's own JSON body, as the user sent it. */
  body: Record<string, unknown>;
  /** The raw body text: what the key's fingerprint is taken of. */
  raw: string;
  /** The Idempotency-Key, already validated; null: none (no dedupe). */
  key: string | null;
  /** The origin the request arrived at (callback URL and links, unless PUBLIC_URL is set). */
  origin: string;
}

/**
 * The kind a task of this job is registered as: the job's kind when the task model knows it;
 * a Market job of an unmapped model as `unknown` once the model has that kind. null: the
 * task is not registered (its callbacks still create it).
 */
function registrableKind(kind: string | null): Kind | null {
  const parsed = Kind.safeParse(kind ?? "unknown");
  return parsed.success ? parsed.data : null;
}

const jsonAnswer = (status: number, code: string, message: string): RecordedAnswer => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ error: { code, message } }),
  taskId: null,
});

/**
 * Submits a job through stemvault: the key's record first (so a second request with the key
 * never reaches the provider), the callback field set to this receiver, the provider called
 * once, its answer recorded with the registration it owes, the task registered — all before
 * the caller answers. A registration that fails here is re-driven by the submission object's
 * alarm; the answer carries the task id regardless.
 */
export async function submitJob(env: Env, cfg: Config, submission: Submission): Promise<SubmitResult> {
  const { entry, key } = submission;
  const stub = key
    ? env.SUBMISSIONS.getByName(`key:${key}`)
    : env.SUBMISSIONS.get(env.SUBMISSIONS.newUniqueId());
  const fingerprint = await sha256Hex(`POST ${entry.path}\n${submission.raw}`);
  const begun = await stub.begin(fingerprint, cfg.submitTimeoutMs);
  if (begun.outcome === "reused" || begun.outcome === "in_flight") return { outcome: begun.outcome };
  if (begun.outcome === "replay") return { outcome: "answer", answer: begun.answer, replay: true };

  const kind = jobKind(entry, submission.body);
  const base = cfg.publicUrl ?? submission.origin;
  const forwarded = {
    ...submission.body,
    [entry.callbackField]: callbackUrl(base, kind, cfg.callbackTokens[0] ?? null),
  };
  const outcome = await forwardToProvider({
    base: cfg.providerApiBase,
    path: entry.path,
    apiKey: cfg.providerApiKey ?? "",
    body: JSON.stringify(forwarded),
    timeoutMs: cfg.submitTimeoutMs,
  });

  let answer: RecordedAnswer;
  if (outcome.outcome === "timeout") answer = timeoutAnswer(cfg.submitTimeoutMs);
  else if (outcome.outcome === "unreachable")
    answer = jsonAnswer(502, "provider_unreachable", `the provider could not be reached: ${outcome.message}`);
  else
    answer = {
      status: outcome.status,
      headers: outcome.headers,
      body: outcome.body,
      taskId: acceptedTaskId(outcome.status, outcome.json),
    };

  const registerAs = answer.taskId ? registrableKind(kind) : null;
  const registration: PendingRegistration | null =
    answer.taskId && registerAs
      ? {
          taskId: answer.taskId,
          kind: registerAs,
          request: JSON.stringify(requestFields(submission.body)),
          origin: base,
        }
      : null;
  try {
    await stub.finish(
      begun.attempt,
      answer,
      outcome.outcome === "timeout" ? "timeout" : "done",
      registration,
    );
  } catch (error) {
    // The provider's answer is known, only its record failed: the key then reads as in flight
    // and, after the timeout, as unknowable — never as free to submit again.
    log.error("submission_record_failed", { path: entry.path, error });
  }
  if (registration) await registerNow(env, stub, registration);
  return { outcome: "answer", answer, replay: false };
}

/** The first try of the registration; a failure is left to the submission object's alarm. */
async function registerNow(
  env: Env,
  stub: DurableObjectStub<import("./submission-object").SubmissionObject>,
  registration: PendingRegistration,
): Promise<void> {
  try {
    await taskStub(env, registration.taskId).register(
      registration.taskId,
      registration.kind,
      registration.origin,
      {
        via: "submit",
        request: registration.request,
      },
    );
    await stub.registered(registration.taskId);
  } catch (error) {
    log.warn("submission_register_deferred", { taskId: registration.taskId, error });
  }
}
