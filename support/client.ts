// The Worker's HTTP API as its users see it: callbacks with the URL token, the read API with the
// bearer token. One small client for the tests (inside workerd, through the Worker's own fetch
// handler), the simulator, the e2e test and the benchmarks. The API calls go through the client
// typed from the committed OpenAPI document (support/api-client.ts, `api`); `request` and
// `postCallback` stay raw on purpose, for media bytes and for the malformed or unsigned bodies a
// provider (or an attacker) may send. No Node imports.

import { type ApiClient, apiClient, type TaskStatus } from "./api-client.ts";
import { DEV_VARS } from "./dev-vars.ts";

export type { TaskStatus };

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8787 (no trailing slash). */
  url: string;
  callbackToken: string;
  apiToken: string;
  /** Default: the global fetch. Tests pass the Worker's fetch handler. */
  fetch?: (request: Request) => Response | Promise<Response>;
}

export interface CallbackOptions {
  /** `/callbacks/<kind>`; default `/callbacks`. */
  kind?: string;
  /** The `?token=`; `null` sends none; default the client's. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Send this text instead of JSON-encoding the body. */
  raw?: string;
}

/** An answer the caller did not expect. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const settled = (status: TaskStatus | null) =>
  status?.archive.state === "archived" || status?.archive.state === "failed";

export class Client {
  readonly url: string;
  readonly bearer: { authorization: string };
  /** The typed client: every path, parameter and answer checked against the OpenAPI document. */
  readonly api: ApiClient;
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
    this.url = options.url.replace(/\/+$/, "");
    this.bearer = { authorization: `Bearer ${options.apiToken}` };
    this.api = apiClient({
      baseUrl: this.url,
      apiToken: options.apiToken,
      callbackToken: options.callbackToken,
      timeoutMs: 60_000,
      fetch: options.fetch,
    });
  }

  /** A client of a `wrangler dev` started with the development settings (support/dev-vars.ts). */
  static dev(url: string): Client {
    return new Client({ url, callbackToken: DEV_VARS.CALLBACK_TOKENS, apiToken: DEV_VARS.API_TOKEN });
  }

  /** `path` (e.g. `/tasks/abc`) or a relative link of the API, made absolute. */
  link(path: string): string {
    return new URL(path, `${this.url}/`).href;
  }

  request(path: string, init: RequestInit = {}): Promise<Response> {
    return Promise.resolve((this.#options.fetch ?? fetch)(new Request(this.link(path), init)));
  }

  /** POSTs a callback as a provider does. */
  postCallback(body: unknown, options: CallbackOptions = {}): Promise<Response> {
    const token = options.token === undefined ? this.#options.callbackToken : options.token;
    const query = token === null ? "" : `?token=${encodeURIComponent(token)}`;
    return this.request(`/callbacks${options.kind ? `/${options.kind}` : ""}${query}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...options.headers },
      body: options.raw ?? JSON.stringify(body),
    });
  }

  /** `GET /tasks/:taskId`: the status JSON, or null for an unknown task; HttpError otherwise. */
  async status(taskId: string, { timeoutMs = 30_000 } = {}): Promise<TaskStatus | null> {
    const { data, error, response } = await this.api.GET("/tasks/{taskId}", {
      params: { path: { taskId } },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (data) return data;
    if (response.status === 404) return null;
    throw new HttpError(
      response.status,
      `GET /tasks/${taskId} answered ${response.status}: ${JSON.stringify(error)}`,
    );
  }

  /**
   * `GET /tasks/:taskId/bundle.zip` with the bearer (`partial`: the files stored so far): the
   * answer with its body unread, so a caller can stream it; HttpError unless 200.
   */
  async bundle(taskId: string, { partial = false } = {}): Promise<Response> {
    const { response } = await this.api.GET("/tasks/{taskId}/bundle.zip", {
      params: { path: { taskId }, query: partial ? { partial: "true" } : {} },
      parseAs: "stream",
    });
    if (response.status !== 200) {
      throw new HttpError(
        response.status,
        `GET /tasks/${taskId}/bundle.zip answered ${response.status}: ${await response.text()}`,
      );
    }
    return response;
  }

  /**
   * Polls the status every `intervalMs` until the archive is settled (`archived` or `failed`)
   * or `timeoutMs` passes. Also says when it was seen and the longest a status request took.
   */
  async waitSettled(taskId: string, { intervalMs = 100, timeoutMs = 120_000 } = {}) {
    const deadline = performance.now() + timeoutMs;
    let slowestPollMs = 0;
    for (;;) {
      const asked = performance.now();
      const status = await this.status(taskId, { timeoutMs: Math.ceil(Math.max(1000, deadline - asked)) });
      const at = performance.now();
      slowestPollMs = Math.max(slowestPollMs, at - asked);
      if (settled(status) || at >= deadline) return { status, at, settled: settled(status), slowestPollMs };
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  }

  /** `GET /healthz`: the source checks the Worker has configured. */
  async health(): Promise<{ ok: boolean; checks: string[] }> {
    const { data, response } = await this.api.GET("/healthz", { signal: AbortSignal.timeout(5000) });
    const body = data as { ok?: boolean; checks?: string[] } | undefined;
    if (response.status !== 200 || body?.ok !== true)
      throw new HttpError(response.status, `${this.url}/healthz answered ${response.status}`);
    return { ok: true, checks: body.checks ?? [] };
  }
}
