/**
 * When a failed event delivery is tried again: Svix's schedule (which Standard Webhooks
 * recommends in spirit): at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later — eight
 * attempts over about 27 h 40 min. Each delay gets up to +20 % jitter, so endpoints that failed
 * together are not hit again in lockstep; jitter only ever adds, so the window stays above 24 h.
 * A Cloudflare Queues delay is at most 12 hours, which bounds every delay (and Retry-After).
 *
 * The queue itself counts attempts: wrangler.toml's `max_retries` for `stemvault-events` must be
 * MAX_ATTEMPTS - 1 (= 7), so that the message of a failed eighth attempt moves to the dead-letter
 * queue, whose consumer marks the event failed.
 */
export const RETRY_DELAYS_SECONDS = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600] as const;
export const MAX_ATTEMPTS = RETRY_DELAYS_SECONDS.length + 1;
/** Cloudflare Queues: "Messages can be delayed by up to 12 hours." */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 3600;
const JITTER = 0.2;

/**
 * Seconds until the attempt after the `attempt`-th (1-based) failed one: the schedule's delay
 * plus jitter, but never sooner than the endpoint's `Retry-After` asked, and never beyond what a
 * queue can delay. Past the schedule's end the last delay repeats (the queue dead-letters first).
 */
export function retryDelaySeconds(
  attempt: number,
  retryAfterSeconds: number | null = null,
  random: () => number = Math.random,
): number {
  const index = Math.min(Math.max(attempt, 1), RETRY_DELAYS_SECONDS.length) - 1;
  const base = RETRY_DELAYS_SECONDS[index] as number;
  const scheduled = Math.round(base * (1 + JITTER * random()));
  return Math.min(Math.max(scheduled, retryAfterSeconds ?? 0), MAX_QUEUE_DELAY_SECONDS);
}

/**
 * A `Retry-After` header in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when
 * absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (!header) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  if (!/^[A-Za-z]{3}/.test(value)) return null; // every HTTP-date form starts with a day name
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}
