import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    originUrl: string;
    originAltUrl: string;
    /** A loopback URL nothing listens on (connection refused). */
    closedUrl: string;
  }
}
