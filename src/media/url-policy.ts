import ipaddr from "ipaddr.js";
import { scrubCredentials } from "../core/redact";
import { PermanentError } from "./errors";

export interface UrlPolicy {
  /** Host suffixes: `api.box` allows `api.box` and `musicfile.api.box`, not `evilapi.box`. */
  mediaHosts: readonly string[];
  /** Local development: also plain http from 127.0.0.1 and localhost, any port. */
  localDev: boolean;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);

const isIpLiteral = (hostname: string) => hostname.startsWith("[") || ipaddr.isValid(hostname);

/**
 * Decides whether the consumer may fetch `raw`; throws a PermanentError saying why not. Applied
 * to the first URL and to every redirect hop: https only, no credentials, no IP literals, and
 * a host on the MEDIA_HOSTS suffix list.
 */
export function checkMediaUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PermanentError(`not a valid URL: ${scrubCredentials(raw.slice(0, 200))}`);
  }
  if (url.username || url.password) throw new PermanentError("URLs with credentials are not fetched");
  const host = url.hostname.toLowerCase();
  if (policy.localDev && LOCAL_HOSTS.has(host) && (url.protocol === "http:" || url.protocol === "https:")) {
    return url;
  }
  if (url.protocol !== "https:")
    throw new PermanentError(`only https media URLs are fetched, not ${url.protocol}`);
  if (isIpLiteral(host)) throw new PermanentError(`IP-literal host ${host} is not allowed`);
  const allowed = policy.mediaHosts.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
  if (!allowed) throw new PermanentError(`host ${host} is not in MEDIA_HOSTS`);
  return url;
}
