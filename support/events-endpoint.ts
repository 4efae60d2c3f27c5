// A local endpoint for stemvault's outbound events, built on the README's receiver
// (examples/receive-events.ts): every delivery is verified with the `standardwebhooks` library and
// recorded. Used by `npm run simulate` (on a fixed port, so `npm run dev` can be pointed at it)
// and by the e2e test.

import type { AddressInfo } from "node:net";
import { eventReceiver, serveEvents } from "../examples/receive-events.ts";

/** Where `npm run simulate` receives events, and the development secret both sides use. */
export const DEV_EVENTS_PORT = 8790;
/** whsec_ + base64 of 32 bytes; for local development only. */
export const DEV_EVENTS_SECRET = "whsec_c3RlbXZhdWx0LWxvY2FsLWRldi1ldmVudHMta2V5ISE=";

/** The `npm run dev` flags that send events to this endpoint. */
export const devEventsFlags = (port = DEV_EVENTS_PORT, secret = DEV_EVENTS_SECRET) =>
  `--var EVENTS_URL:http://127.0.0.1:${port}/events --var EVENTS_SECRET:${secret}`;

export interface ReceivedEvent {
  /** webhook-id */
  id: string;
  type: string;
  taskId: string;
  /** archive.state of the payload */
  archive: string;
  /** The assets' links (absolute, signed). */
  links: string[];
  /** The signature verified (with the endpoint's secret, by the standardwebhooks library). */
  verified: boolean;
  /** This webhook-id was handled before (a retry or a redelivery). */
  duplicate: boolean;
  /** What the endpoint answered. */
  status: number;
  /** When it answered (ms since epoch). */
  at: number;
  /** The payload's `timestamp`: when the task settled (its last file stored), ms since epoch. */
  settledAt: number;
}

export interface EventsEndpoint {
  url: string;
  port: number;
  received: ReceivedEvent[];
  close(): Promise<void>;
}

export async function startEventsEndpoint(
  options: { port?: number; secret?: string; onEvent?: (event: ReceivedEvent) => void } = {},
): Promise<EventsEndpoint> {
  const received: ReceivedEvent[] = [];
  const seen = new Set<string>();
  const receive = eventReceiver(options.secret ?? DEV_EVENTS_SECRET, () => {}, seen);
  const server = await serveEvents(options.port ?? 0, async (rawBody, headers) => {
    const id = headers["webhook-id"] ?? "";
    const duplicate = seen.has(id);
    const status = await receive(rawBody, headers);
    let payload: {
      type?: string;
      timestamp?: string;
      data?: { taskId?: string; archive?: { state?: string }; assets?: { url?: string | null }[] };
    } = {};
    try {
      payload = JSON.parse(rawBody);
    } catch {
      // Recorded as unverified below.
    }
    const event: ReceivedEvent = {
      id,
      type: payload.type ?? "?",
      taskId: payload.data?.taskId ?? "?",
      archive: payload.data?.archive?.state ?? "?",
      links: (payload.data?.assets ?? []).flatMap((asset) => (asset.url ? [asset.url] : [])),
      verified: status !== 401,
      duplicate,
      status,
      at: Date.now(),
      settledAt: payload.timestamp ? Date.parse(payload.timestamp) : Number.NaN,
    };
    received.push(event);
    options.onEvent?.(event);
    return status;
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * `npm run simulate`'s events view: listens on `port`, prints each event as it arrives and
 * verifies, and says how to turn events on when the receiver has them off. Null when the port
 * is taken (the simulation runs without it).
 */
export async function watchSimulatorEvents(
  receiverUrl: string,
  port: number,
  print: (line: string) => void,
): Promise<{ summary(taskIds: string[], waitMs: number): Promise<string>; close(): Promise<void> } | null> {
  let endpoint: EventsEndpoint;
  try {
    endpoint = await startEventsEndpoint({
      port,
      onEvent: (event) =>
        print(
          `  EVENT ${event.type.padEnd(13)} ${event.taskId} ${event.id.slice(0, 12)}… → ${event.status}, ` +
            `${event.verified ? "verified (standardwebhooks)" : "SIGNATURE NOT VERIFIED"}` +
            `${event.duplicate ? ", a redelivery (handled once)" : ""}`,
        ),
    });
  } catch (error) {
    print(`events: cannot listen on 127.0.0.1:${port} (${(error as Error).message}); not watching events`);
    return null;
  }
  const health = (await fetch(`${receiverUrl}/healthz`)
    .then((response) => response.json())
    .catch(() => ({}))) as { events?: string };
  const on = health.events === "on";
  print(
    on
      ? `events   ${endpoint.url} (verifying each with the development secret)`
      : `events   off in this receiver. To watch them arrive here, start it with:\n` +
          // One flag a line: together they are wider than a 120-column terminal.
          `         npm run dev -- ${devEventsFlags(port).replace(" --var EVENTS_SECRET", " \\\n           --var EVENTS_SECRET")}`,
  );
  return {
    async summary(taskIds, waitMs) {
      if (!on) return "";
      const deadline = Date.now() + waitMs;
      const missing = () => taskIds.filter((id) => !endpoint.received.some((event) => event.taskId === id));
      while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const verified = endpoint.received.filter((event) => event.verified).length;
      const late = missing();
      return (
        `Events: ${endpoint.received.length} received, ${verified} verified` +
        (late.length > 0
          ? `; none yet for:\n${late.map((id) => `  ${id}`).join("\n")}`
          : "; one for every task") +
        "\n"
      );
    },
    close: () => endpoint.close(),
  };
}
