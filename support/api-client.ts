// The typed client of the Worker's API: openapi-fetch over the types that openapi-typescript
// generated from the committed openapi.json (support/api-types.d.ts), so every path, parameter,
// body and answer is checked by `tsc` against the document the Worker serves. Used by the
// simulator and the end-to-end test (through support/client.ts) and the benchmarks.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./api-types";

export type { components, paths };
export type Schemas = components["schemas"];
export type TaskStatus = Schemas["TaskStatus"];
export type TaskSummary = Schemas["TaskSummary"];
export type TaskList = Schemas["TaskList"];
export type Callback = Schemas["Callback"];
export type ApiClient = Client<paths>;

export interface ApiClientOptions {
  /** Base URL of the Worker, e.g. http://127.0.0.1:8787. */
  baseUrl: string;
  /** API_TOKEN: sent as `Authorization: Bearer …` to the bearer routes (/tasks, /media). */
  apiToken?: string;
  /** One of CALLBACK_TOKENS: added as `?token=` to /callbacks requests. */
  callbackToken?: string;
  /** Per-request timeout (default 15 s, the providers' own limit). */
  timeoutMs?: number;
  /** Default: the global fetch. Tests inside workerd pass the Worker's own fetch handler. */
  fetch?: (request: Request) => Response | Promise<Response>;
}

/** A client for one Worker; credentials go where the document's security schemes say. */
export function apiClient(options: ApiClientOptions): ApiClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: async (request) =>
      (options.fetch ?? fetch)(
        new Request(request, { signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]) }),
      ),
  });
  const credentials: Middleware = {
    async onRequest({ request, schemaPath }) {
      if (schemaPath.startsWith("/callbacks")) {
        if (!options.callbackToken) return request;
        const url = new URL(request.url);
        url.searchParams.set("token", options.callbackToken);
        const { method, headers } = request;
        return new Request(url, { method, headers, body: await request.arrayBuffer() });
      }
      const bearerRoute = ["/tasks", "/media", "/provider"].some((prefix) => schemaPath.startsWith(prefix));
      if (options.apiToken && bearerRoute) {
        request.headers.set("authorization", `Bearer ${options.apiToken}`);
      }
      return request;
    },
  };
  client.use(credentials);
  return client;
}
