import type { RecordInfo } from "../providers/record-info";

const MINUTE = 60_000;
/** Pauses between polls of a silent task: about 1, 2, 5, 10, 30 minutes, then hourly. */
export const POLL_STEPS_MS = [1, 2, 5, 10, 30, 60].map((minutes) => minutes * MINUTE);
/** A task still without a final result this long after its first poll is given up as failed. */
export const GIVE_UP_AFTER_MS = 24 * 60 * MINUTE;

/**
 * When to poll again after the `attempts`-th poll. A rejected key waits the longest step: it
 * will not fix itself within minutes, and hammering the provider helps nobody.
 */
export function nextPollDelay(attempts: number, outcome: RecordInfo["outcome"]): number {
  const longest = POLL_STEPS_MS[POLL_STEPS_MS.length - 1] as number;
  if (outcome === "unauthorized") return longest;
  return POLL_STEPS_MS[Math.min(Math.max(attempts - 1, 0), POLL_STEPS_MS.length - 1)] ?? longest;
}
