import type { Hook } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { AppEnv } from "../core/app-env";
import { ApiError } from "../core/errors";

/** The contract's error code for a request part that does not validate. */
const CODES: Record<string, { code: string; message: string }> = {
  json: { code: "invalid_payload", message: "the request body is not valid" },
  query: { code: "invalid_query", message: "a query parameter is not valid" },
  param: { code: "invalid_task_id", message: "a task id is 1-128 characters of [A-Za-z0-9_-]" },
};

/** Each issue with the field it concerns; an unknown parameter is named as the field. */
export const issuesOf = (error: ZodError) =>
  error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: [...issue.path, key].join("."), message: "unknown parameter" }))
      : [{ path: issue.path.join("."), message: issue.message }],
  );

/**
 * The one place a request that fails validation becomes an answer: a 400 with the contract's
 * error JSON and `issues` naming each offending field.
 */
// biome-ignore lint/suspicious/noExplicitAny: the hook serves every route's input type
export const validationHook: Hook<any, AppEnv, any, any> = (result) => {
  if (result.success) return;
  const { code, message } = CODES[result.target] ?? { code: "invalid_request", message: "invalid request" };
  throw new ApiError(400, code, message, issuesOf(result.error as ZodError));
};
