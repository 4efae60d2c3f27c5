import type { z } from "zod";
import { log } from "./log";

/**
 * The body of a queue message as `schema` says it must be, or null when it is not: such a
 * message can never succeed, so it is logged (as `event`, with the issues but not the body) and
 * acknowledged rather than retried into a dead-letter queue.
 */
export function parseMessage<T>(message: Message<unknown>, schema: z.ZodType<T>, event: string): T | null {
  const parsed = schema.safeParse(message.body);
  if (parsed.success) return parsed.data;
  log.info(event, { messageId: message.id, issues: parsed.error.issues.map((issue) => issue.message) });
  message.ack();
  return null;
}
