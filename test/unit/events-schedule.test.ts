import { describe, expect, it } from "vitest";
import {
  MAX_ATTEMPTS,
  MAX_QUEUE_DELAY_SECONDS,
  parseRetryAfter,
  RETRY_DELAYS_SECONDS,
  retryDelaySeconds,
} from "../../src/tasks/event-schedule";

const HOUR = 3600;

describe("the events retry schedule", () => {
  it("is Svix's: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts", () => {
    expect(RETRY_DELAYS_SECONDS).toEqual([5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
    expect(MAX_ATTEMPTS).toBe(8);
  });

  it("spans at least 24 hours even with the least jitter, and no delay exceeds a queue's 12 hours", () => {
    const least = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelaySeconds(i + 1, null, () => 0));
    const most = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) =>
      retryDelaySeconds(i + 1, null, () => 0.9999),
    );
    expect(least.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(24 * HOUR);
    expect(Math.max(...most)).toBeLessThanOrEqual(MAX_QUEUE_DELAY_SECONDS);
    expect(MAX_QUEUE_DELAY_SECONDS).toBe(12 * HOUR);
  });

  it("adds up to 20 % jitter, never less than the schedule", () => {
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      const base = RETRY_DELAYS_SECONDS[attempt - 1] as number;
      for (const r of [0, 0.25, 0.5, 0.99]) {
        const delay = retryDelaySeconds(attempt, null, () => r);
        expect(delay).toBeGreaterThanOrEqual(base);
        expect(delay).toBeLessThanOrEqual(Math.round(base * 1.2));
      }
    }
    const spread = new Set(Array.from({ length: 50 }, () => retryDelaySeconds(4)));
    expect(spread.size).toBeGreaterThan(10);
  });

  it("honours Retry-After when it asks for longer, up to the queue's limit; a shorter one does not hurry it", () => {
    expect(retryDelaySeconds(1, 120, () => 0)).toBe(120);
    expect(retryDelaySeconds(1, 2, () => 0)).toBe(5);
    expect(retryDelaySeconds(3, 60, () => 0)).toBe(1800);
    expect(retryDelaySeconds(1, 7 * 24 * HOUR, () => 0)).toBe(12 * HOUR);
    // Past the end of the schedule the last delay repeats.
    expect(retryDelaySeconds(20, null, () => 0)).toBe(10 * HOUR);
  });

  it("reads Retry-After as delta-seconds or an HTTP date", () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Mon, 30 Nov 2026 12:05:00 GMT", now)).toBe(300);
    expect(parseRetryAfter("Mon, 30 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
