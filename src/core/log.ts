import { scrubCredentials } from "./redact";

/**
 * The one structured logger: one JSON line per event, `{level, event, ...fields}`, which Workers
 * Logs indexes field by field. Fields whose name suggests a secret are never written, whatever
 * a caller passes; URLs are logged without their query string (signed links live there), and
 * no text is logged with the `user:pass@` of a URL in it.
 */

type Level = "info" | "warn" | "error";

const SECRET_FIELD = /token|secret|signature|authorization|password|hmac|sig$/i;

function clean(name: string, value: unknown): unknown {
  if (SECRET_FIELD.test(name)) return "[redacted]";
  if (value instanceof Error) return scrubCredentials(value.message);
  if (typeof value === "string" && /^https?:\/\//i.test(value))
    return scrubCredentials(value.replace(/[?#].*$/, ""));
  if (typeof value === "string") return scrubCredentials(value);
  if (Array.isArray(value))
    return value.map((item) => (typeof item === "string" ? scrubCredentials(item) : item));
  return value;
}

function write(level: Level, event: string, fields: Record<string, unknown>): void {
  const line: Record<string, unknown> = { level, event };
  for (const [name, value] of Object.entries(fields)) line[name] = clean(name, value);
  const text = JSON.stringify(line);
  if (level === "error") console.error(text);
  else if (level === "warn") console.warn(text);
  else console.log(text);
}

export const log = {
  info: (event: string, fields: Record<string, unknown> = {}) => write("info", event, fields),
  warn: (event: string, fields: Record<string, unknown> = {}) => write("warn", event, fields),
  error: (event: string, fields: Record<string, unknown> = {}) => write("error", event, fields),
};
