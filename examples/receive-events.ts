// How a backend receives stemvault's events (EVENTS_URL): verify each delivery with the official
// Standard Webhooks library (npm install standardwebhooks), then handle each event once.
//
//   EVENTS_SECRET=whsec_... PORT=8790 node examples/receive-events.ts
//
// The test suite runs this file (test/events/example.test.ts, and the e2e test through
// support/events-endpoint.ts), so it stays true.

import { createServer, type Server } from "node:http";
import { pathToFileURL } from "node:url";
import { Webhook } from "standardwebhooks";

export interface StemvaultEvent {
  type: "task.archived" | "task.failed";
  /** When the task settled. */
  timestamp: string;
  /** The task's status JSON (GET /tasks/:taskId); every stored asset's `url` is an absolute, signed link. */
  data: {
    taskId: string;
    kind: "music" | "separation" | "video";
    state: string;
    archive: { state: string; stored: number; failed: number; total: number; bytes: number };
    assets: {
      name: string;
      state: string;
      sha256: string | null;
      url: string | null;
      error: string | null;
    }[];
  };
}

/**
 * Returns a function that takes one delivery (the raw body and the request's headers, names in
 * lower case) and gives the HTTP status to answer: 2xx stops stemvault's retries, anything else
 * makes it try again later (for about 28 hours). `seen` remembers handled `webhook-id`s; in
 * production, keep them in your database (a unique column), next to what `handle` writes.
 */
export function eventReceiver(
  secret: string,
  handle: (event: StemvaultEvent) => Promise<void> | void,
  seen: Set<string> = new Set(),
) {
  const webhook = new Webhook(secret);
  return async (rawBody: string, headers: Record<string, string>): Promise<number> => {
    let event: StemvaultEvent;
    try {
      // The raw body as received: parsing and re-serialising it would break the signature.
      event = webhook.verify(rawBody, headers) as StemvaultEvent;
    } catch {
      return 401; // not signed by stemvault with this secret, altered, or older than 5 minutes
    }
    const id = headers["webhook-id"] as string; // the same on every retry and redelivery
    if (seen.has(id)) return 200; // handled before: acknowledge, do nothing
    await handle(event);
    seen.add(id);
    return 200;
  };
}

/** A plain node:http server in front of `eventReceiver` (any framework works the same way). */
export function serveEvents(
  port: number,
  receive: (rawBody: string, headers: Record<string, string>) => Promise<number>,
): Promise<Server> {
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string",
      ),
    );
    const status =
      request.method === "POST" ? await receive(Buffer.concat(chunks).toString("utf8"), headers) : 405;
    response.writeHead(status).end();
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  const secret = process.env.EVENTS_SECRET;
  if (!secret) throw new Error("set EVENTS_SECRET to the whsec_... secret stemvault signs with");
  const port = Number(process.env.PORT ?? 8790);
  await serveEvents(
    port,
    eventReceiver(secret, (event) => {
      const links = event.data.assets.filter((asset) => asset.url).length;
      console.log(`${event.type} ${event.data.taskId}: archive ${event.data.archive.state}, ${links} links`);
    }),
  );
  console.log(`receiving stemvault events on http://127.0.0.1:${port}/events`);
}
