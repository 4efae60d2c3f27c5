import { readLimitedText } from "../core/limited-text";
import { log } from "../core/log";

/** What the provider's submit endpoint did with a forwarded request. */
export type ProviderOutcome =
  | {
      outcome: "answered";
      status: number;
      /** The headers passed on: its Content-Type and, on a refusal, Retry-After. */
      headers: Record<string, string>;
      body: string;
      /** The body as JSON, or undefined when it is not JSON. */
      json: unknown;
    }
  | { outcome: "timeout" }
  | { outcome: "unreachable"; message: string };

/** A provider's submit answer is a small envelope; a larger one is cut off, not buffered. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const KEPT_HEADERS = ["content-type", "retry-after"];

/**
 * POSTs `body` to the provider (`base` + `path`) with its API key, and waits at most
 * `timeoutMs` for the whole answer. A connection that cannot be made is `unreachable`; no
 * answer in time is `timeout` (the job may or may not have started: nobody can know).
 */
export async function forwardToProvider(options: {
  base: string;
  path: string;
  apiKey: string;
  body: string;
  timeoutMs: number;
}): Promise<ProviderOutcome> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(`${options.base}${options.path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        "content-type": "application/json",
        accept: "application/json",
      },
      body: options.body,
      signal,
    });
    const { text: body } = await readLimitedText(response.body, MAX_ANSWER_BYTES);
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { outcome: "answered", status: response.status, headers, body, json };
  } catch (error) {
    if (signal.aborted) return { outcome: "timeout" };
    log.warn("provider_unreachable", { path: options.path, error });
    return { outcome: "unreachable", message: error instanceof Error ? error.message : String(error) };
  }
}
