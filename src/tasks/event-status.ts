import { z } from "@hono/zod-openapi";
import type { EventRow } from "./rows";

const Iso = z.iso.datetime().openapi({ example: "2026-11-30T12:00:00.000Z" });

/** One outbound event of a task, as the status JSON lists it (`events[]`). */
export const EventStatus = z
  .object({
    /** The `webhook-id` of every attempt of this event. */
    id: z.string().openapi({ example: "evt_3f0c6d0e8b9a4c1d9e2f3a4b5c6d7e8f" }),
    type: z.enum(["task.archived", "task.failed", "callback.unrecognized"]),
    state: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    /** The endpoint's HTTP status on the last attempt; null when it gave none (timeout, network). */
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: Iso,
    deliveredAt: Iso.nullable(),
    /** While pending: when the next attempt is due. */
    nextAttemptAt: Iso.nullable(),
  })
  .openapi("EventStatus");
export type EventStatus = z.infer<typeof EventStatus>;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function eventStatus(row: EventRow): EventStatus {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: new Date(row.created_at).toISOString(),
    deliveredAt: iso(row.delivered_at),
    nextAttemptAt: row.state === "pending" && row.sent ? iso(row.next_attempt_at) : null,
  };
}
