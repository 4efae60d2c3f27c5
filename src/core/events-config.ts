import { fromBase64 } from "./crypto";

/**
 * The outbound events settings (`EVENTS_URL`, `EVENTS_SECRET`, `PUBLIC_URL`), checked together
 * because they depend on each other and on `LOCAL_DEV`. Nothing here ever names a value.
 *
 * - `off`: no `EVENTS_URL`. No event is recorded.
 * - `on`: an https `EVENTS_URL` (plain http to 127.0.0.1/localhost with `LOCAL_DEV=true`) and at
 *   least one well-formed `whsec_` secret.
 * - `misconfigured`: an `EVENTS_URL` is given, but it or the secret is unusable. Events are still
 *   recorded (a settled task is never silently forgotten), but none is sent unsigned or to a
 *   refused URL: each ends `failed` with `events_not_configured` until the settings are fixed and
 *   the event is redelivered. A malformed `EVENTS_URL` is also a config problem (`/healthz` 503,
 *   like every malformed setting); a missing or malformed secret is only a warning, because the
 *   receiver itself (callbacks, archive) works without it.
 */
export type EventsState = "on" | "off" | "misconfigured";

export interface EventsConfig {
  state: EventsState;
  /** The endpoint, when `state` is `on`. */
  url: string | null;
  /** HMAC keys (the bytes after `whsec_`), in the order given; each signs every attempt. */
  keys: Uint8Array[];
  /** Why events are not sent (naming the setting), when `misconfigured`. */
  reason: string | null;
}

export interface EventsSettings {
  events: EventsConfig;
  /** The Worker's public origin for absolute links, without a trailing slash; null: unset. */
  publicUrl: string | null;
  /** Malformed settings: they stop the receiver like any other problem. */
  problems: string[];
  /** Settings that keep events from being sent, but not the receiver from working. */
  warnings: string[];
}

/** Standard Webhooks: a symmetric secret is 24 to 64 random bytes, base64 behind `whsec_`. */
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Null when `raw` is an acceptable endpoint, else what is wrong with it (never the value). */
function endpointProblem(raw: string, localDev: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an https URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && localDev && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return localDev
    ? "must be an https URL (plain http only to 127.0.0.1 or localhost)"
    : "must be an https URL";
}

/** The HMAC key of one `whsec_<base64>` secret, or null when it is not one. */
export function parseEventsSecret(secret: string): Uint8Array | null {
  if (!secret.startsWith("whsec_")) return null;
  const key = fromBase64(secret.slice("whsec_".length));
  if (!key || key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) return null;
  return key;
}

export function eventsSettings(input: {
  eventsUrl: string | null;
  eventsSecret: string | null;
  publicUrl: string | null;
  localDev: boolean;
}): EventsSettings {
  const problems: string[] = [];
  const warnings: string[] = [];

  let publicUrl: string | null = null;
  if (input.publicUrl) {
    try {
      const url = new URL(input.publicUrl);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
      publicUrl = `${url.origin}${url.pathname}`.replace(/\/+$/, "");
    } catch {
      problems.push("PUBLIC_URL must be an http(s) URL");
    }
  }

  if (!input.eventsUrl) {
    return { events: { state: "off", url: null, keys: [], reason: null }, publicUrl, problems, warnings };
  }
  const misconfigured = (reason: string): EventsSettings => ({
    events: { state: "misconfigured", url: null, keys: [], reason },
    publicUrl,
    problems,
    warnings,
  });

  const urlProblem = endpointProblem(input.eventsUrl, input.localDev);
  if (urlProblem) {
    problems.push(`EVENTS_URL ${urlProblem}`);
    return misconfigured(`EVENTS_URL ${urlProblem}`);
  }
  const secrets = (input.eventsSecret ?? "")
    .split(",")
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);
  if (secrets.length === 0) {
    const reason = "EVENTS_SECRET is not set: events are recorded but never sent unsigned";
    warnings.push(reason);
    return misconfigured(reason);
  }
  const keys = secrets.map(parseEventsSecret);
  const bad = keys.indexOf(null);
  if (bad >= 0) {
    const reason =
      `EVENTS_SECRET ${secrets.length > 1 ? `(secret ${bad + 1} of ${secrets.length}) ` : ""}` +
      `must be whsec_ followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes`;
    warnings.push(reason);
    return misconfigured(reason);
  }
  return {
    events: { state: "on", url: input.eventsUrl, keys: keys as Uint8Array[], reason: null },
    publicUrl,
    problems,
    warnings,
  };
}
