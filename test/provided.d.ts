import "vitest";

declare module "vitest" {
  interface ProvidedContext {
    originUrl: string;
    originAltUrl: string;
  }
}
