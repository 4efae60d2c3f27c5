import { signMediaLink } from "../api/media-links";
import type { Config } from "../core/config";
import type { EventAttempt } from "../tasks/event-job";
import { parseRetryAfter } from "../tasks/event-schedule";
import type { TaskStatus } from "../tasks/status";

/** An attempt is delivered when the endpoint answers 2xx within this long. */
export const ATTEMPT_TIMEOUT_MS = 15_000;

export type EventPayload = {
  type: "task.archived" | "task.failed" | "callback.unrecognized";
  /** When the task settled (ISO-8601); the same on every attempt. */
  timestamp: string;
  /** The task's status JSON as it settled, with absolute signed links to the stored assets. */
  data: Omit<TaskStatus, "events">;
};

/**
 * The body of one attempt: the event as recorded, with every stored asset's `url` an absolute,
 * freshly signed `/media/...` link (valid MEDIA_LINK_TTL_SECONDS from this attempt), based on
 * PUBLIC_URL or else the origin the task's callbacks arrived at.
 */
export async function eventBody(
  cfg: Config,
  attempt: Extract<EventAttempt, { status: "attempt" }>,
  nowMs: number,
): Promise<string> {
  const data = JSON.parse(attempt.event.data) as EventPayload["data"];
  const base = cfg.publicUrl ?? attempt.origin ?? "";
  const nowSeconds = Math.floor(nowMs / 1000);
  data.assets = await Promise.all(
    data.assets.map(async (asset) => {
      const link =
        asset.state === "stored" && asset.key ? await signMediaLink(cfg, asset.key, nowSeconds) : null;
      return { ...asset, url: link === null ? null : `${base}${link}` };
    }),
  );
  const payload: EventPayload = {
    type: attempt.event.type,
    timestamp: new Date(attempt.event.createdAt).toISOString(),
    data,
  };
  return JSON.stringify(payload);
}

export interface DeliveryResult {
  /** `delivered`: 2xx. `gone`: 410, stop. `retry`: anything else. */
  outcome: "delivered" | "gone" | "retry";
  /** The HTTP status; null without a response (timeout, refused, reset). */
  status: number | null;
  error: string | null;
  /** The response's Retry-After, in seconds. */
  retryAfterSeconds: number | null;
}

/**
 * POSTs one attempt. Redirects are never followed (a 3xx is a failure: the endpoint should be
 * updated instead), the response body is never read, and nothing here logs a header.
 */
export async function postEvent(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs = ATTEMPT_TIMEOUT_MS,
): Promise<DeliveryResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { ...headers, "user-agent": "stemvault-events/1" },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const reason =
      name === "TimeoutError" || name === "AbortError"
        ? `timeout: no answer within ${timeoutMs / 1000} s`
        : `network error: ${error instanceof Error ? error.message : String(error)}`;
    return { outcome: "retry", status: null, error: reason, retryAfterSeconds: null };
  }
  await response.body?.cancel().catch(() => {});
  const { status } = response;
  const retryAfterSeconds = parseRetryAfter(response.headers.get("retry-after"), Date.now());
  if (status >= 200 && status < 300) return { outcome: "delivered", status, error: null, retryAfterSeconds };
  const text = `${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (status === 410) {
    return {
      outcome: "gone",
      status,
      error: `${text}: the endpoint asked for no more events`,
      retryAfterSeconds,
    };
  }
  if (status >= 300 && status < 400) {
    return { outcome: "retry", status, error: `${text}: redirects are not followed`, retryAfterSeconds };
  }
  return { outcome: "retry", status, error: text, retryAfterSeconds };
}
