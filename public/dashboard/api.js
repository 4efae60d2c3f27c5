// @ts-check
// The JSON API, called with the bearer token. The token lives in sessionStorage: this tab only,
// gone when it closes, never a cookie (so there is nothing a cross-site request could ride on).

const TOKEN_KEY = "stemvault.apiToken";

/** @returns {string | null} */
export const storedToken = () => sessionStorage.getItem(TOKEN_KEY);

/** @param {string} token */
export const storeToken = (token) => sessionStorage.setItem(TOKEN_KEY, token);

export const forgetToken = () => sessionStorage.removeItem(TOKEN_KEY);

/** An answer other than 2xx, with the contract's error code when the body had one. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The server could not be reached at all. */
export class NetworkError extends Error {
  name = "NetworkError";
}

/**
 * Calls the API. Rejects with ApiError (status and code from the contract's error JSON) or
 * NetworkError; resolves with the parsed body.
 * @param {string} method
 * @param {string} path a path on this origin, e.g. "/tasks?limit=50"
 * @param {{ token?: string | null, signal?: AbortSignal }} [options]
 * @returns {Promise<any>}
 */
export async function call(method, path, options = {}) {
  const token = options.token === undefined ? storedToken() : options.token;
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: token ? { authorization: `Bearer ${token}`, accept: "application/json" } : {},
      credentials: "omit",
      cache: "no-store",
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new NetworkError("the Worker could not be reached");
  }
  const text = await response.text();
  /** @type {any} */
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: reported below by status.
  }
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : null;
    throw new ApiError(
      response.status,
      typeof error?.code === "string" ? error.code : `http_${response.status}`,
      typeof error?.message === "string" ? error.message : `${method} ${path} answered ${response.status}`,
    );
  }
  return body;
}

/**
 * @typedef {{ state: string, stored: number, failed?: number, total: number, bytes: number }} Archive
 * @typedef {{ taskId: string, kind: string, state: string, stage: string | null, archive: Archive,
 *   createdAt: string, updatedAt: string }} TaskSummary
 * @typedef {{ tasks: TaskSummary[], nextCursor: string | null }} TaskPage
 */

/**
 * `GET /tasks` with the list's filters (empty ones left out).
 * @param {Record<string, string>} query
 * @param {AbortSignal} [signal]
 * @returns {Promise<TaskPage>}
 */
export function listTasks(query, signal) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value) params.set(name, value);
  return call("GET", `/tasks?${params}`, { signal });
}

/** @param {string} taskId */
const taskPath = (taskId) => `/tasks/${encodeURIComponent(taskId)}`;

/**
 * @param {string} taskId
 * @param {AbortSignal} [signal]
 */
export const getTask = (taskId, signal) => call("GET", taskPath(taskId), { signal });

/** @param {string} taskId */
export const retryTask = (taskId) => call("POST", `${taskPath(taskId)}/retry`);

/** @param {string} taskId */
export const deleteTask = (taskId) => call("DELETE", taskPath(taskId));

/**
 * @param {string} taskId
 * @param {string} eventId
 */
export const redeliverEvent = (taskId, eventId) =>
  call("POST", `${taskPath(taskId)}/events/${encodeURIComponent(eventId)}/redeliver`);

/**
 * True when the API accepts the token (anything but 401; checked with the cheapest list call).
 * @param {string} token
 */
export async function checkToken(token) {
  try {
    await call("GET", "/tasks?limit=1", { token });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) return true;
    if (error instanceof ApiError) return false;
    throw error;
  }
}
