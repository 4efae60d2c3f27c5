import { PermanentError, statusError, TransientError } from "./errors";
import { checkMediaUrl, type UrlPolicy } from "./url-policy";

/** One provider CDN (tempfile.aiquickdraw.com) answers 403 to non-browser agents. */
export const BROWSER_USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
export const MAX_REDIRECTS = 5;

export interface OpenedMedia {
  response: Response & { body: ReadableStream<Uint8Array> };
  /** The URL that finally answered 200, after redirects. */
  url: URL;
  /** The declared length, or null for a chunked body. */
  contentLength: number | null;
}

/**
 * GETs a media URL, following at most MAX_REDIRECTS redirects by hand so that every hop is
 * checked against the URL policy before it is requested. The timeout covers each request up to
 * its response headers; the body is streamed by the caller.
 */
export async function openMedia(raw: string, policy: UrlPolicy, timeoutMs: number): Promise<OpenedMedia> {
  let url = checkMediaUrl(raw, policy);
  for (let hop = 0; ; hop++) {
    const response = await fetchWithTimeout(url, timeoutMs);
    if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
      await response.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new PermanentError(`more than ${MAX_REDIRECTS} redirects`);
      url = checkMediaUrl(redirectTarget(response.headers.get("location") as string, url), policy);
      continue;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw statusError(response.status, url);
    }
    if (!response.body) throw new TransientError(`empty response from ${url.host}`);
    const declared = response.headers.get("content-length");
    const contentLength = declared !== null && /^\d+$/.test(declared) ? Number(declared) : null;
    return { response: response as OpenedMedia["response"], url, contentLength };
  }
}

/** A redirect's `Location`, resolved against the URL that sent it; unparseable is permanent. */
function redirectTarget(location: string, base: URL): string {
  try {
    return new URL(location, base).href;
  } catch {
    throw new PermanentError(`${base.host} redirected to an unparseable Location`);
  }
}

async function fetchWithTimeout(url: URL, timeoutMs: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await fetch(url, {
      redirect: "manual",
      signal: controller.signal,
      headers: { "user-agent": BROWSER_USER_AGENT, accept: "*/*" },
    });
  } catch (error) {
    if (controller.signal.aborted)
      throw new TransientError(`fetching ${url.host} failed: no response within ${timeoutMs} ms`);
    throw new TransientError(connectionFailure(url, error));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a fetch that failed before any response means. workerd says "Network connection lost"
 * (flagged `remote`) both when the connection is refused and when it is closed before an answer;
 * it cannot tell the two apart, so the message names both instead of suggesting a lost transfer.
 */
function connectionFailure(url: URL, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const beforeAnswer =
    (error as { remote?: unknown } | null)?.remote === true || /network connection lost/i.test(message);
  return beforeAnswer
    ? `could not connect to ${url.hostname}:${port}: connection refused, or closed before any response (${message})`
    : `fetching ${url.host} failed: ${message}`;
}
