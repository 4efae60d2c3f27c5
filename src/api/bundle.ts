import { Hono } from "hono";
import { type BundlePlan, planBundle, streamBundle } from "../bundles/plan";
import type { AppEnv } from "../core/app-env";
import { ApiError, unauthorized } from "../core/errors";
import { TaskId } from "../core/ids";
import { log } from "../core/log";
import { taskStub } from "../tasks/stub";
import { hasBearer } from "./auth";
import { archiveSecurity, matchesIfNoneMatch } from "./media";
import { bundlePath, verifyMediaLink } from "./media-links";
import { missingTask } from "./tasks";

/** `GET`/`HEAD /tasks/:taskId/bundle.zip`: every stored file of a task and its manifest, as one ZIP. */
export const bundle = new Hono<AppEnv>();

const PATH = "/:taskId/bundle.zip";

// A ZIP of the archive is archive content: the same headers as /media, on every answer.
bundle.use(PATH, archiveSecurity);

/** At most this many missing names in the 409's message; `issues` names them all. */
const NAMED_IN_MESSAGE = 10;

function notArchived(taskId: string, plan: BundlePlan): ApiError {
  const names = plan.missing.map((asset) => asset.name);
  const listed = names.slice(0, NAMED_IN_MESSAGE).join(", ");
  const more = names.length > NAMED_IN_MESSAGE ? ` and ${names.length - NAMED_IN_MESSAGE} more` : "";
  const what = names.length > 0 ? `missing ${listed}${more}` : "the task is not finished yet";
  return new ApiError(
    409,
    "not_archived",
    `task ${taskId} is not fully archived (${what}); ?partial=true gives the files stored so far`,
    plan.missing.map((asset) => ({
      path: asset.name,
      message: asset.error ? `${asset.state}: ${asset.error}` : asset.state,
    })),
  );
}

function parseRequest(taskIdParam: string, partialParam: string | undefined) {
  const taskId = TaskId.safeParse(taskIdParam);
  if (!taskId.success) {
    throw new ApiError(400, "invalid_task_id", "a task id is 1-128 characters of [A-Za-z0-9_-]", [
      { path: "taskId", message: taskId.error.issues[0]?.message ?? "invalid" },
    ]);
  }
  if (partialParam !== undefined && partialParam !== "true" && partialParam !== "false") {
    throw new ApiError(400, "invalid_query", "a query parameter is not valid", [
      { path: "partial", message: "must be true or false" },
    ]);
  }
  return { taskId: taskId.data, partial: partialParam === "true" };
}

bundle.on(["GET", "HEAD"], PATH, async (c) => {
  const { taskId, partial } = parseRequest(c.req.param("taskId"), c.req.query("partial"));

  if (!(await hasBearer(c))) {
    const verdict = await verifyMediaLink(
      c.get("config"),
      bundlePath(taskId),
      c.req.query("expires"),
      c.req.query("sig"),
      Math.floor(Date.now() / 1000),
    );
    if (verdict !== "ok") {
      log.warn("bundle_link_rejected", { reason: verdict });
      throw unauthorized();
    }
  }

  const task = taskStub(c.env, taskId);
  const status = await task.status();
  if (!status) throw await missingTask(c.env, taskId);
  const plan = await planBundle(c.env.MEDIA, status);
  if (!plan.complete && !partial) throw notArchived(taskId, plan);

  const headers = new Headers({
    "content-type": "application/zip",
    "content-disposition": `attachment; filename="${taskId}.zip"`,
    etag: plan.etag,
    // The set of files can change (a retry, a newer URL): revalidate with If-None-Match.
    "cache-control": "private, no-cache",
  });
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch && matchesIfNoneMatch(ifNoneMatch, plan.etag)) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-length", String(plan.length));
  if (c.req.method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(streamBundle(c.env.MEDIA, task, taskId, plan), { status: 200, headers });
});
