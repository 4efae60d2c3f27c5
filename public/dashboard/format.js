// @ts-check
// How numbers, times and states read on screen.

const UNITS = ["kB", "MB", "GB", "TB"];

/**
 * 1234567 → "1.2 MB" (decimal units, like file managers).
 * @param {number | null | undefined} bytes
 */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes;
  let unit = "B";
  for (const next of UNITS) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** @param {number} bytes */
export const exactBytes = (bytes) => `${bytes.toLocaleString("en")} bytes`;

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "narrow" });

/**
 * "12 s ago", "3 min ago", "yesterday"...
 * @param {string | null | undefined} iso
 * @param {number} [now]
 */
export function ago(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (!Number.isFinite(seconds)) return "—";
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86_400), "day");
}

const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

/** @param {string | null | undefined} iso */
export const when = (iso) => (iso && Number.isFinite(Date.parse(iso)) ? absolute.format(new Date(iso)) : "—");

const short = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/**
 * "Nov 30, 11:59:26": compact, for the timeline.
 * @param {string} iso
 */
export const stamp = (iso) => (Number.isFinite(Date.parse(iso)) ? short.format(new Date(iso)) : "—");

/** @param {Date} date */
export const clockTime = (date) => clock.format(date);

/**
 * 198.44 → "3:18".
 * @param {number | null | undefined} seconds
 */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** @type {Record<string, string>} */
const LABELS = {
  awaiting_callback: "awaiting callback",
  in_progress: "in progress",
  succeeded: "succeeded",
  failed: "failed",
  none: "nothing to archive",
  archiving: "archiving",
  archived: "archived",
  queued: "queued",
  downloading: "downloading",
  stored: "stored",
  pending: "pending",
  delivered: "delivered",
};

/**
 * A state as words ("in_progress" → "in progress").
 * @param {string | null | undefined} state
 */
export const label = (state) => (state ? (LABELS[state] ?? state.replaceAll("_", " ")) : "—");

/**
 * The host of a source URL, for display only (never turned into a link).
 * @param {string | null | undefined} url
 */
export function hostOf(url) {
  if (!url) return "—";
  try {
    return new URL(url).host || "—";
  } catch {
    return "—";
  }
}
