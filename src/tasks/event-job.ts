import { z } from "zod";
import { TaskId } from "../core/ids";

/** An event id: `evt_` and 32 hex digits (no `.`, which Standard Webhooks' signed content forbids). */
export const EventId = z.string().regex(/^evt_[0-9a-f]{32}$/, "must be an event id (evt_ and 32 hex digits)");

/**
 * One `stemvault-events` queue message: which event of which task to deliver. The payload lives in
 * the task's Durable Object; `message` numbers the event's messages, so that one the object has
 * since replaced (a redelivery, or a re-send of a message that seemed lost) is recognised as stale.
 */
export const EventJob = z.object({
  taskId: TaskId,
  eventId: EventId,
  message: z.number().int().positive(),
});
export type EventJob = z.infer<typeof EventJob>;

export type EventType = "task.archived" | "task.failed" | "callback.unrecognized";

/** What the consumer needs for one attempt, handed out by the task's object. */
export type EventAttempt =
  | {
      status: "attempt";
      taskId: string;
      event: { id: string; type: EventType; createdAt: number; data: string };
      /** Where the task's callbacks arrived (the base of links when PUBLIC_URL is unset). */
      origin: string | null;
    }
  /** Nothing to send: delivered or failed already, superseded, or unknown. */
  | { status: "skip"; reason: string }
  /** Another attempt of the same event is under way: come back when its lease could have ended. */
  | { status: "busy"; retryAfterMs: number };

/** One attempt's outcome, as the consumer reports it to the task's object. */
export interface AttemptReport {
  outcome: "delivered" | "failed" | "retry";
  /** The endpoint's HTTP status; null when there was no response (timeout, network). */
  status: number | null;
  error: string | null;
  /** For `retry`: when the queue redelivers the message. */
  retryInMs?: number;
  /** The queue's delivery count of this message (1 on the first attempt). */
  messageAttempts: number;
}
