import { z } from "zod";
import { TaskId } from "../core/ids";

/**
 * One queue message per media file. It names the asset only; the URL, kind and state live in
 * the task's Durable Object, which the consumer asks when it claims the asset.
 */
export const MediaJob = z.object({
  taskId: TaskId,
  // A salvaged URL's asset is `file:<path name>` (see providers/salvage.ts).
  asset: z.string().regex(/^(?:file:[A-Za-z0-9_-]{1,128}|[A-Za-z0-9_-]{1,128}(?:\/(?:audio|cover))?)$/),
});
export type MediaJob = z.infer<typeof MediaJob>;
