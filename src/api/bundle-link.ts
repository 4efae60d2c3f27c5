import { planBundle, stored } from "../bundles/plan";
import type { Config } from "../core/config";
import { log } from "../core/log";
import type { TaskStatus } from "../tasks/status";
import { signBundleLink } from "./media-links";

/**
 * The status JSON's `bundle`: its signed link and its length, once a file is stored. Left out
 * (and logged) when R2 cannot be read for the manifest: the status itself must not fail on it.
 */
export async function bundleLink(
  bucket: R2Bucket,
  cfg: Config,
  status: TaskStatus,
): Promise<{ url: string; bytes: number } | null> {
  if (!status.assets.some(stored)) return null;
  const url = await signBundleLink(cfg, status.taskId, Math.floor(Date.now() / 1000));
  if (!url) return null;
  try {
    return { url, bytes: (await planBundle(bucket, status)).length };
  } catch (error) {
    log.warn("bundle_plan_failed", { taskId: status.taskId, error });
    return null;
  }
}
