import { config } from "../core/config";
import { log } from "../core/log";
import { parseMessage } from "../core/queue-message";
import { EventJob } from "../tasks/event-job";
import { MAX_ATTEMPTS, retryDelaySeconds } from "../tasks/event-schedule";
import { taskStub } from "../tasks/stub";
import { eventBody, postEvent } from "./delivery";
import { signEvent } from "./signing";

export const EVENTS_QUEUE = "stemvault-events";
export const EVENTS_DLQ = "stemvault-events-dlq";

export const isEventsQueue = (queue: string) => queue === EVENTS_QUEUE || queue === EVENTS_DLQ;

/**
 * The queue handler of `stemvault-events` and its dead-letter queue. Each message is one attempt
 * to deliver one event to EVENTS_URL; the task's object decides whether it may be made (only the
 * event's newest message, only while it is pending) and learns its outcome.
 */
export async function handleEventsBatch(
  batch: MessageBatch<unknown>,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  const handle = batch.queue === EVENTS_DLQ ? deadLetter : deliver;
  await Promise.all(batch.messages.map((message) => handle(message, env)));
}

/** When the task's object cannot be reached: try the message again later (the schedule's pace). */
function retryUnreported(message: Message<unknown>, job: EventJob, error: unknown): void {
  const delaySeconds = retryDelaySeconds(message.attempts);
  log.error("event_report_failed", { taskId: job.taskId, eventId: job.eventId, delaySeconds, error });
  message.retry({ delaySeconds });
}

async function deliver(message: Message<unknown>, env: Env): Promise<void> {
  const job = parseMessage(message, EventJob, "event_job_malformed");
  if (!job) return;
  const cfg = config(env);
  const task = taskStub(env, job.taskId);
  const fields = { taskId: job.taskId, eventId: job.eventId, attempt: message.attempts };
  let attempt: Awaited<ReturnType<typeof task.beginEventAttempt>>;
  try {
    attempt = await task.beginEventAttempt(job.eventId, job.message);
  } catch (error) {
    retryUnreported(message, job, error);
    return;
  }
  if (attempt.status === "skip") {
    log.info("event_skipped", { ...fields, reason: attempt.reason });
    message.ack();
    return;
  }
  if (attempt.status === "busy") {
    message.retry({ delaySeconds: Math.ceil(attempt.retryAfterMs / 1000) });
    return;
  }

  const { events } = cfg;
  if (events.state !== "on" || !events.url) {
    // Never sent unsigned, nor to a refused URL: failed until the settings are fixed and it is redelivered.
    const reason = events.reason ?? "EVENTS_URL is not set";
    log.warn("event_not_sent", { ...fields, reason });
    try {
      await task.eventAttempted(job.eventId, job.message, {
        outcome: "failed",
        status: null,
        error: `events_not_configured: ${reason}`,
        messageAttempts: message.attempts,
      });
      message.ack();
    } catch (error) {
      retryUnreported(message, job, error);
    }
    return;
  }

  const now = Date.now();
  const body = await eventBody(cfg, attempt, now);
  const headers = await signEvent(attempt.event.id, Math.floor(now / 1000), body, events.keys);
  const result = await postEvent(events.url, { ...headers }, body);
  const final = message.attempts >= MAX_ATTEMPTS;
  const delaySeconds =
    result.outcome === "retry" ? retryDelaySeconds(message.attempts, result.retryAfterSeconds) : null;
  log.info("event_attempt", {
    ...fields,
    type: attempt.event.type,
    outcome: result.outcome,
    status: result.status,
    error: result.error,
    ...(delaySeconds === null ? {} : final ? { deadLetter: true } : { delaySeconds }),
  });
  try {
    await task.eventAttempted(job.eventId, job.message, {
      outcome: result.outcome === "delivered" ? "delivered" : result.outcome === "gone" ? "failed" : "retry",
      status: result.status,
      error: result.error,
      // After the final attempt the queue moves the message to the dead-letter queue at once.
      retryInMs: delaySeconds === null ? undefined : final ? 0 : delaySeconds * 1000,
      messageAttempts: message.attempts,
    });
  } catch (error) {
    // Unrecorded: the attempt is made again (same webhook-id, so the receiver can tell).
    retryUnreported(message, job, error);
    return;
  }
  if (delaySeconds === null) message.ack();
  else message.retry({ delaySeconds });
}

/** Messages that exhausted their retries: the event is failed with its last error, never dropped. */
async function deadLetter(message: Message<unknown>, env: Env): Promise<void> {
  const job = parseMessage(message, EventJob, "event_job_malformed");
  if (!job) return;
  try {
    await taskStub(env, job.taskId).eventDeadLettered(job.eventId, job.message);
  } catch (error) {
    retryUnreported(message, job, error);
    return;
  }
  log.info("event_dead_lettered", { taskId: job.taskId, eventId: job.eventId });
  message.ack();
}
