import { layOutBundle } from "../bundles/plan";
import { config } from "../core/config";
import type { TaskKind } from "../core/ids";
import { mediaKey } from "../core/keys";
import { log } from "../core/log";
import { parseMessage } from "../core/queue-message";
import { HEARTBEAT_MS } from "../tasks/claims";
import { MediaJob } from "../tasks/media-job";
import type { TaskStatus } from "../tasks/status";
import { taskStub } from "../tasks/stub";
import { LeaseLostError, PermanentError } from "./errors";
import { openMedia } from "./fetch-media";
import { Heartbeat } from "./heartbeat";
import { writeMadeFile } from "./made-files";
import { writeMedia } from "./r2-writer";
import { SNIFF_BYTES, sniffMedia } from "./sniff-media";

const MAX_BACKOFF_SECONDS = 15 * 60;

/**
 * Delay before redelivering a message after its `attempts`-th transient failure: exponential
 * from RETRY_BASE_SECONDS, capped at 15 minutes, with full jitter on the upper half so that a
 * burst of failures against one host does not come back in lockstep.
 */
export function backoffSeconds(attempts: number, baseSeconds: number, random = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_SECONDS, baseSeconds * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

const isDeadLetterQueue = (queue: string) => queue.endsWith("-dlq");

/** The queue handler for both `stemvault-media` and its dead-letter queue. */
export async function handleMediaBatch(
  batch: MessageBatch<unknown>,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  const handle = isDeadLetterQueue(batch.queue) ? deadLetter : archive;
  await Promise.all(batch.messages.map((message) => handle(message, env)));
}

/**
 * Archives one asset: claim it from its task (so that no other delivery downloads it at the
 * same time, and a stored asset is never fetched again), stream it into R2 while renewing the
 * claim's lease, report back. A permanent failure of a music URL moves on to its `source_*`
 * twin once. A message is acknowledged only when its work is done or can never be done.
 */
async function archive(message: Message<unknown>, env: Env): Promise<void> {
  const job = parseMessage(message, MediaJob, "media_job_malformed");
  if (!job) return;
  const cfg = config(env);
  if (cfg.problems.length > 0) {
    // Malformed settings (a size limit, the host list) must not decide a download: wait.
    retryLater(
      message,
      job,
      `settings are malformed: ${cfg.problems.join("; ")}`,
      backoffSeconds(message.attempts, 60),
    );
    return;
  }
  const task = taskStub(env, job.taskId);
  const claim = await task.claim(job.asset);
  if (claim.status === "retry") {
    retryLater(message, job, claim.reason, backoffSeconds(message.attempts, cfg.retryBaseSeconds));
    return;
  }
  if (claim.status === "busy") {
    // Another consumer holds a live lease: come back when it could have ended, in case it dies.
    retryLater(message, job, "another consumer is downloading it", Math.ceil(claim.retryAfterMs / 1000));
    return;
  }
  if (claim.status !== "claimed") {
    log.info("media_job_skipped", { taskId: job.taskId, asset: job.asset, reason: claim.status });
    message.ack();
    return;
  }
  const { claimId } = claim;
  const heartbeat = new Heartbeat(() => task.renewLease(job.asset, claimId), HEARTBEAT_MS);
  let url = claim.url;
  for (;;) {
    try {
      const stored =
        claim.content !== null
          ? await writeMadeFile(env.MEDIA, job.taskId, job.asset, claim.content)
          : await download(env, claim.kind, job, url, heartbeat);
      const { accepted, archived } = await task.assetStored(job.asset, claimId, stored);
      log.info(accepted ? "media_stored" : "media_claim_lost", {
        taskId: job.taskId,
        asset: job.asset,
        bytes: stored.bytes,
      });
      message.ack();
      if (archived) await layOutArchivedBundle(env, task, archived);
      return;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof LeaseLostError) {
        log.warn("media_claim_lost", { taskId: job.taskId, asset: job.asset, error: reason });
        message.ack(); // the claim that took the lease owns the asset now
        return;
      }
      if (error instanceof PermanentError) {
        const { retryUrl } = await task.assetFailed(job.asset, claimId, reason);
        if (retryUrl) {
          url = retryUrl;
          continue;
        }
        log.info("media_failed", { taskId: job.taskId, asset: job.asset, error: reason });
        message.ack();
        return;
      }
      const delaySeconds = backoffSeconds(message.attempts, cfg.retryBaseSeconds);
      // The task records when the message is due again, so a lost redelivery is noticed.
      await task.assetRetrying(job.asset, claimId, reason, delaySeconds * 1000);
      retryLater(message, job, reason, delaySeconds);
      return;
    }
  }
}

/**
 * The stored file archived its task: a large task's bundle is laid out now (once), so that its
 * first download does not (see layOutBundle). The file is already acked: a failure here costs only that.
 */
async function layOutArchivedBundle(
  env: Env,
  task: ReturnType<typeof taskStub>,
  status: TaskStatus,
): Promise<void> {
  try {
    await layOutBundle(env.MEDIA, task, status);
  } catch (error) {
    log.warn("bundle_layout_failed", { taskId: status.taskId, error });
  }
}

/** Redelivers the message after `delaySeconds`; past max_retries the queue moves it to the DLQ. */
function retryLater(message: Message<unknown>, job: MediaJob, error: string, delaySeconds: number): void {
  log.info("media_retry", {
    taskId: job.taskId,
    asset: job.asset,
    attempt: message.attempts,
    delaySeconds,
    error,
  });
  message.retry({ delaySeconds });
}

/**
 * Downloads `url` into the archive under the claim's lease. The file's first bytes decide what it
 * is (and so its key's extension) before anything is written to R2; what is not media is refused
 * permanently.
 */
async function download(env: Env, kind: TaskKind, job: MediaJob, url: string, heartbeat: Heartbeat) {
  const cfg = config(env);
  const opened = await openMedia(url, cfg, cfg.mediaFetchTimeoutMs);
  return writeMedia({
    bucket: env.MEDIA,
    place: async (head) => {
      const { contentType, ext } = await sniffMedia(head, opened.response.headers.get("content-type"));
      return { key: mediaKey(kind, job.taskId, job.asset, ext), contentType };
    },
    headBytes: SNIFF_BYTES,
    body: opened.response.body,
    contentLength: opened.contentLength,
    maxBytes: cfg.maxMediaBytes,
    partSize: cfg.partSizeBytes,
    idleTimeoutMs: cfg.mediaIdleTimeoutSeconds * 1000,
    metadata: { taskId: job.taskId, asset: job.asset, sourceUrl: url },
    heartbeat,
  });
}

/** Messages that exhausted their retries: the asset is failed with the last error, never dropped. */
async function deadLetter(message: Message<unknown>, env: Env): Promise<void> {
  const job = parseMessage(message, MediaJob, "media_job_malformed");
  if (!job) return;
  await taskStub(env, job.taskId).assetDeadLettered(job.asset);
  log.info("media_dead_lettered", { taskId: job.taskId, asset: job.asset });
  message.ack();
}
