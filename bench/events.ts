// Event latency: from the moment a task settled (its last file stored; the event's `timestamp`,
// taken by the task's Durable Object in the same transaction) until a local endpoint answered the
// event (tools/events-endpoint.ts, verifying each with the standardwebhooks library). Measured
// during the time-to-archive section, whose dev server gets EVENTS_URL pointing at the endpoint.

import type { ReceivedEvent } from "../tools/events-endpoint.ts";
import { sleep } from "./receiver.ts";

export interface EventLatency {
  /** Tasks that should have sent an event. */
  expected: number;
  /** ms from settled to answered, one per received event (first delivery of each). */
  times: number[];
  /** Events that did not verify. */
  unverified: number;
}

/** Waits (up to `timeoutMs`) for an event of every task whose id starts with `prefix`. */
export async function eventLatency(
  received: readonly ReceivedEvent[],
  prefix: string,
  expected: number,
  timeoutMs: number,
): Promise<EventLatency> {
  const deadline = performance.now() + timeoutMs;
  const mine = () => received.filter((event) => event.taskId.startsWith(prefix) && !event.duplicate);
  while (mine().length < expected && performance.now() < deadline) await sleep(100);
  const events = mine();
  return {
    expected,
    times: events.map((event) => event.at - event.settledAt),
    unverified: events.filter((event) => !event.verified).length,
  };
}
