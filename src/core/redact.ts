/** A URL as it may be shown: never with the `user:pass@` a provider (or a forger) put in it. */
export function withoutCredentials(raw: string): string {
  try {
    const url = new URL(raw);
    if (!url.username && !url.password) return raw;
    url.username = "";
    url.password = "";
    return url.href;
  } catch {
    return scrubCredentials(raw);
  }
}

const USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi;

/** Text (an error message, a log line) with the userinfo of every URL in it removed. */
export const scrubCredentials = (text: string) => text.replace(USERINFO, "$1");
