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

/**
 * What a callback, a registration or an R2 prefix can name: the kinds of work the providers do.
 * Every music-family operation (generate, extend, upload-cover, add-vocals, …) is `music`.
 */
export const KINDS = ["music", "separation", "video", "wav", "cover", "lyrics", "midi"] as const;
export const Kind = z.enum(KINDS);
export type Kind = z.infer<typeof Kind>;

/**
 * A task's kind: one of the kinds above, or `unknown` while every callback it received was of a
 * shape stemvault does not know (its raw bodies kept, its URLs salvaged). Separate from `Kind`
 * because nothing names `unknown` from outside: no callback route, no registration.
 */
export const TaskKind = z.enum([...KINDS, "unknown"]);
export type TaskKind = z.infer<typeof TaskKind>;
