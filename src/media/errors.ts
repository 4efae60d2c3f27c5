/** Worth trying again later: network errors, timeouts, 408/425/429/5xx, short or empty bodies. */
export class TransientError extends Error {
  override name = "TransientError";
}

/** Trying again cannot help: other 4xx (expired links), a disallowed URL, a file too large. */
export class PermanentError extends Error {
  override name = "PermanentError";
}

const TRANSIENT_STATUS = new Set([408, 425, 429]);

/** Classifies a non-2xx, non-redirect response status. */
export function statusError(status: number, url: URL): TransientError | PermanentError {
  const message = `HTTP ${status} from ${url.host}`;
  return status >= 500 || TRANSIENT_STATUS.has(status)
    ? new TransientError(message)
    : new PermanentError(message);
}

/**
 * The download's lease was taken by another claim (ours expired): stop at once and store
 * nothing; the other claim owns the asset now.
 */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}
