import { z } from "zod";

/**
 * A task id becomes part of R2 keys and Durable Object names, so it is restricted to
 * 1–128 characters of [A-Za-z0-9_-]: no separators, no dots, nothing to escape.
 */
export const TaskId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'");
export type TaskId = z.infer<typeof TaskId>;

/** Track ids and stem names become key segments too; same alphabet. */
export const KeySegment = TaskId;

export const Kind = z.enum(["music", "separation", "video"]);
export type Kind = z.infer<typeof Kind>;
